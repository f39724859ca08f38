"""Calls from one service to another: retries on connection errors and 5xx with
backoff and jitter, 4xx handed back to the caller at once, short timeouts."""
from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

DEFAULT_TIMEOUT = (2.0, 10.0)  # connect, read


class ServiceSession(requests.Session):
    """A ``requests.Session`` whose calls time out and retry what is worth retrying."""

    def __init__(self, retries: int = 3, timeout: tuple[float, float] = DEFAULT_TIMEOUT):
        super().__init__()
        self.timeout = timeout
        retry = Retry(
            total=retries, connect=retries, read=1, status=retries,
            backoff_factor=0.1, backoff_jitter=0.1, backoff_max=2.0,
            status_forcelist=(502, 503, 504),
            allowed_methods=frozenset({"GET", "HEAD", "PUT", "DELETE", "OPTIONS"}),
            raise_on_status=False, respect_retry_after_header=False,
        )
        adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=32)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method, url, **kwargs):  # type: ignore[override]
        kwargs.setdefault("timeout", self.timeout)
        return super().request(method, url, **kwargs)

"""A small client of configurable-http-proxy's REST API: this node's routing table.

Each running server has one route, ``/n/<node>/u/<user key>``, whose target
is the server's Unix socket (``http+unix://`` and the socket path, quoted).
CHP keeps the time of each route's last traffic, which is what culling reads.

Calls retry connection errors and 5xx answers with growing, jittered delays
and re-raise 4xx at once; the route writes are idempotent, so retrying them
is safe.  Deleting a route that is already gone is success.
"""
from __future__ import annotations

import datetime
import logging
import threading
import time
import urllib.parse
from typing import Any

import requests

from capytale.messaging.reconnect import backoff_delays

log = logging.getLogger("capytale.spawner.proxy")

TIMEOUT = (2.0, 10.0)  # connect, read
ATTEMPTS = 5


class ProxyError(Exception):
    """CHP refused a call (4xx), or could not be reached after every retry."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def route_prefix(node: int) -> str:
    """The path under which every route of ``node`` lives (routes are ``<prefix><user key>``)."""
    return f"/n/{node}/u/"


def route_path(node: int, user_key: str) -> str:
    return f"{route_prefix(node)}{user_key}"


def socket_target(socket_path: str) -> str:
    """CHP's target for a server listening on a Unix socket."""
    return "http+unix://" + urllib.parse.quote(str(socket_path), safe="")


class ChpClient:
    """Routes of one CHP, through its API at ``api_url`` with ``token``."""

    def __init__(self, api_url: str, token: str, attempts: int = ATTEMPTS):
        self.api_url = api_url.rstrip("/")
        self.attempts = attempts
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"token {token}"
        self._lock = threading.Lock()  # a requests.Session is not thread-safe; calls are short

    def routes(self, inactive_since: datetime.datetime | None = None) -> dict[str, dict[str, Any]]:
        """Every route (path → its data: target, last_activity…), or those idle since ``inactive_since``."""
        params = {}
        if inactive_since is not None:
            params["inactive_since"] = inactive_since.astimezone(datetime.timezone.utc).isoformat()
        return self._call("GET", "/api/routes", params=params).json()

    def add_route(self, path: str, target: str, **data: Any) -> None:
        """Create or replace the route at ``path``."""
        self._call("POST", f"/api/routes{path}", json={"target": target, **data})

    def delete_route(self, path: str) -> None:
        """Remove the route at ``path``; a route already gone is fine."""
        self._call("DELETE", f"/api/routes{path}", missing_ok=True)

    def close(self) -> None:
        with self._lock:
            self._session.close()

    def _call(self, method: str, path: str, missing_ok: bool = False, **kwargs: Any) -> requests.Response:
        delays = backoff_delays(first=0.1, limit=2.0)
        url = self.api_url + path
        for attempt in range(1, self.attempts + 1):
            try:
                with self._lock:
                    response = self._session.request(method, url, timeout=TIMEOUT, **kwargs)
            except requests.RequestException as exc:
                problem = f"{type(exc).__name__}: {exc}"
            else:
                if response.status_code == 404 and missing_ok:
                    return response
                if response.status_code < 400:
                    return response
                if response.status_code < 500:
                    raise ProxyError(f"CHP refused {method} {path}: {response.status_code} {response.text[:200]}",
                                     response.status_code)
                problem = f"{response.status_code} {response.text[:200]}"
            if attempt < self.attempts:
                log.warning("CHP %s %s failed (%s); retrying", method, path, problem)
                time.sleep(next(delays))
        raise ProxyError(f"CHP {method} {path} failed {self.attempts} times: {problem}")

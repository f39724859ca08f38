"""HTTP over a server's Unix socket: is the student's server answering yet?"""
from __future__ import annotations

import http.client
import socket
import time
from typing import Callable


class UnixHTTPConnection(http.client.HTTPConnection):
    """``http.client`` speaking to a Unix socket instead of a TCP port."""

    def __init__(self, socket_path: str, timeout: float):
        super().__init__("localhost", timeout=timeout)
        self.socket_path = socket_path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def get_status(socket_path: str, path: str, timeout: float = 2.0) -> int | None:
    """Status of ``GET path`` on the socket, or None when nothing answers."""
    connection = UnixHTTPConnection(socket_path, timeout)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        connection.close()


def wait_answering(socket_path: str, path: str, timeout: float, still_worth_waiting: Callable[[], bool],
                   interval: float = 0.02) -> bool:
    """Poll ``GET path`` until it answers 200 (True), ``timeout`` passes or waiting is pointless (False)."""
    deadline = time.monotonic() + timeout
    while True:
        if get_status(socket_path, path, timeout=min(2.0, timeout)) == 200:
            return True
        if time.monotonic() >= deadline or not still_worth_waiting():
            return False
        time.sleep(interval)

"""What every service that drives Docker containers needs (the docker backend, the grading runner)."""
from __future__ import annotations

import socket
from typing import Any

import docker.errors

DEFAULT_URL = "unix:///var/run/docker.sock"


def remove(container: Any) -> None:
    """Remove a container, forcefully; one already gone, or being removed, is success."""
    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # removal already in progress
            raise


def answers(url: str) -> bool:
    """Whether an engine answers ``GET /_ping`` at ``url``."""
    if url.startswith("unix://"):  # by hand: the SDK leaks the socket of a connection that fails
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(5)
                sock.connect(url[len("unix://"):])
                sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
                return sock.recv(64).split(b" ")[1:2] == [b"200"]
        except OSError:
            return False
    import docker

    client = docker.DockerClient(base_url=url, version="1.41", timeout=5)  # fixed version: no call before ping
    try:
        return bool(client.ping())
    except Exception:  # noqa: BLE001 - any failure means "not this one"
        return False
    finally:
        client.close()

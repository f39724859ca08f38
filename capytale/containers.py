"""What every service that drives Docker containers needs (the docker backend, the grading runner): the
confinement of a container that runs a student's code, from the ``DOCKER_*`` settings, and the engine."""
from __future__ import annotations

import socket
from dataclasses import dataclass
from typing import Any, Mapping

import docker.errors

from capytale.settings import SettingsError

DEFAULT_URL = "unix:///var/run/docker.sock"


@dataclass(frozen=True)
class Limits:
    """What one container of a student's code may use (their defaults: the ``DOCKER_*`` settings)."""

    memory_mb: int
    cpus: float
    pids: int
    tmp_mb: int

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> Limits:
        return cls(memory_mb=settings["DOCKER_MEMORY_MB"], cpus=settings["DOCKER_CPUS"],
                   pids=settings["DOCKER_PIDS"], tmp_mb=settings["DOCKER_TMP_MB"])


def student_user(raw: str) -> str:
    """``CAPYTALE_DOCKER_USER`` checked: ``uid:gid``, numbers, never root."""
    uid, _, gid = raw.partition(":")
    if not (uid.isdigit() and gid.isdigit()) or int(uid) == 0 or int(gid) == 0:
        raise SettingsError(f"CAPYTALE_DOCKER_USER: expected uid:gid of a user other than root, got {raw!r}")
    return raw


def confined(limits: Limits, user: str) -> dict[str, Any]:
    """The options of ``containers.run`` that confine a student's code, the same for their servers and
    for grading runs: their non-root user, a read-only root with a small ``/tmp`` in memory, every
    capability dropped, no new privileges, memory (without swap), CPU and process limits, no restart.
    The network is the caller's to say."""
    return dict(
        user=user, read_only=True, hostname="capytale",
        tmpfs={"/tmp": f"rw,nosuid,nodev,size={limits.tmp_mb}m,mode=1777"},
        mem_limit=f"{limits.memory_mb}m", memswap_limit=f"{limits.memory_mb}m",
        nano_cpus=int(limits.cpus * 1e9), pids_limit=limits.pids,
        cap_drop=["ALL"], security_opt=["no-new-privileges"], restart_policy={"Name": "no"},
    )


def labels(container: Any) -> dict[str, str]:
    """A container's labels, whether it was listed without inspection (``sparse``) or inspected."""
    if "Labels" in container.attrs:
        return container.attrs["Labels"] or {}
    return container.labels


def name(container: Any) -> str:
    """A container's name, whether it was listed without inspection (``sparse``) or inspected."""
    names = container.attrs.get("Names")
    return names[0].lstrip("/") if names else container.name


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

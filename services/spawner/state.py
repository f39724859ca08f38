"""The node's record of its servers: one JSON file per running server.

``<run root>/<node>/<user key>.json`` holds the server's :class:`ServerHandle`
and sits beside its socket ``<user key>.sock`` and its log ``<user key>.log``.
A file is written once the server is launched and removed once it is
stopped, so a new agent finds what the previous one left running.  Files are
written atomically (temporary file, then rename); a file that does not parse
is reported and skipped, never fatal.
"""
from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from capytale.files import replacing

log = logging.getLogger("capytale.spawner")

# Keys are opaque base32 strings (see docs/architecture.md); anything else never becomes a path.
USER_KEY = re.compile(r"[a-z0-9]{1,64}")
SUN_PATH_MAX = 107  # bytes a Unix socket path may hold on Linux, without the final NUL


@dataclass(frozen=True)
class ServerHandle:
    """One running server: whose, where it listens, and how to reach its process or container."""

    user_key: str
    socket_path: str
    started_at: float  # time.time() when the backend started it
    instance: str  # random id of this start: grants name it, so a restarted server refuses older ones
    pid: int | None = None  # process backend
    container_id: str | None = None  # container backends

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def ref(self) -> str:
        """How logs name the server: ``pid 4242`` or ``container 0123456789ab``."""
        return f"pid {self.pid}" if self.pid is not None else f"container {str(self.container_id)[:12]}"

    def same_server(self, other: "ServerHandle | None") -> bool:
        """Whether ``other`` names the same process or container (whatever else was recorded)."""
        return other is not None and (self.pid, self.container_id) == (other.pid, other.container_id)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> "ServerHandle":
        """Rebuild a handle from :meth:`to_json`; raises ``ValueError`` on anything else."""
        try:
            handle = cls(
                user_key=str(data["user_key"]),
                socket_path=str(data["socket_path"]),
                started_at=float(data["started_at"]),
                instance=str(data["instance"]),
                pid=None if data.get("pid") is None else int(data["pid"]),
                container_id=None if data.get("container_id") is None else str(data["container_id"]),
            )
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a server handle: {exc!r}") from None
        if handle.pid is None and handle.container_id is None:
            raise ValueError("a server handle needs a pid or a container id")
        return handle


class BadUserKey(ValueError):
    """A user key that is not the platform's opaque key format."""


def check_user_key(user_key: object) -> str:
    if not isinstance(user_key, str) or not USER_KEY.fullmatch(user_key):
        raise BadUserKey(f"not a user key: {user_key!r}")
    return user_key


def _unix_socket(path: Path) -> Path:
    """``path``, checked to fit a Unix socket's address."""
    if len(os.fsencode(path)) > SUN_PATH_MAX:
        raise ValueError(f"socket path too long for a Unix socket ({len(os.fsencode(path))} bytes): {path}")
    return path


class NodeDir:
    """The run folder of one node: sockets, state files, server logs, Jupyter runtime files."""

    def __init__(self, run_root: Path, node: int):
        self.path = (Path(run_root) / str(node)).resolve()

    def create(self) -> "NodeDir":
        self.path.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.revocations_dir().mkdir(exist_ok=True)
        os.chmod(self.revocations_dir(), 0o755)  # every server of the node reads it (a container as another uid)
        return self

    def socket_path(self, user_key: str, own_folder: bool = False) -> Path:
        """``<node>/<key>.sock``; with ``own_folder``, ``<node>/sockets/<key>/jupyter.sock`` (a folder a
        container gets mounted, holding nothing else)."""
        if own_folder:
            return _unix_socket(self.socket_dir(user_key) / "jupyter.sock")
        return _unix_socket(self.path / f"{check_user_key(user_key)}.sock")

    def socket_dir(self, user_key: str) -> Path:
        return self.path / "sockets" / check_user_key(user_key)

    def routed_socket(self, user_key: str) -> Path:
        """``<node>/routed/<key>.sock``: a second name of a container's socket, in a folder no
        container is given, that the node's proxy uses (:meth:`DockerBackend.publish_socket`)."""
        return self.path / "routed" / f"{check_user_key(user_key)}.sock"

    def state_path(self, user_key: str) -> Path:
        return self.path / f"{check_user_key(user_key)}.json"

    def log_path(self, user_key: str) -> Path:
        return self.path / f"{check_user_key(user_key)}.log"

    def revocations_dir(self) -> Path:
        """``<node>/revocations/``: the node's list of ended sessions, which every server reads (a container:
        read-only), and nothing else."""
        return self.path / "revocations"

    def kernel_zygote_socket(self) -> Path:
        """``<node>/kernel-zygote.sock``: where the node's servers ask for forked kernels (process backend)."""
        return _unix_socket(self.path / "kernel-zygote.sock")

    def kernel_zygote_home(self) -> Path:
        """``<node>/kernel-zygote/``: the kernels' zygote's HOME, empty (its imports find no student's files)."""
        return self.path / "kernel-zygote"

    def runtime_dir(self, user_key: str) -> Path:
        return self.path / "runtime" / check_user_key(user_key)

    # --- state files ---------------------------------------------------------------------

    def save(self, handle: ServerHandle) -> None:
        """Record ``handle`` (atomically: a reader sees the old file or the new one)."""
        with replacing(self.state_path(handle.user_key), text=True, mode=0o600) as file:
            json.dump(handle.to_json(), file)

    def load_all(self) -> list[ServerHandle]:
        """Every recorded server, in user-key order; unreadable files are logged and left alone."""
        stems = sorted(path.stem for path in self.path.glob("*.json") if USER_KEY.fullmatch(path.stem))
        return [handle for handle in map(self.load, stems) if handle is not None]

    def load(self, user_key: str) -> ServerHandle | None:
        """The recorded server of ``user_key``, or None (no file, or one that does not parse)."""
        path = self.state_path(user_key)
        try:
            handle = ServerHandle.from_json(json.loads(path.read_text(encoding="utf-8")))
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:  # json.JSONDecodeError is a ValueError
            log.warning("ignoring unreadable state file %s: %s", path, exc)
            return None
        if handle.user_key != user_key:
            log.warning("ignoring state file %s: it names %s", path, handle.user_key)
            return None
        return handle

    def forget(self, user_key: str) -> None:
        """Remove the state file, the socket (and its folder) and the runtime folder of ``user_key``;
        missing ones are fine."""
        shutil.rmtree(self.runtime_dir(user_key), ignore_errors=True)
        shutil.rmtree(self.socket_dir(user_key), ignore_errors=True)
        self.state_path(user_key).unlink(missing_ok=True)
        self.path.joinpath(f"{check_user_key(user_key)}.sock").unlink(missing_ok=True)
        self.routed_socket(user_key).unlink(missing_ok=True)

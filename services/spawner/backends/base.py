"""The contract every spawner backend answers: start, stop, is it alive, what runs.

A backend runs one Jupyter server per student, listening on a Unix socket, and
knows nothing of RabbitMQ, CHP or culling: :mod:`services.spawner.servers`
does that on top of it.  A backend overrides the five methods of
:class:`Backend`; the base raises :class:`NotImplementedError` for each, so a
forgotten method fails loudly instead of silently doing nothing.

What a backend returns is a :class:`ServerHandle`: enough to find the server
again after the agent restarts (it is saved as ``<run root>/<node>/<user
key>.json`` by :mod:`services.spawner.state`).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any


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


class Backend:
    """How a node runs its students' servers.  Subclasses override every method."""

    # Whether each server's socket sits in a folder of its own (<node>/sockets/<key>/), which a
    # container gets mounted; else the socket is <node>/<key>.sock.
    socket_folder: bool = False

    def start(self, user_key: str, root_dir: Path, socket_path: Path, base_url: str, instance: str,
              lab: bool = False) -> ServerHandle:
        """Start a server for ``user_key`` serving ``root_dir`` at ``base_url`` on ``socket_path``,
        accepting only grants that name ``instance``; with ``lab``, JupyterLab is loaded too
        (a teacher's own space), else only the backend's configured extensions.

        Returns as soon as the server is launched; the caller waits until the
        socket answers.  Raises on a server that could not be launched at all.
        """
        raise NotImplementedError

    def publish_socket(self, handle: ServerHandle) -> ServerHandle:
        """Once the server answers: the handle whose ``socket_path`` the node's proxy is to use.

        The socket the server made sits where its student's code can replace it (it runs as the
        same user); a backend that can give the proxy a path out of that code's reach does so here.
        By default, the server's own path."""
        return handle

    def stop(self, handle: ServerHandle, timeout: float) -> None:
        """Stop the server: ask politely, wait up to ``timeout`` seconds, then force.

        Stopping a server that is already gone is success.
        """
        raise NotImplementedError

    def is_alive(self, handle: ServerHandle) -> bool:
        """Whether the server of ``handle`` still runs (the same one, not a recycled pid)."""
        raise NotImplementedError

    def list_running(self) -> list[ServerHandle]:
        """The servers of this node that run now, whichever agent started them (adoption)."""
        raise NotImplementedError

    def memory_bytes(self, handles: list[ServerHandle]) -> int:
        """Memory held by these servers and everything they started (kernels), for the heartbeat."""
        raise NotImplementedError

    # Life of the backend itself (not of servers): optional hooks, nothing to do by default.

    def open(self) -> None:
        """Get ready to start servers quickly (helpers, connections); called once by the agent."""

    def close(self) -> None:
        """Release what :meth:`open` took; the servers keep running."""

    def prepare_workspace(self, root_dir: Path) -> None:
        """Make the workspace usable by the server, at every ensure (files the platform added since
        the server started among them); nothing to do when the server runs as the platform's user."""

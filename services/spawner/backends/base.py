"""The contract every spawner backend answers: start, stop, is it alive, what runs.

A backend runs one Jupyter server per student, listening on a Unix socket, and
knows nothing of RabbitMQ, CHP or culling: :mod:`services.spawner.servers`
does that on top of it.  A backend overrides the five methods of
:class:`Backend`; the base raises :class:`NotImplementedError` for each, so a
forgotten method fails loudly instead of silently doing nothing.

What a backend returns is a :class:`~services.spawner.state.ServerHandle`:
enough to find the server again after the agent restarts (the node's state
file of that student, :mod:`services.spawner.state`).
"""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from services.spawner.state import ServerHandle


class Backend:
    """How a node runs its students' servers.  Subclasses override every method."""

    def start(self, user_key: str, root_dir: Path, base_url: str, instance: str, lab: bool = False) -> ServerHandle:
        """Start a server for ``user_key`` serving ``root_dir`` at ``base_url``, accepting only grants
        that name ``instance``; with ``lab``, JupyterLab is loaded too (a teacher's own space), else
        only the backend's configured extensions.

        The backend chooses where the server listens (a Unix socket of the node's folder, a stale one
        removed first) and names it in the handle's ``socket_path``.  Returns as soon as the server is
        launched; the caller waits until that socket answers.  Raises on a server that could not be
        launched at all.
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

    def cpu_seconds(self, handle: ServerHandle) -> float | None:
        """CPU time the server has used so far (a start that uses CPU is progressing); None where the
        backend cannot tell cheaply."""
        return None

    # Life of the backend itself (not of servers): optional hooks, nothing to do by default.

    def open(self, busy: Callable[[], bool] | None = None) -> None:
        """Get ready to start servers quickly (helpers, connections, warm containers); called once by the
        agent. ``busy`` says whether the node is starting servers now: what a backend prepares in the
        background waits while it is."""

    def close(self) -> None:
        """Release what :meth:`open` took; the servers keep running."""

    def prepare_workspace(self, root_dir: Path) -> None:
        """Make the workspace usable by the server, at every ensure (files the platform added since
        the server started among them); nothing to do when the server runs as the platform's user."""

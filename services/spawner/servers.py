"""The servers of one node: start them, stop them, and keep CHP's routes matching them.

:class:`NodeServers` is what the agent's commands and loops act on.  It
records each server it starts (state file), waits for its socket to answer,
routes ``/n/<node>/u/<key>`` to it, and announces ``server.started`` /
``server.stopped``.  :meth:`NodeServers.reconcile` compares what runs (the
backend's :meth:`list_running`, the state files) with what it remembers and
with CHP's routes, and fixes every difference: adopt servers a previous agent
left, forget the dead, put back lost routes, remove routes to nothing.
Everything about one student happens under that student's lock.  Starts go
through the node's :class:`~services.spawner.admission.StartQueue`: at most
``SPAWN_PARALLEL`` at once, the others waiting their turn in arrival order.
"""
from __future__ import annotations

import datetime
import logging
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from capytale.errors import PlatformError
from services.spawner import culling, unixhttp
from services.spawner.admission import START_FAILED, StartQueue, StartWatch
from services.spawner.backends.base import Backend
from services.spawner.locks import KeyedLocks
from services.spawner.proxy import ChpClient, ProxyError, route_path, route_prefix, socket_target
from services.spawner.state import NodeDir, ServerHandle, check_user_key

log = logging.getLogger("capytale.spawner")

Publish = Callable[[str, dict[str, Any]], None]
STOP_ALL_THREADS = 16  # servers stopped at once when the node shuts down with its servers


@dataclass(frozen=True)
class Ensured:
    """What ``server.ensure`` found: the running server (``started`` when this call's ticket started it),
    or no server yet and the start's ``state`` (queued, starting) with its place in the queue."""

    handle: ServerHandle | None
    started: bool = False
    state: str = "running"
    position: int = 0
    queued: int = 0


class NodeServers:
    def __init__(self, node: int, node_dir: NodeDir, data_root: Path, backend: Backend, proxy: ChpClient,
                 publish: Publish, spawn_timeout: float, parallel: int, stop_timeout: float = 10.0):
        self.node = node
        self.node_dir = node_dir
        self.data_root = Path(data_root).resolve()
        self.backend = backend
        self.proxy = proxy
        self.publish = publish
        self.spawn_timeout = spawn_timeout
        self.stop_timeout = stop_timeout
        self._handles: dict[str, ServerHandle] = {}
        self._handles_lock = threading.Lock()
        self._locks = KeyedLocks()
        self.starts = StartQueue(self._start_when_needed, parallel, name=f"start-n{node}")

    def base_url(self, user_key: str) -> str:
        return f"{route_prefix(self.node)}{user_key}/"

    def workspace(self, user_key: str) -> Path:
        """The student's root_dir: ``<data root>/users/<key>/`` (made when missing)."""
        root_dir = self.data_root / "users" / user_key
        root_dir.mkdir(parents=True, exist_ok=True)
        return root_dir

    def starting(self) -> bool:
        """Whether a start waits or runs now (what a backend warms in the background waits meanwhile)."""
        counts = self.starts.counts()
        return counts["queued"] + counts["starting"] > 0

    def handles(self) -> list[ServerHandle]:
        with self._handles_lock:
            return sorted(self._handles.values(), key=lambda handle: handle.user_key)

    # --- commands --------------------------------------------------------------------------

    def ensure(self, user_key: str, lab: bool = False, wait: float | None = None) -> Ensured:
        """The student's running server, started if needed (with JupyterLab when ``lab``).

        A start waits its turn in the node's queue; this call waits for it at most ``wait`` seconds
        (None: until it is done) and otherwise says where it is.  A start that failed twice raises
        its :class:`PlatformError` to the poll after it.  A running server is kept as it is, whatever
        ``lab`` says: a teacher always asks with ``lab``, a student never does."""
        check_user_key(user_key)
        handle = self._running(user_key)
        if handle is not None:
            return Ensured(handle)
        ticket = self.starts.submit(user_key, lab)
        if not self.starts.wait(ticket, wait):
            counts = self.starts.counts()
            return Ensured(None, state=ticket.state, position=self.starts.position(ticket), queued=counts["queued"])
        first = self.starts.collect(ticket)
        if ticket.error is not None:
            raise ticket.error
        handle = self._get(user_key)
        if handle is None:  # stopped again between its start and this answer
            raise PlatformError(START_FAILED, reason="spawn_failed", status=503,
                                log_message=f"server of {user_key} stopped right after its start")
        return Ensured(handle, started=first)

    def _running(self, user_key: str) -> ServerHandle | None:
        """The student's live server (its route put back), or None; what a dead one left is cleared."""
        with self._locks.hold(user_key):
            self.backend.prepare_workspace(self.workspace(user_key))
            handle = self._live(user_key)
            if handle is not None:
                self._route(handle)  # idempotent: puts back a route CHP lost
            return handle

    def _start_when_needed(self, user_key: str, lab: bool) -> None:
        """The queue's turn for ``user_key``: start the server unless one runs by now."""
        with self._locks.hold(user_key):
            if self._live(user_key) is None:
                self._start(user_key, lab)

    def _live(self, user_key: str) -> ServerHandle | None:
        """Under the student's lock: their server if it runs; a dead one's leftovers are cleared first."""
        handle = self._get(user_key)
        if handle is None or self.backend.is_alive(handle):
            return handle
        log.warning("server %s of %s died: starting it again", handle.ref, user_key)
        self.backend.stop(handle, self.stop_timeout)  # what a dead server left (its container)
        self._drop(user_key, announce="died")
        return None

    def stop(self, user_key: str, reason: str) -> bool:
        """Stop the student's server: route first (no new traffic), then the process.  Whether one ran.
        A CHP that cannot be reached does not keep the server running: the reconcile removes its route
        to nothing later."""
        check_user_key(user_key)
        self.starts.cancel(user_key)
        with self._locks.hold(user_key):
            try:
                self.proxy.delete_route(route_path(self.node, user_key))
            except ProxyError as exc:
                log.warning("route of %s not deleted before its stop (%s)", user_key, exc)
            handle = self._get(user_key)
            if handle is None:
                return False
            self.backend.stop(handle, self.stop_timeout)
            self._drop(user_key, announce=reason)
            log.info("stopped server %s of %s (%s)", handle.ref, user_key, reason)
            return True

    def close(self) -> None:
        """Stop taking starts (those waiting are dropped; the servers keep running)."""
        self.starts.close()

    def stop_all(self, reason: str) -> None:
        """Stop every server, all at once: a node's shutdown takes one server's stop, not the sum."""
        handles = self.handles()
        if handles:
            with ThreadPoolExecutor(max_workers=min(len(handles), STOP_ALL_THREADS), thread_name_prefix="stop") as pool:
                list(pool.map(lambda handle: self.stop(handle.user_key, reason), handles))

    def status(self) -> list[dict[str, Any]]:
        return [{"user_key": h.user_key, "pid": h.pid, "container_id": h.container_id, "started_at": h.started_at}
                for h in self.handles()]

    # --- loops -----------------------------------------------------------------------------

    def reconcile(self) -> None:
        """Make memory, state files and CHP's routes match the servers that actually run."""
        running = {handle.user_key: handle for handle in self.backend.list_running()}
        recorded = {handle.user_key for handle in self.node_dir.load_all()}
        for user_key in sorted(set(running) | recorded | {h.user_key for h in self.handles()}):
            with self._locks.try_hold(user_key) as free:
                if free:  # a busy student is being started or stopped right now: next pass
                    self._reconcile_server(user_key, running.get(user_key))
        self._reconcile_routes()

    def cull(self, idle_seconds: float) -> list[str]:
        """Stop the servers whose route saw no traffic for ``idle_seconds``; their user keys."""
        now = datetime.datetime.now(datetime.timezone.utc)
        idle = datetime.timedelta(seconds=idle_seconds)
        idle_keys = culling.idle_servers(self.proxy.routes(inactive_since=now - idle), self.node, now, idle)
        return [user_key for user_key in idle_keys if self.stop(user_key, "cull")]

    def active(self, window_seconds: float) -> list[str]:
        """User keys whose server saw traffic in the last ``window_seconds`` (see :func:`culling.active_servers`)."""
        now = datetime.datetime.now(datetime.timezone.utc)
        return culling.active_servers(self.proxy.routes(), self.node, now, datetime.timedelta(seconds=window_seconds))

    def memory_bytes(self) -> int:
        """Memory held by the servers and everything they started (kernels), as the backend counts it."""
        return self.backend.memory_bytes(self.handles())

    # --- one student ---------------------------------------------------------------------------

    def _start(self, user_key: str, lab: bool) -> ServerHandle:
        root_dir = self.workspace(user_key)
        began = time.monotonic()
        handle = self.backend.start(user_key, root_dir, self.base_url(user_key), instance=secrets.token_urlsafe(12),
                                    lab=lab)
        self.node_dir.save(handle)
        with self._handles_lock:
            self._handles[user_key] = handle
        watch = StartWatch(self.spawn_timeout, alive=lambda: self.backend.is_alive(handle),
                           cpu_seconds=lambda: self.backend.cpu_seconds(handle))
        answered = unixhttp.wait_answering(handle.socket_path, self.base_url(user_key) + "api", watch.hard_limit,
                                           still_worth_waiting=watch.worth_waiting)
        if not answered:
            what = (f"did not answer (no progress for {watch.stalled_for():.0f} s)" if self.backend.is_alive(handle)
                    else "exited before answering")
            self.backend.stop(handle, self.stop_timeout)
            self._drop(user_key)
            raise PlatformError(START_FAILED, reason="spawn_failed", status=503,
                                log_message=f"server of {user_key} {what}; see {self.node_dir.log_path(user_key)}")
        handle = self.backend.publish_socket(handle)
        self.node_dir.save(handle)
        with self._handles_lock:
            self._handles[user_key] = handle
        self._route(handle)
        log.info("started server %s for %s in %.2fs", handle.ref, user_key, time.monotonic() - began)
        self.publish("server.started", {"node": self.node, "user_key": user_key, "reason": "ensure"})
        return handle

    def _reconcile_server(self, user_key: str, running: ServerHandle | None) -> None:
        """One student's server: keep it, adopt it, or stop and forget it.

        A running server is adopted only when its state file names it (this agent, or a previous
        one, started it); any other is an orphan (a start whose agent died before recording it,
        a state file lost) and is stopped.  A dead server is stopped too (the backend removes
        what it left, a container) before it is forgotten.
        """
        known = self._get(user_key)
        if known is not None and self.backend.is_alive(known):
            if running is not None and not running.same_server(known):
                log.warning("server %s of %s is not the one this node runs: stopping it", running.ref, user_key)
                self.backend.stop(running, self.stop_timeout)
            return
        recorded = self.node_dir.load(user_key)
        if running is not None and not running.same_server(recorded):
            log.warning("server %s of %s belongs to no recorded start (orphan): stopping it", running.ref, user_key)
            self.backend.stop(running, self.stop_timeout)
            running = None
        if running is not None and self._answers(running):
            running = self.backend.publish_socket(running)  # a start whose agent died before it
            self.node_dir.save(running)
            with self._handles_lock:
                self._handles[user_key] = running
            log.info("adopted server %s of %s", running.ref, user_key)
            return
        if running is not None:
            log.warning("server %s of %s runs but does not answer: stopping it", running.ref, user_key)
            self.backend.stop(running, self.stop_timeout)
        for dead in {h.ref: h for h in (known, recorded) if h is not None}.values():
            self.backend.stop(dead, self.stop_timeout)  # gone already: the backend clears what it left
        self._drop(user_key, announce="died" if known is not None else None)

    def _reconcile_routes(self) -> None:
        prefix = route_prefix(self.node)
        routes = {path: data for path, data in self.proxy.routes().items() if path.startswith(prefix)}
        handles = {handle.user_key: handle for handle in self.handles()}
        for user_key, handle in handles.items():
            if routes.get(route_path(self.node, user_key), {}).get("target") != socket_target(handle.socket_path):
                with self._locks.try_hold(user_key) as free:
                    if free and self._get(user_key) == handle:
                        log.info("route of %s was missing: restored", user_key)
                        self._route(handle)
        for path in routes:
            user_key = path[len(prefix):]
            if user_key not in handles:
                with self._locks.try_hold(user_key) as free:
                    if free and self._get(user_key) is None:
                        log.info("route %s leads to no server: removed", path)
                        self.proxy.delete_route(path)

    def _answers(self, handle: ServerHandle) -> bool:
        if not self.backend.is_alive(handle):
            return False
        return unixhttp.get_status(handle.socket_path, self.base_url(handle.user_key) + "api") == 200

    def _route(self, handle: ServerHandle) -> None:
        self.proxy.add_route(route_path(self.node, handle.user_key), socket_target(handle.socket_path),
                             user_key=handle.user_key)

    def _get(self, user_key: str) -> ServerHandle | None:
        with self._handles_lock:
            return self._handles.get(user_key)

    def _drop(self, user_key: str, announce: str | None = None) -> None:
        """Forget the student's server (memory, state file, socket); announce why it stopped, if given."""
        with self._handles_lock:
            self._handles.pop(user_key, None)
        self.node_dir.forget(user_key)
        if announce is not None:
            self.publish("server.stopped", {"node": self.node, "user_key": user_key, "reason": announce})

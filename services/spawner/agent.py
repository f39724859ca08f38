"""The agent of one notebook node: commands from RabbitMQ, and the node's housekeeping.

It consumes ``capytale.node.<k>`` (at most ``SPAWN_CONCURRENCY`` commands at
once, each acknowledged once acted on) and answers the commands of the
messaging contract (docs/architecture.md):

``server.ensure`` ``{user_key, owner, lab, wait}`` (``lab``: load JupyterLab too, for a teacher;
``wait``: seconds to wait for a start, absent: until it is done)
    → ``{state: "running", prefix: "/n/<k>/u/<key>/", started, instance}``, or while the start
    waits its turn or runs, ``{state: "queued" | "starting", position, queued}``
``server.stop`` ``{user_key, reason}``
    → ``{stopped}``
``node.status``
    → ``{node, servers: [{user_key, pid, started_at}]}``

Beside the commands it reconciles servers and routes (at start, then
regularly), culls idle servers every ``CULL_INTERVAL``, publishes
``node.heartbeat`` every ``HEARTBEAT_INTERVAL`` and keeps the node's list of
ended sessions, which its servers read (:mod:`services.spawner.revocations`).  When asked to stop it stops
consuming, and stops the servers only when ``STOP_SERVERS_ON_EXIT``;
otherwise they keep running for the next agent to adopt.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any, Callable

from capytale.messaging import BadMessage, Bus, Envelope, MessagingUnavailable, Topology, Worker
from capytale.settings import Settings, usable_cpus
from services.spawner.backends import make_backend
from services.spawner.proxy import ChpClient, ProxyError
from services.spawner.revocations import NodeRevocations
from services.spawner.servers import NodeServers
from services.spawner.state import NodeDir

log = logging.getLogger("capytale.spawner")

# A server whose route saw traffic this recently has its student at work (the teacher's "en ce moment").
ACTIVE_WINDOW = 60.0

RECONCILE_INTERVAL = 10.0  # seconds between two comparisons of servers, state files and routes
PUBLISH_TIMEOUT = 2.0


class Agent:
    def __init__(self, settings: Settings):
        self.settings = settings
        self.node: int = settings["NODE"]
        self.topology = Topology(settings["AMQP_NAMESPACE"])
        self.queue = self.topology.node_queue(self.node)
        self.stopping = threading.Event()
        self.node_dir = NodeDir(settings["RUN_ROOT"], self.node).create()
        self.backend = make_backend(settings, self.node_dir)
        self.proxy = ChpClient(settings["CHP_API_URL"], settings["CHP_AUTH_TOKEN"])
        self.bus = Bus(settings["AMQP_URL"], f"spawner-{self.node}", self.topology)
        self.revocations = NodeRevocations(self.bus, self.topology, self.node_dir.revocations_dir())
        self.servers = NodeServers(
            self.node, self.node_dir, settings["DATA_ROOT"], self.backend, self.proxy, self.publish,
            spawn_timeout=settings["SPAWN_TIMEOUT"], parallel=settings["SPAWN_PARALLEL"] or usable_cpus(),
        )
        self.worker = Worker(settings["AMQP_URL"], self.queue, self.handle, settings["SPAWN_CONCURRENCY"],
                             name=f"spawner-{self.node}", topology=self.topology)

    # --- commands ----------------------------------------------------------------------------

    def handle(self, message: Envelope) -> dict[str, Any]:
        """Answer one command (runs in a worker thread); the reply body, ``ok`` added by the worker."""
        if message.type == "server.ensure":
            ensured = self.servers.ensure(message.body.get("user_key"), lab=bool(message.body.get("lab")),
                                          wait=_seconds(message.body.get("wait")))
            if ensured.handle is None:
                return {"state": ensured.state, "position": ensured.position, "queued": ensured.queued}
            return {"state": "running", "prefix": self.servers.base_url(ensured.handle.user_key),
                    "started": ensured.started, "instance": ensured.handle.instance}
        if message.type == "server.stop":
            reason = str(message.body.get("reason") or "admin")
            return {"stopped": self.servers.stop(message.body.get("user_key"), reason)}
        if message.type == "node.status":
            return {"node": self.node, "servers": self.servers.status()}
        raise BadMessage(f"unknown command {message.type!r}")

    def publish(self, event_type: str, body: dict[str, Any]) -> None:
        """Publish an event; a broker that is away costs a warning, never a command."""
        try:
            self.bus.publish(event_type, Envelope(event_type, body), timeout=PUBLISH_TIMEOUT)
        except MessagingUnavailable as exc:
            log.warning("could not publish %s: %s", event_type, exc)

    # --- life --------------------------------------------------------------------------------

    def run(self) -> None:
        """Run until :attr:`stopping` is set (SIGTERM, SIGINT)."""
        self.backend.open(busy=self.servers.starting)
        self.bus.start()
        self.revocations.start()  # before any server is adopted: what ended while the agent was away
        self._guarded("reconcile", self.servers.reconcile)
        loops = [
            self._every(self.settings["HEARTBEAT_INTERVAL"], "heartbeat", self.heartbeat, now=True),
            self._every(RECONCILE_INTERVAL, "reconcile", self.servers.reconcile),
            self._every(RECONCILE_INTERVAL, "revocations", self.revocations.compact),
            self._every(self.settings["CULL_INTERVAL"], "cull", self.cull),
        ]
        threading.Thread(target=self._announce_ready, name="ready", daemon=True).start()
        try:
            self.worker.run(self.stopping)
        finally:
            self.stopping.set()
            for loop in loops:
                loop.join(timeout=10)
            self._shut_down()

    def heartbeat(self) -> None:
        try:
            active = self.servers.active(ACTIVE_WINDOW)
        except ProxyError as exc:  # the heartbeat still goes: placement needs it more than presence does
            log.warning("heartbeat without presence: %s", exc)
            active = []
        self.publish("node.heartbeat", {
            "node": self.node, "servers": len(self.servers.handles()),
            "memory_bytes": self.servers.memory_bytes(), "at": time.time(), "active": active,
        })

    def cull(self) -> None:
        """Reconcile (culling reads the routes), then stop the idle servers."""
        self.servers.reconcile()
        culled = self.servers.cull(self.settings["CULL_IDLE"])
        if culled:
            log.info("culled %d idle server(s): %s", len(culled), ", ".join(culled))

    def _shut_down(self) -> None:
        if self.settings["STOP_SERVERS_ON_EXIT"]:
            log.info("stopping %d server(s) before exit", len(self.servers.handles()))
            self._guarded("stop all", lambda: self.servers.stop_all("shutdown"))
        else:
            log.info("leaving %d server(s) running for the next agent", len(self.servers.handles()))
        self.servers.close()
        self.backend.close()
        self.revocations.close()
        self.bus.close()
        self.proxy.close()
        log.info("node %d stopped", self.node)

    def _announce_ready(self) -> None:
        while not self.stopping.is_set():
            if self.worker.consuming.wait(timeout=0.5):
                log.info("node %d ready: consuming %s", self.node, self.queue)
                return

    def _every(self, interval: float, name: str, action: Callable[[], None], now: bool = False) -> threading.Thread:
        def loop() -> None:
            if now:
                self._guarded(name, action)
            while not self.stopping.wait(interval):
                self._guarded(name, action)

        thread = threading.Thread(target=loop, name=name, daemon=True)
        thread.start()
        return thread

    @staticmethod
    def _guarded(name: str, action: Callable[[], None]) -> None:
        """Run a housekeeping step; its failure is logged, and the next pass tries again."""
        try:
            action()
        except ProxyError as exc:
            log.error("%s: %s", name, exc)
        except Exception:  # noqa: BLE001 - a loop must outlive one bad pass
            log.exception("%s failed", name)


MAX_WAIT = 30.0  # seconds a command may wait for a start (the router's RPC waits a little longer)


def _seconds(raw: object) -> float | None:
    """``wait`` of a ``server.ensure``: None (until done) or a number of seconds in [0, MAX_WAIT]."""
    if raw is None:
        return None
    try:
        return min(max(float(raw), 0.0), MAX_WAIT)
    except (TypeError, ValueError):
        raise BadMessage(f"wait must be a number of seconds, got {raw!r}") from None


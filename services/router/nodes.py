"""Which notebook nodes are alive, how loaded they are, and where a student goes.

Every node's spawner publishes ``node.heartbeat`` with its server count. Each
router process listens (its own bus thread) and keeps a :class:`NodeBoard`. A node
silent for ``NODE_SILENCE`` seconds gets no new students. Between two heartbeats
the board also counts the students it placed itself, so a whole class arriving in
one second is spread instead of piling onto the node that looked emptiest.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy.exc import IntegrityError

from capytale import db
from capytale.errors import PlatformError
from capytale.messaging import Bus, Envelope, Topology
from services.router.models import Placement


@dataclass
class NodeState:
    node: int
    seen_at: float
    servers: int
    placed_since: int = 0  # students this process placed there since the heartbeat


@dataclass
class NodeBoard:
    silence: float
    nodes: dict[int, NodeState] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    changed: threading.Condition = field(init=False)

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)

    def heartbeat(self, node: int, servers: int, now: float | None = None) -> None:
        with self.lock:
            self.nodes[node] = NodeState(node, time.monotonic() if now is None else now, servers)
            self.changed.notify_all()

    def forget(self, node: int) -> None:
        """A node that did not take a command: no new student until it beats again."""
        with self.lock:
            self.nodes.pop(node, None)

    def live(self, now: float | None = None) -> list[int]:
        now = time.monotonic() if now is None else now
        with self.lock:
            return sorted(n for n, s in self.nodes.items() if now - s.seen_at <= self.silence)

    def is_live(self, node: int, now: float | None = None) -> bool:
        return node in self.live(now)

    def choose(self, now: float | None = None) -> int | None:
        """The least loaded live node (lowest number on a tie), counted as placed there."""
        now = time.monotonic() if now is None else now
        with self.lock:
            live = [s for s in self.nodes.values() if now - s.seen_at <= self.silence]
            if not live:
                return None
            best = min(live, key=lambda s: (s.servers + s.placed_since, s.node))
            best.placed_since += 1
            return best.node

    def wait_for_live(self, timeout: float, node: int | None = None) -> bool:
        """Wait until a node (``node``, if given) is live; whether one is."""
        deadline = time.monotonic() + timeout
        with self.changed:
            while not any(time.monotonic() - s.seen_at <= self.silence for s in self.nodes.values()
                          if node is None or s.node == node):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self.changed.wait(remaining)
            return True


def init_app(app: Flask) -> None:
    settings = app.config["CAPYTALE"]
    board = NodeBoard(silence=settings["NODE_SILENCE"])
    bus = Bus(settings["AMQP_URL"], "router", Topology(settings["AMQP_NAMESPACE"]))

    def on_heartbeat(_key: str, event: Envelope) -> None:
        node = event.body.get("node")
        if isinstance(node, int) and 1 <= node <= settings["NODES"]:
            board.heartbeat(node, int(event.body.get("servers", 0)))

    bus.subscribe(("node.heartbeat",), on_heartbeat)
    app.extensions["capytale.bus"] = bus
    app.extensions["capytale.nodes"] = board


def board() -> NodeBoard:
    return current_app.extensions["capytale.nodes"]


def bus() -> Bus:
    return current_app.extensions["capytale.bus"]


FIRST_HEARTBEAT_WAIT = 5.0  # a router just started waits this long for nodes to say they live


def no_live_node() -> PlatformError:
    return PlatformError(
        _("Aucun serveur de carnets n'est disponible pour le moment. Réessaie dans une minute ; si cela dure, "
          "préviens ton enseignant·e."),
        log_message="no live notebook node", reason="no_live_node", status=503,
    )


def place(user_key: str) -> int:
    """The student's node: the same as before while it lives, else the least loaded live one."""
    nodes = board()
    session = db.session()
    placement = session.get(Placement, user_key)
    if placement is not None and nodes.is_live(placement.node):
        return placement.node
    deadline = time.monotonic() + FIRST_HEARTBEAT_WAIT  # one wait in all, for the link and a heartbeat
    if not bus().ready:  # this process's own link is down: what it did not hear says nothing of the nodes
        if bus().wait_ready(FIRST_HEARTBEAT_WAIT):  # woken, it tries again at once
            nodes.wait_for_live(max(0.0, deadline - time.monotonic()), None if placement is None else placement.node)
        if placement is not None and nodes.is_live(placement.node):
            return placement.node
    if not nodes.live():
        nodes.wait_for_live(max(0.0, deadline - time.monotonic()))
    node = nodes.choose()
    if node is None:
        raise no_live_node()
    if placement is None:
        session.add(Placement(user_key=user_key, node=node))
    else:
        current_app.logger.info("moving %s from silent node %s to node %s", user_key, placement.node, node)
        placement.node = node
    try:
        session.commit()
    except IntegrityError:  # the same student placed at the same instant by another request
        session.rollback()
        return session.get(Placement, user_key).node
    return node

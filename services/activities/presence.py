"""Which students are working right now, for the teacher's list of copies.

Each node's heartbeat (``node.heartbeat``) names the servers whose route saw
traffic in the last minute: an open Jupyter page talks to its server every few
seconds, so a student with the notebook open is "working now".  Each process
keeps the last heartbeat of every node, heard on the same RabbitMQ connection
as its events (:mod:`events`); a node silent for longer than ``STALE`` counts
for nothing.  When RabbitMQ is away the column simply says nobody is working.
"""
from __future__ import annotations

import threading
import time

from flask import Flask, current_app

from capytale.messaging import Envelope, Topology, one_per_broker
from services.activities import events

STALE = 30.0  # seconds after which a node's last heartbeat no longer tells who is working


class Presence:
    """The students working now, by the latest heartbeat of each node."""

    def __init__(self) -> None:
        self._nodes: dict[int, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()

    def heard(self, _routing_key: str, event: Envelope) -> None:
        node, active = event.body.get("node"), event.body.get("active")
        if isinstance(node, int) and isinstance(active, list):
            with self._lock:
                self._nodes[node] = (time.monotonic(), frozenset(str(key) for key in active))

    def working(self) -> frozenset[str]:
        """User keys of the students working now, on any node."""
        now = time.monotonic()
        with self._lock:
            fresh = [keys for seen, keys in self._nodes.values() if now - seen < STALE]
        return frozenset().union(*fresh)


def _listen(amqp_url: str, topology: Topology) -> Presence:
    presence = Presence()
    events.publisher(amqp_url, topology).bus.subscribe(("node.heartbeat",), presence.heard)
    return presence


listener = one_per_broker(_listen)


def working_now() -> frozenset[str]:
    """The students working now, as this process has heard (starts listening on first use)."""
    settings = current_app.config["CAPYTALE"]
    return listener(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"])).working()


def init_app(app: Flask) -> None:
    """Listen from the start, so that the first page already knows who is working."""
    settings = app.config["CAPYTALE"]
    listener(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"]))

"""Sessions ended before their time (CAS single logout, logout): known to every web service.

Auth publishes ``session.revoked`` ``{sid, exp}`` on the topic exchange; every web
service keeps the revoked session ids it heard of in memory until ``exp`` (when the
cookie would have expired anyway), and :func:`capytale.web.current_identity` treats
a revoked session as no session.  One set and one subscription per process and
broker (made on first use, :func:`capytale.messaging.one_per_broker`).  A service that
was down when the event went out does not know it: auth, which answers every
``/auth/…`` request, reloads its own list at start; keep cookies short-lived.
"""
from __future__ import annotations

import logging
import threading
import time

from flask import Flask, current_app

from capytale.messaging import Bus, Envelope, MessagingUnavailable, Topology, one_per_broker

log = logging.getLogger("capytale.revocations")

EVENT = "session.revoked"


class RevocationSet:
    """Session ids revoked, each kept until its expiry time."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()

    def add(self, sid: str, exp: float) -> None:
        if not sid or exp <= time.time():
            return
        with self._lock:
            self._until[sid] = max(exp, self._until.get(sid, 0))
            if len(self._until) % 256 == 0:
                self._prune()

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            exp = self._until.get(sid) if isinstance(sid, str) else None
            return exp is not None and exp > time.time()

    def _prune(self) -> None:
        now = time.time()
        for sid in [s for s, exp in self._until.items() if exp <= now]:
            del self._until[sid]


class Watcher:
    """One process's revocation set, fed by the ``session.revoked`` events."""

    def __init__(self, amqp_url: str, topology: Topology):
        self.revoked = RevocationSet()
        self.bus = Bus(amqp_url, "revocations", topology)
        self.bus.subscribe((EVENT,), self._on_event)

    def _on_event(self, _key: str, event: Envelope) -> None:
        sid, exp = event.body.get("sid"), event.body.get("exp")
        if isinstance(sid, str) and isinstance(exp, (int, float)):
            self.revoked.add(sid, exp)

    def revoke(self, sid: str, exp: float, timeout: float = 3.0) -> None:
        """Revoke here at once, then tell every other service (best effort, logged)."""
        self.revoked.add(sid, exp)
        try:
            self.bus.publish(EVENT, Envelope(EVENT, {"sid": sid, "exp": exp}), timeout=timeout)
        except MessagingUnavailable as exc:
            log.warning("session %s revoked here only: RabbitMQ unavailable (%s)", sid, exc)


watcher = one_per_broker(Watcher)  # this process's revocation set for a broker and namespace


def init_app(app: Flask) -> None:
    settings = app.config["CAPYTALE"]
    app.extensions["capytale.revocations"] = watcher(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"]))


def is_revoked(sid: str) -> bool:
    found = current_app.extensions.get("capytale.revocations")
    return bool(sid) and found is not None and sid in found.revoked


def revoke(sid: str, exp: float) -> None:
    current_app.extensions["capytale.revocations"].revoke(sid, exp)

"""Sessions ended before their time (CAS single logout, logout): known to every web service and node.

Auth stores each ended session with its expiry in its database (``auth_revoked_sessions``)
and publishes ``session.revoked`` ``{sid, exp}`` on the topic exchange.  Every web
process keeps the revoked session ids it heard of in memory until ``exp`` (when the
cookie would have expired anyway), and :func:`capytale.web.current_identity` treats a
revoked session as no session; each node's agent does the same and writes them where
its students' servers read them (:mod:`services.spawner.revocations`).

A process that was down when an event went out learns it at start: it asks auth for
the list of ended sessions still unexpired, an RPC on RabbitMQ (``revocations.list`` to
the queue ``<namespace>.revocations.list``, which auth's processes consume and which goes
with the last of them, answered from auth's database: :mod:`services.auth.revoked`).  The subscription is bound before the
question goes, so nothing falls between the list and the events.  A web process waits a
moment for that answer before it serves (:data:`FIRST_WAIT`); while auth or RabbitMQ
does not answer, it serves with what it knows and asks again in the background, with
growing delays, logging once that it is waiting and once that the list came.  Auth's own
processes read the list from the database at start instead.

One set and one subscription per process and broker (made on first use,
:func:`capytale.messaging.one_per_broker`).
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

from flask import Flask, current_app

from capytale.messaging import (Bus, Envelope, MessagingUnavailable, RpcTimeout, Topology, backoff_delays,
                                one_per_broker)

log = logging.getLogger("capytale.revocations")

EVENT = "session.revoked"
LIST = "revocations.list"  # the command auth answers with {"revoked": [[sid, exp], ...]}
FIRST_WAIT = 3.0  # seconds a web process waits for auth's list before serving
ASK_TIMEOUT = 5.0  # seconds one question to auth may take
RETRY_LIMIT = 30.0  # longest pause between two questions while auth does not answer

Listener = Callable[[list[tuple[str, float]]], None]


class RevocationSet:
    """Session ids revoked, each kept until its expiry time."""

    def __init__(self) -> None:
        self._until: dict[str, float] = {}
        self._lock = threading.Lock()
        self._prune_at = 256  # the expired ones go when the set has grown this big

    def add(self, sid: str, exp: float) -> bool:
        """Remember ``sid`` until ``exp``; whether that is news (not known, or known until earlier)."""
        return bool(self.add_all([(sid, exp)]))

    def add_all(self, entries: Iterable[tuple[str, float]]) -> list[tuple[str, float]]:
        """Remember every pair; the pairs that were news."""
        now, news = time.time(), []
        with self._lock:
            for sid, exp in entries:
                if isinstance(sid, str) and sid and isinstance(exp, (int, float)) and exp > now \
                        and exp > self._until.get(sid, 0):
                    self._until[sid] = exp
                    news.append((sid, exp))
            if len(self._until) >= self._prune_at:
                self._prune()
        return news

    def __contains__(self, sid: object) -> bool:
        with self._lock:
            exp = self._until.get(sid) if isinstance(sid, str) else None
            return exp is not None and exp > time.time()

    def __len__(self) -> int:
        with self._lock:
            self._prune()
            return len(self._until)

    def items(self) -> list[tuple[str, float]]:
        """The sessions still revoked, with their expiry."""
        with self._lock:
            self._prune()
            return sorted(self._until.items())

    def _prune(self) -> None:
        now = time.time()
        for sid in [s for s, exp in self._until.items() if exp <= now]:
            del self._until[sid]
        self._prune_at = max(256, 2 * len(self._until))


class Watcher:
    """One process's revocation set, fed by the ``session.revoked`` events and, at start, auth's list.

    ``bus``: a connection the process already holds (a node's agent); else one of its own,
    named ``<namespace>/revocations``.
    """

    def __init__(self, amqp_url: str, topology: Topology, bus: Bus | None = None):
        self.revoked = RevocationSet()
        self.topology = topology
        self.bus = bus if bus is not None else Bus(amqp_url, "revocations", topology)
        self.loaded = threading.Event()  # auth's list has come
        self._listeners: list[Listener] = []
        self._loader: threading.Thread | None = None
        self._closing = threading.Event()
        self._lock = threading.Lock()
        self.bus.subscribe((EVENT,), self._on_event)

    def on_revoked(self, listener: Listener) -> None:
        """Call ``listener(pairs)`` with each revocation this process learns from now on (events, auth's list)."""
        self._listeners.append(listener)

    def _on_event(self, _key: str, event: Envelope) -> None:
        self._learn([(event.body.get("sid"), event.body.get("exp"))])

    def _learn(self, entries: Iterable[tuple[str, float]]) -> None:
        news = self.revoked.add_all(entries)
        if news:
            for listener in self._listeners:
                listener(news)

    def revoke(self, sid: str, exp: float, timeout: float = 3.0) -> None:
        """Revoke here at once, then tell every other service (best effort, logged)."""
        self._learn([(sid, exp)])
        try:
            self.bus.publish(EVENT, Envelope(EVENT, {"sid": sid, "exp": exp}), timeout=timeout)
        except MessagingUnavailable as exc:
            log.warning("session %s revoked here only: RabbitMQ unavailable (%s)", sid, exc)

    # --- auth's list, at start -----------------------------------------------------------------

    def load_from_auth(self, wait: float = 0.0) -> bool:
        """Ask auth for the sessions ended while this process was away (in the background, again
        until it answers); the first call waits at most ``wait`` seconds for the answer.  Whether it came."""
        with self._lock:
            first = self._loader is None
            if first:
                self._loader = threading.Thread(target=self._load, name="revocations-load", daemon=True)
                self._loader.start()
        return self.loaded.wait(wait) if wait > 0 and first else self.loaded.is_set()

    def ask_auth(self, timeout: float = ASK_TIMEOUT) -> int:
        """One question to auth; how many revocations it listed (raises MessagingUnavailable, RpcTimeout)."""
        reply = self.bus.call(self.topology.revocations_queue, Envelope(LIST), timeout=timeout)
        listed = reply.body.get("revoked")
        if not reply.body.get("ok") or not isinstance(listed, list):
            raise MessagingUnavailable(f"auth could not list the revocations: {reply.body}")
        entries = [(item[0], item[1]) for item in listed if isinstance(item, list) and len(item) == 2]
        self._learn(entries)
        return len(entries)

    def _load(self) -> None:
        began, warned = time.monotonic(), False
        for delay in backoff_delays(first=0.5, limit=RETRY_LIMIT):
            if self._closing.is_set():
                return
            try:
                count = self.ask_auth()
            except (MessagingUnavailable, RpcTimeout) as exc:
                if not warned:
                    log.warning("auth's list of ended sessions not received (%s): serving with the sessions "
                                "ended from now on, asking again in the background", exc)
                    warned = True
                else:
                    log.debug("auth's list of ended sessions still not received: %s", exc)
                if self._closing.wait(delay):
                    return
                continue
            self.loaded.set()
            level = logging.WARNING if warned else logging.INFO
            log.log(level, "auth's list of ended sessions received after %.1fs: %d session(s)",
                    time.monotonic() - began, count)
            return

    def close(self) -> None:
        """Stop asking auth (the bus is closed by whoever opened it)."""
        self._closing.set()


watcher = one_per_broker(Watcher)  # this process's revocation set for a broker and namespace


def init_app(app: Flask) -> None:
    """The process's watcher for the app; a web service other than auth asks auth's list first."""
    settings = app.config["CAPYTALE"]
    found = watcher(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"]))
    app.extensions["capytale.revocations"] = found
    if settings.service != "auth":  # auth reads its own database (services/auth/revoked.py)
        found.load_from_auth(wait=FIRST_WAIT)


def is_revoked(sid: str) -> bool:
    found = current_app.extensions.get("capytale.revocations")
    return bool(sid) and found is not None and sid in found.revoked


def revoke(sid: str, exp: float) -> None:
    current_app.extensions["capytale.revocations"].revoke(sid, exp)

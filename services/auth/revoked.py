"""Sessions ended before their time, as auth keeps them: stored, reloaded at start, listed to the others.

:func:`end_session` (a logout, the ENT's single logout) stores the session with its
expiry in ``auth_revoked_sessions`` and then tells every service (``session.revoked``,
:mod:`capytale.revocations`).  At start, each auth process puts the stored, unexpired
ones in its revocation set, and answers ``revocations.list`` on the queue
``<namespace>.revocations.list``: a web process or a node's agent that starts asks it for
what it missed while it was down (the reply ``{"revoked": [[sid, exp], ...]}``, read
from the database).  The queue is not durable and goes with the last auth process, so
that a question asked while auth is down fails at once and is asked again later.  One
consumer per process and broker, answering from the database of the last app that
started it (a process runs one auth app; tests make several).
Expired rows are removed as new ones come.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Any

from flask import Flask
from sqlalchemy import delete, select

from capytale import db, revocations
from capytale.messaging import BadMessage, Envelope, Topology, Worker, one_per_broker
from services.auth.models import RevokedSession

log = logging.getLogger("capytale.auth")

CONCURRENCY = 2  # questions answered at once by one process (each is one query)


def init_app(app: Flask) -> None:
    with app.app_context():  # sessions ended stay ended across restarts
        app.extensions["capytale.revocations"].revoked.add_all(live())
    settings = app.config["CAPYTALE"]
    lister(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"])).serve(app)


def end_session(sid: str, expires: int, reason: str) -> None:
    """Store the session as ended (until ``expires``), then revoke it on every service."""
    session = db.session()
    now = int(time.time())
    session.execute(delete(RevokedSession).where(RevokedSession.expires <= now))
    row = session.get(RevokedSession, sid)
    if row is None:
        session.add(RevokedSession(sid=sid, expires=expires, reason=reason))
    else:
        row.expires = max(row.expires, expires)
    session.commit()
    revocations.revoke(sid, expires)


def live() -> list[tuple[str, int]]:
    """The ended sessions that have not expired yet: (sid, expiry)."""
    rows = db.session().execute(select(RevokedSession.sid, RevokedSession.expires)
                                .where(RevokedSession.expires > int(time.time())))
    return [(sid, expires) for sid, expires in rows]


class Lister:
    """Answers ``revocations.list`` from the database, in a thread of its own."""

    def __init__(self, amqp_url: str, topology: Topology):
        self.app: Flask | None = None
        self.worker = Worker(amqp_url, topology.revocations_queue, self.answer, CONCURRENCY,
                             name="auth-revocations", topology=topology, durable=False)
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def serve(self, app: Flask) -> None:
        self.app = app
        if self._thread is None or not self._thread.is_alive():
            self._stopping = threading.Event()
            self._thread = threading.Thread(target=self.worker.run, args=(self._stopping,), name="auth-revocations",
                                            daemon=True)
            self._thread.start()

    def close(self, timeout: float = 10.0) -> None:
        """Stop answering (a process's end, a test's); :meth:`serve` starts again."""
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def answer(self, message: Envelope) -> dict[str, Any]:
        if message.type != revocations.LIST:
            raise BadMessage(f"unknown command {message.type!r}")
        with self.app.app_context():
            listed = live()
        log.info("listed %d ended session(s) for a service that starts", len(listed))
        return {"revoked": [[sid, expires] for sid, expires in listed]}


lister = one_per_broker(Lister)

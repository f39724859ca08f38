"""Admission control: a node starts no more servers at once than it can bear.

A class arriving at once is a queue, not a stampede.  :class:`StartQueue` keeps
one ticket per student whose server is to start, in arrival order, and runs at
most ``parallel`` starts at a time (``SPAWN_PARALLEL``).  An ``server.ensure``
that finds its student's ticket still waiting answers at once with the
ticket's place in the queue (the waiting page shows it); the student's next
poll finds the same ticket, never a second one.  A start that fails is tried
once more, then its failure is kept on the ticket until the student's next
poll reports it (or :data:`RESULT_KEPT` seconds pass).  :meth:`StartQueue.wait`
does not hold its caller for a start that cannot be done in time: from the
recent starts' mean duration it tells, at once, a ticket too far back in the
queue (the router's thread then goes back to serve others, HAProxy's health
checks among them).

:class:`StartWatch` is how long a start may take: ``SPAWN_TIMEOUT`` seconds,
and longer as long as the server keeps using CPU (it is importing, not hung),
up to :data:`HARD_LIMIT_FACTOR` times that.  A start that is progressing is
never cut short by a timeout; one that stalls is.
"""
from __future__ import annotations

import collections
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Callable

from capytale.errors import PlatformError

log = logging.getLogger("capytale.spawner")

RESULT_KEPT = 120.0  # seconds a finished ticket waits for its student's next poll
DURATION_WEIGHT = 0.3  # weight of the last start in the mean duration the queue expects of the next
RETRIES = 1  # a start that fails is tried once more before the student is told
HARD_LIMIT_FACTOR = 5  # a start that keeps progressing may take this many SPAWN_TIMEOUTs, not more
POLL = 0.5  # seconds between two questions about a starting server (alive? its CPU time?)

QUEUED, STARTING, DONE, FAILED = "queued", "starting", "done", "failed"

START_FAILED = "Ton carnet n'a pas pu démarrer. Réessaie dans un instant ; si cela recommence, préviens ton professeur."


@dataclass
class Ticket:
    """One student's start, from its arrival in the queue to its result's collection."""

    user_key: str
    lab: bool
    state: str = QUEUED
    error: PlatformError | None = None
    finished: float | None = None
    attempts: int = 0
    done: threading.Event = field(default_factory=threading.Event)


class StartQueue:
    """A FIFO of starts worked by ``parallel`` threads; ``start(user_key, lab)`` does one start."""

    def __init__(self, start: Callable[[str, bool], object], parallel: int, name: str = "start"):
        if parallel < 1:
            raise ValueError(f"parallel must be at least 1, got {parallel}")
        self._start = start
        self._lock = threading.Condition()
        self._tickets: dict[str, Ticket] = {}
        self._waiting: collections.deque[Ticket] = collections.deque()
        self._closed = False
        self._parallel = parallel
        self._mean_duration: float | None = None  # of the recent successful starts; None before the first
        self._threads = [threading.Thread(target=self._work, name=f"{name}-{i}", daemon=True) for i in range(parallel)]
        for thread in self._threads:
            thread.start()

    def submit(self, user_key: str, lab: bool = False) -> Ticket:
        """The student's ticket: the one waiting, running, or failed and not yet told; else a new one at
        the end of the queue."""
        with self._lock:
            self._expire()
            ticket = self._tickets.get(user_key)
            if ticket is None or ticket.state == DONE:  # a done start is past: its server is gone since
                ticket = self._tickets[user_key] = Ticket(user_key, lab)
                self._waiting.append(ticket)
                self._lock.notify()
            return ticket

    def collect(self, ticket: Ticket) -> bool:
        """The student is told the result: a later ensure makes a new ticket.  True for the first of
        the ensures waiting on this ticket (the one that says it started the server), False after."""
        with self._lock:
            if self._tickets.get(ticket.user_key) is ticket and ticket.done.is_set():
                del self._tickets[ticket.user_key]
                return True
            return False

    def cancel(self, user_key: str) -> None:
        """Drop a ticket that has not started yet (the student's server is being stopped)."""
        with self._lock:
            ticket = self._tickets.get(user_key)
            if ticket is not None and ticket.state == QUEUED:
                self._waiting.remove(ticket)
                del self._tickets[user_key]
                ticket.state, ticket.error = FAILED, PlatformError(
                    "Le démarrage de ton carnet a été annulé.", reason="spawn_cancelled", status=409)
                ticket.done.set()

    def wait(self, ticket: Ticket, timeout: float | None) -> bool:
        """Wait for the ticket's start to be done, at most ``timeout`` seconds (None: until it is);
        whether it is.  A ticket that, by the recent starts, will not be done in ``timeout`` is not
        waited for at all."""
        if timeout is not None and self.expected_wait(ticket) > timeout:
            return ticket.done.is_set()
        return ticket.done.wait(timeout)

    def expected_wait(self, ticket: Ticket) -> float:
        """Seconds until the ticket's start is likely done: the starts before it and its own, at the
        recent starts' mean duration, ``parallel`` at a time (0 while nothing is known)."""
        with self._lock:
            if self._mean_duration is None or ticket.state != QUEUED:
                return 0.0
            try:
                ahead = self._waiting.index(ticket)
            except ValueError:
                return 0.0
            return (ahead // self._parallel + 1) * self._mean_duration

    def position(self, ticket: Ticket) -> int:
        """1 for the first waiting ticket, 2 for the next…; 0 once it is starting or finished."""
        with self._lock:
            try:
                return self._waiting.index(ticket) + 1
            except ValueError:
                return 0

    def counts(self) -> dict[str, int]:
        """How many starts wait and how many run now."""
        with self._lock:
            starting = sum(1 for t in self._tickets.values() if t.state == STARTING)
            return {"queued": len(self._waiting), "starting": starting}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._lock.notify_all()
        for thread in self._threads:
            thread.join(timeout=5)

    # --- the workers -------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._waiting and not self._closed:
                    self._lock.wait()
                if self._closed:
                    return
                ticket = self._waiting.popleft()
                ticket.state = STARTING
            began = time.monotonic()
            error = self._run(ticket)
            with self._lock:
                if error is None:
                    duration = time.monotonic() - began
                    self._mean_duration = duration if self._mean_duration is None else (
                        DURATION_WEIGHT * duration + (1 - DURATION_WEIGHT) * self._mean_duration)
                ticket.state, ticket.error, ticket.finished = (DONE if error is None else FAILED), error, time.monotonic()
                ticket.done.set()

    def _run(self, ticket: Ticket) -> PlatformError | None:
        for attempt in range(1 + RETRIES):
            ticket.attempts = attempt + 1
            try:
                self._start(ticket.user_key, ticket.lab)
                return None
            except PlatformError as exc:
                failure = exc
            except Exception as exc:  # noqa: BLE001 - an engine's or a zygote's error: the student is told plainly
                log.exception("start of %s failed", ticket.user_key)
                failure = PlatformError(START_FAILED, reason="spawn_failed", status=503, log_message=repr(exc))
            if attempt < RETRIES:
                log.warning("start of %s failed (%s): trying once more", ticket.user_key, failure.log_message)
        return failure

    def _expire(self) -> None:
        now = time.monotonic()
        for user_key, ticket in list(self._tickets.items()):
            if ticket.finished is not None and now - ticket.finished > RESULT_KEPT:
                del self._tickets[user_key]


class StartWatch:
    """Whether a starting server is still worth waiting for: it is ``alive`` and either within
    ``timeout`` or using CPU in the last ``timeout`` seconds (``cpu_seconds`` returns None where the
    backend cannot tell: then ``timeout`` is all).  Both are asked at most every :data:`POLL` seconds,
    however often the caller asks (a container's are calls to its engine)."""

    def __init__(self, timeout: float, alive: Callable[[], bool], cpu_seconds: Callable[[], float | None],
                 clock: Callable[[], float] = time.monotonic):
        self.timeout = timeout
        self.hard_limit = timeout * HARD_LIMIT_FACTOR
        self._alive = alive
        self._cpu_seconds = cpu_seconds
        self._clock = clock
        self._began = self._last_progress = clock()
        self._last_reading: float | None = None
        self._last_poll = float("-inf")
        self._was_alive = True

    def worth_waiting(self) -> bool:
        now = self._clock()
        if now - self._began >= self.hard_limit:
            return False
        if now - self._last_poll >= POLL:
            self._last_poll = now
            self._was_alive = self._alive()
            reading = self._cpu_seconds() if self._was_alive else None
            if reading is not None:
                if self._last_reading is not None and reading > self._last_reading:
                    self._last_progress = now
                self._last_reading = reading
        return self._was_alive and now - self._last_progress < self.timeout

    def stalled_for(self) -> float:
        """Seconds since the server last used CPU (or since its start)."""
        return self._clock() - self._last_progress

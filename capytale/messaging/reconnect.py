"""The one reconnect loop of every RabbitMQ connection, and its growing delays.

A pika ``BlockingConnection`` belongs to one thread, and that thread answers the
broker's heartbeats only while it is inside ``process_data_events``: a thread
that does something else for two heartbeat intervals loses its connection
("missed heartbeats from client").  So the thread that runs :func:`keep_connected`
polls every :data:`POLL` seconds and runs nothing long: long work (a server
start) runs in other threads and comes back through ``add_callback_threadsafe``.

What a connection carries is a :class:`Link` (:class:`~capytale.messaging.Bus`,
:class:`~capytale.messaging.Worker`): what to open on it, how to tell that its
channel is gone, what to fail when it goes.  :func:`keep_connected` does the
rest, the same way for both:

- a **channel error** (the broker closed the channel: ``PRECONDITION_FAILED``,
  ``NOT_FOUND`` after a publish to a deleted exchange…; or cancelled the
  consumer of a deleted queue) reopens the link on the same connection;
- a **connection error** (broker away, connection closed by the broker or by
  missed heartbeats, blocked too long) opens a new connection;
- either after a growing, jittered delay (:func:`backoff_delays`), with one
  warning naming the reason; the same reason again, while the link is down,
  is logged at debug level only, and the link's return at info level;
- ``stop`` is looked at between two polls and during the delays, so stopping
  takes about :data:`POLL` seconds;
- ``wake``, when given, cuts a delay short: someone is waiting on the link now (a
  publish, a router that hears no node), so the next attempt is made at once
  instead of up to 10 s after the broker came back, though never sooner than
  :data:`WAKE_LEAST` after the previous one.
"""
from __future__ import annotations

import logging
import random
import threading
import time
from typing import Callable, Iterator

import pika
import pika.exceptions

from capytale.messaging.envelope import Topology

log = logging.getLogger("capytale.messaging")

HEARTBEAT = 30  # seconds; the broker closes a connection silent for about two of them
POLL = 0.25  # seconds between two looks at ``stop`` (and the longest a poll blocks)
STABLE = 10.0  # seconds a link must stay up before the next failure starts the delays over
WAKE_LEAST = 0.5  # seconds between two attempts, at least, however often the link is woken

CHANNEL_ERRORS = (pika.exceptions.AMQPChannelError,)
CONNECTION_ERRORS = (pika.exceptions.AMQPConnectionError, OSError)

Delays = Callable[[], Iterator[float]]


def backoff_delays(first: float = 0.2, limit: float = 10.0, jitter: float = 0.2,
                   rng: random.Random | None = None) -> Iterator[float]:
    """Growing delays, each within ``jitter`` of 0.2, 0.4, 0.8… seconds, up to ``limit``."""
    uniform = (rng or random).uniform
    delay = first
    while True:
        yield delay * uniform(1 - jitter, 1 + jitter)
        delay = min(delay * 2, limit)


def connection_parameters(url: str, name: str, topology: Topology, heartbeat: int = HEARTBEAT) -> pika.URLParameters:
    """Parameters of a connection named ``<namespace>/<name>`` (as ``rabbitmqctl list_connections`` shows it).

    ``blocked_connection_timeout``: a connection the broker blocks (memory or disk
    alarm) for that long is dropped and made again, rather than waiting without end.
    ``socket_timeout`` and ``stack_timeout`` bound only the opening of a connection.
    """
    params = pika.URLParameters(url)
    params.heartbeat = heartbeat
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.stack_timeout = 10
    params.client_properties = {"connection_name": f"{topology.namespace}/{name}"}
    return params


class ChannelLost(pika.exceptions.AMQPChannelError):
    """The link's channel is gone while the connection stays (closed or cancelled by the broker)."""


class Link:
    """What one connection carries.  A subclass says each of these; :func:`keep_connected` calls them
    in the connection's thread."""

    name: str

    def parameters(self) -> pika.ConnectionParameters:
        """How to open a new connection."""
        raise NotImplementedError

    def open(self, connection: pika.BlockingConnection) -> None:
        """Open the channel, declare, consume: on a new connection, and after a channel error."""
        raise NotImplementedError

    def trouble(self) -> str | None:
        """Why the channel cannot go on (closed by the broker, consumer cancelled), or None."""
        raise NotImplementedError

    def down(self, reason: str) -> None:
        """The channel is gone, maybe the connection too: fail what waited on it, forget it."""
        raise NotImplementedError


def closed_reason(channel) -> str:
    """Why a pika ``BlockingChannel`` was closed, as the broker said it (``(404, "NOT_FOUND - …")``)."""
    # pika keeps the broker's Channel.Close on the channel without a public accessor
    reason = getattr(channel, "_closing_reason", None)
    return describe(reason) if reason is not None else "channel closed"


def describe(exc: BaseException) -> str:
    return str(exc) or type(exc).__name__


def keep_connected(link: Link, stop: threading.Event, *, poll: float = POLL, delays: Delays = backoff_delays,
                   connect: Callable[[pika.ConnectionParameters], pika.BlockingConnection] = pika.BlockingConnection,
                   stable: float = STABLE, wake: threading.Event | None = None) -> None:
    """Keep ``link`` open on a connection until ``stop`` is set (see the module's docstring)."""
    waits = delays()
    connection = None
    failure: str | None = None  # the reason the link is down, logged once
    up_since: float | None = None
    try:
        while not stop.is_set():
            try:
                if connection is None or not connection.is_open:
                    connection = connect(link.parameters())
                    _watch_blocking(connection, link.name)
                link.open(connection)
                up_since = time.monotonic()
                if wake is not None:
                    wake.clear()
                if failure is not None:
                    log.info("%s: RabbitMQ link back (it was down: %s)", link.name, failure)
                    failure = None
                while not stop.is_set():
                    connection.process_data_events(time_limit=poll)
                    if connection.is_closed:
                        raise pika.exceptions.ConnectionClosed(0, "connection closed")
                    trouble = link.trouble()
                    if trouble is not None:
                        raise ChannelLost(trouble)
            except CHANNEL_ERRORS as exc:
                reason = exc.args[0] if isinstance(exc, ChannelLost) else describe(exc)
                failure = _report(link.name, "RabbitMQ channel closed (%s); reopening it", reason, failure)
                link.down(reason)
            except CONNECTION_ERRORS as exc:
                reason = describe(exc)
                text = ("RabbitMQ connection lost (%s); reconnecting" if up_since is not None
                        else "RabbitMQ unreachable (%s); retrying")
                failure = _report(link.name, text, reason, failure)
                link.down(reason)
                connection = _close_quietly(connection)
            except Exception as exc:  # noqa: BLE001 - a bug in one pass must not leave the process without RabbitMQ
                reason = f"{type(exc).__name__}: {exc}"
                if failure != reason:
                    log.exception("%s: RabbitMQ link failed; starting it again", link.name)
                failure = reason
                link.down(reason)
                connection = _close_quietly(connection)
            if stop.is_set():
                break
            if up_since is not None and time.monotonic() - up_since >= stable:
                waits = delays()  # it had been up for a while: this is a new outage
            up_since = None
            _pause(next(waits), stop, wake)
    finally:
        link.down("stopping")
        _close_quietly(connection)


def _pause(delay: float, stop: threading.Event, wake: threading.Event | None) -> None:
    """Wait ``delay`` seconds, or until ``stop``; or, once :data:`WAKE_LEAST` has passed, until ``wake`` (taken)."""
    if wake is None or delay <= WAKE_LEAST:
        stop.wait(delay)
        return
    deadline = time.monotonic() + delay
    if stop.wait(WAKE_LEAST):
        return
    while not stop.is_set():
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return
        if wake.wait(min(remaining, POLL)):
            wake.clear()  # taken: if this attempt fails too, the delays go on unless someone waits again
            return


def _report(name: str, text: str, reason: str, failure: str | None) -> str:
    """Log ``text`` once for a reason (the same reason while down goes to debug); the reason."""
    if reason != failure:
        log.warning("%s: " + text, name, reason)
    else:
        log.debug("%s: " + text, name, reason)
    return reason


def _watch_blocking(connection: pika.BlockingConnection, name: str) -> None:
    """Say in the log when the broker blocks the connection (alarm), since it may end in a drop."""
    connection.add_on_connection_blocked_callback(
        lambda _connection, frame: log.warning("%s: RabbitMQ blocks this connection (%s)", name,
                                               getattr(frame.method, "reason", "")))
    connection.add_on_connection_unblocked_callback(
        lambda _connection, _frame: log.info("%s: RabbitMQ unblocked this connection", name))


def _close_quietly(connection: pika.BlockingConnection | None) -> None:
    """Close ``connection`` if it is open; None, to forget it."""
    if connection is not None and connection.is_open:
        try:
            connection.close()
        except (pika.exceptions.AMQPError, OSError):
            pass
    return None

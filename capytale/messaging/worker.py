"""A consumer of one durable command queue, with bounded concurrency.

The worker takes at most ``concurrency`` messages at a time (``prefetch``),
runs each in a thread of its pool, and only once the handler has acted does it
send the reply (when the message asked for one) and acknowledge — back on the
connection's own thread through ``add_callback_threadsafe``.  The connection's
thread thus only ever hands messages over and sends answers: however long a
handler takes (a server start), it keeps answering the broker's heartbeats.
A burst is queued in RabbitMQ, not dropped; a message whose worker died, or
whose channel closed before its answer, is delivered again, so handlers are
idempotent.  The connection is kept by
:func:`capytale.messaging.reconnect.keep_connected`: after a channel error or
a deleted queue the worker reopens its channel and declares its queue again;
after the broker goes away, it reconnects.
"""
from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pika
import pika.exceptions

from capytale.messaging.bus import declare_topology
from capytale.messaging.envelope import BadMessage, Envelope, Topology
from capytale.messaging.reconnect import HEARTBEAT, Link, closed_reason, connection_parameters, keep_connected

log = logging.getLogger("capytale.messaging")

Handler = Callable[[Envelope], dict]


class Worker(Link):
    def __init__(self, url: str, queue: str, handler: Handler, concurrency: int, name: str, topology: Topology,
                 heartbeat: int = HEARTBEAT, durable: bool = True):
        self.url = url
        self.durable = durable  # else the queue goes with its last consumer (questions only a live consumer answers)
        self.topology = topology
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.name = name
        self.heartbeat = heartbeat
        self.consuming = threading.Event()
        self._pool: ThreadPoolExecutor | None = None
        self._channel = None
        self._cancelled: str | None = None

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set, through channel errors and lost connections.

        On the way out it waits for the handlers at work; their answers are not
        sent (the connection is closed), so their messages are delivered again.
        """
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.name}-work") as pool:
            self._pool = pool
            keep_connected(self, stop)

    # --- what the connection's thread runs (Link) -----------------------------------------

    def parameters(self) -> pika.ConnectionParameters:
        return connection_parameters(self.url, self.name, self.topology, self.heartbeat)

    def open(self, connection: pika.BlockingConnection) -> None:
        channel = connection.channel()
        self._channel, self._cancelled = channel, None
        declare_topology(channel, self.topology)
        channel.queue_declare(self.queue, durable=self.durable, auto_delete=not self.durable)
        channel.basic_qos(prefetch_count=self.concurrency)
        channel.add_on_cancel_callback(self._on_cancelled)
        channel.basic_consume(self.queue, functools.partial(self._on_message, connection))
        self.consuming.set()
        log.info("%s: consuming %s (at most %d at once)", self.name, self.queue, self.concurrency)

    def trouble(self) -> str | None:
        channel = self._channel
        if channel is None or not channel.is_open:
            return closed_reason(channel)
        return self._cancelled

    def down(self, reason: str) -> None:
        self.consuming.clear()
        channel, self._channel = self._channel, None
        if channel is not None and channel.is_open:
            try:
                channel.close()  # its unacknowledged messages go back to the queue
            except (pika.exceptions.AMQPError, OSError):
                pass

    def _on_cancelled(self, _frame) -> None:
        self._cancelled = f"the broker cancelled the consumer of {self.queue} (queue deleted?)"

    # --- messages ----------------------------------------------------------------------------

    def _on_message(self, connection, channel, method, properties, body) -> None:
        self._pool.submit(self._work, connection, channel, method.delivery_tag, properties, body)

    def _work(self, connection, channel, delivery_tag, properties, body) -> None:
        try:
            message = Envelope.decode(body)
            reply = {"ok": True, **(self.handler(message) or {})}
        except BadMessage as exc:
            log.warning("%s: dropped a bad message: %s", self.name, exc)
            reply = {"ok": False, "error": "bad_message", "detail": str(exc)}
        except Exception as exc:  # noqa: BLE001 - the requester gets an answer, the log a traceback
            log.exception("%s: handler failed", self.name)
            reply = {"ok": False, "error": type(exc).__name__, "detail": str(exc)}

        def finish() -> None:
            if not channel.is_open:
                return  # the broker will deliver the message again
            if properties.reply_to:
                channel.basic_publish(
                    "", properties.reply_to, Envelope("reply", reply).encode(),
                    properties=pika.BasicProperties(correlation_id=properties.correlation_id,
                                                    content_type="application/json"),
                )
            channel.basic_ack(delivery_tag)

        try:
            connection.add_callback_threadsafe(finish)
        except pika.exceptions.AMQPError:
            pass  # connection gone: the message is redelivered to the next consumer

"""A consumer of one durable command queue, with bounded concurrency.

The worker takes at most ``concurrency`` messages at a time (``prefetch``),
runs each in a thread of its pool, and only once the handler has acted does it
send the reply (when the message asked for one) and acknowledge — back on the
connection's own thread through ``add_callback_threadsafe``.  A burst is
queued in RabbitMQ, not dropped; a message whose worker died is delivered
again, so handlers are idempotent.  The worker reconnects after the broker
restarts.
"""
from __future__ import annotations

import functools
import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

import pika
import pika.exceptions

from capytale.messaging.bus import backoff_delays, connection_parameters, declare_topology
from capytale.messaging.envelope import BadMessage, Envelope, Topology

log = logging.getLogger("capytale.messaging")

Handler = Callable[[Envelope], dict]


class Worker:
    def __init__(self, url: str, queue: str, handler: Handler, concurrency: int, name: str, topology: Topology):
        self.url = url
        self.topology = topology
        self.queue = queue
        self.handler = handler
        self.concurrency = concurrency
        self.name = name
        self.consuming = threading.Event()

    def run(self, stop: threading.Event) -> None:
        """Consume until ``stop`` is set; reconnects on connection errors."""
        delays = backoff_delays()
        with ThreadPoolExecutor(self.concurrency, thread_name_prefix=f"{self.name}-work") as pool:
            while not stop.is_set():
                connection = None
                try:
                    connection = pika.BlockingConnection(connection_parameters(self.url, self.name, self.topology))
                    channel = connection.channel()
                    declare_topology(channel, self.topology)
                    channel.queue_declare(self.queue, durable=True)
                    channel.basic_qos(prefetch_count=self.concurrency)
                    on_message = functools.partial(self._on_message, connection, pool)
                    channel.basic_consume(self.queue, on_message)
                    self.consuming.set()
                    delays = backoff_delays()
                    log.info("%s: consuming %s (at most %d at once)", self.name, self.queue, self.concurrency)
                    while not stop.is_set():
                        connection.process_data_events(time_limit=0.25)
                except (pika.exceptions.AMQPConnectionError, pika.exceptions.StreamLostError,
                        pika.exceptions.ConnectionClosed, OSError) as exc:
                    log.warning("%s: RabbitMQ connection lost (%s); reconnecting", self.name, exc or type(exc).__name__)
                finally:
                    self.consuming.clear()
                    if connection is not None and connection.is_open:
                        try:
                            connection.close()
                        except (pika.exceptions.AMQPError, OSError):
                            pass
                if not stop.is_set():
                    time.sleep(next(delays))

    def _on_message(self, connection, pool, channel, method, properties, body) -> None:
        pool.submit(self._work, connection, channel, method.delivery_tag, properties, body)

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

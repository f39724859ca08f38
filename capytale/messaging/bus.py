"""A process's connection to RabbitMQ for publishing, RPC calls and event subscriptions.

A pika connection belongs to one thread.  :class:`Bus` owns that thread; web
workers and other threads hand it work with ``add_callback_threadsafe`` and
wait on a future.  Events are published persistent, ``mandatory`` and with
publisher confirms to a declared topic exchange.  RPC uses RabbitMQ's direct
reply-to and a correlation id; a lost reply ends in :class:`RpcTimeout`, never
in a wait without end.  The thread reconnects with growing, jittered delays
after the broker goes away.
"""
from __future__ import annotations

import logging
import random
import threading
import time
import uuid
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any, Callable

import pika
import pika.exceptions

from capytale.messaging.envelope import BadMessage, Envelope, Topology

log = logging.getLogger("capytale.messaging")

REPLY_TO = "amq.rabbitmq.reply-to"


class MessagingUnavailable(Exception):
    """The broker cannot be reached, or refused the message."""


class RpcTimeout(Exception):
    """No reply came in time."""


def connection_parameters(url: str, name: str, topology: Topology) -> pika.URLParameters:
    """Parameters of a connection named ``<namespace>/<name>`` (as the broker's tools show it)."""
    params = pika.URLParameters(url)
    params.heartbeat = 30
    params.blocked_connection_timeout = 30
    params.connection_attempts = 1
    params.socket_timeout = 5
    params.client_properties = {"connection_name": f"{topology.namespace}/{name}"}
    return params


def backoff_delays(first: float = 0.2, limit: float = 10.0):
    """Growing delays with jitter: 0.2, 0.4, 0.8… up to ``limit`` seconds."""
    delay = first
    while True:
        yield delay * random.uniform(0.8, 1.2)
        delay = min(delay * 2, limit)


def declare_topology(channel, topology: Topology) -> None:
    channel.exchange_declare(topology.events, exchange_type="topic", durable=True)


Subscriber = Callable[[str, Envelope], None]


class Bus:
    """One connection, one thread; safe to use from any other thread."""

    def __init__(self, url: str, name: str, topology: Topology):
        self.url = url
        self.name = name
        self.topology = topology
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._pending: dict[str, Future] = {}
        self._subscriptions: list[tuple[tuple[str, ...], Subscriber]] = []
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    # --- life ----------------------------------------------------------------------

    def start(self) -> "Bus":
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name=f"bus-{self.name}", daemon=True)
                self._thread.start()
        return self

    def wait_ready(self, timeout: float) -> bool:
        self.start()
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- what other threads call -------------------------------------------------------

    def publish(self, routing_key: str, message: Envelope, timeout: float = 5.0) -> None:
        """Publish an event to the topic exchange and wait for the broker's confirm."""

        def send() -> None:
            self._channel.basic_publish(
                self.topology.events, routing_key, message.encode(),
                properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
                mandatory=False,
            )

        self._submit(send, timeout)

    def call_node(self, node: int, message: Envelope, timeout: float) -> Envelope:
        """Send a command to notebook node ``node`` and wait for its reply."""
        return self.call(self.topology.node_queue(node), message, timeout)

    def call(self, queue: str, message: Envelope, timeout: float) -> Envelope:
        """Send a command to ``queue`` and wait for its reply (raises :class:`RpcTimeout`)."""
        correlation_id = uuid.uuid4().hex
        reply: Future = Future()
        self._pending[correlation_id] = reply
        started = time.monotonic()

        def send() -> None:
            self._channel.basic_publish(
                "", queue, message.encode(),
                properties=pika.BasicProperties(
                    content_type="application/json", reply_to=REPLY_TO, correlation_id=correlation_id,
                    expiration=str(int(max(timeout, 30) * 1000)),
                ),
                mandatory=True,
            )

        try:
            self._submit(send, timeout)
            remaining = max(0.0, timeout - (time.monotonic() - started))
            return reply.result(timeout=remaining)
        except FutureTimeout:
            raise RpcTimeout(f"no reply from {queue} to {message.type} within {timeout:.1f}s") from None
        finally:
            self._pending.pop(correlation_id, None)

    def subscribe(self, binding_keys: tuple[str, ...], callback: Subscriber) -> None:
        """Receive events matching ``binding_keys``; ``callback`` runs in the bus thread: keep it short."""
        self._subscriptions.append((binding_keys, callback))
        if self._ready.is_set():
            self._submit(lambda: self._bind(binding_keys, callback), 5.0)
        self.start()

    # --- the bus thread ---------------------------------------------------------------------

    def _submit(self, work: Callable[[], Any], timeout: float) -> Any:
        if not self.wait_ready(timeout):
            raise MessagingUnavailable("RabbitMQ is not reachable")
        done: Future = Future()

        def run() -> None:
            try:
                done.set_result(work())
            except pika.exceptions.UnroutableError as exc:
                done.set_exception(MessagingUnavailable(f"no queue took the message: {exc}"))
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)

        try:
            self._connection.add_callback_threadsafe(run)
        except (pika.exceptions.AMQPError, AttributeError) as exc:
            raise MessagingUnavailable(str(exc)) from None
        try:
            return done.result(timeout=timeout)
        except FutureTimeout:
            raise MessagingUnavailable("RabbitMQ did not confirm in time") from None

    def _run(self) -> None:
        delays = backoff_delays()
        while not self._stopping.is_set():
            try:
                self._connect()
                delays = backoff_delays()
                while not self._stopping.is_set():
                    self._connection.process_data_events(time_limit=0.25)
            except (pika.exceptions.AMQPError, OSError) as exc:
                log.warning("%s: RabbitMQ connection lost (%s); reconnecting", self.name, exc or type(exc).__name__)
            finally:
                self._ready.clear()
                self._fail_pending()
                self._close_connection()
            if not self._stopping.is_set():
                time.sleep(next(delays))

    def _connect(self) -> None:
        self._connection = pika.BlockingConnection(connection_parameters(self.url, self.name, self.topology))
        self._channel = self._connection.channel()
        self._channel.confirm_delivery()
        declare_topology(self._channel, self.topology)
        self._channel.basic_consume(REPLY_TO, self._on_reply, auto_ack=True)
        for binding_keys, callback in self._subscriptions:
            self._bind(binding_keys, callback)
        self._ready.set()
        log.debug("%s: connected to RabbitMQ", self.name)

    def _bind(self, binding_keys: tuple[str, ...], callback: Subscriber) -> None:
        result = self._channel.queue_declare("", exclusive=True, auto_delete=True)
        queue = result.method.queue
        for key in binding_keys:
            self._channel.queue_bind(queue, self.topology.events, routing_key=key)

        def deliver(_channel, method, _properties, body) -> None:
            try:
                callback(method.routing_key, Envelope.decode(body))
            except BadMessage as exc:
                log.warning("%s: dropped a bad event on %s: %s", self.name, method.routing_key, exc)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not kill the bus
                log.exception("%s: subscriber failed on %s", self.name, method.routing_key)

        self._channel.basic_consume(queue, deliver, auto_ack=True)

    def _on_reply(self, _channel, _method, properties, body) -> None:
        future = self._pending.get(properties.correlation_id)
        if future is None or future.done():
            return  # a reply that came after its caller gave up
        try:
            future.set_result(Envelope.decode(body))
        except BadMessage as exc:
            future.set_exception(MessagingUnavailable(f"bad reply: {exc}"))

    def _fail_pending(self) -> None:
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(MessagingUnavailable("connection to RabbitMQ lost"))

    def _close_connection(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None and connection.is_open:
            try:
                connection.close()
            except (pika.exceptions.AMQPError, OSError):
                pass


def delete_topology(url: str, topology: Topology, nodes: int) -> None:
    """Remove a namespace's node queues and exchange (tests and benchmarks clean up after themselves)."""
    connection = pika.BlockingConnection(connection_parameters(url, "cleanup", topology))
    try:
        channel = connection.channel()
        for node in range(1, nodes + 1):
            channel.queue_delete(topology.node_queue(node))
        channel.exchange_delete(topology.events)
    finally:
        connection.close()

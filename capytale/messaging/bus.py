"""A process's connection to RabbitMQ for publishing, RPC calls and event subscriptions.

A pika connection belongs to one thread.  :class:`Bus` owns that thread (kept
connected by :func:`capytale.messaging.reconnect.keep_connected`); web workers and
other threads hand it work with ``add_callback_threadsafe`` and wait on a future.
Events are published persistent, with publisher confirms, to a declared topic
exchange.  RPC uses RabbitMQ's direct reply-to and a correlation id; a lost
reply ends in :class:`RpcTimeout`, never in a wait without end.  Subscribers'
callbacks run in a thread of their own, one event after the other, so that a
slow one never keeps the connection's thread from the broker's heartbeats.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from concurrent.futures import Future, TimeoutError as FutureTimeout
from typing import Any, Callable

import pika
import pika.exceptions

from capytale.messaging.envelope import BadMessage, Envelope, Topology
from capytale.messaging.reconnect import HEARTBEAT, Link, closed_reason, connection_parameters, describe, keep_connected

log = logging.getLogger("capytale.messaging")

REPLY_TO = "amq.rabbitmq.reply-to"


class MessagingUnavailable(Exception):
    """The broker cannot be reached, or refused the message."""


class RpcTimeout(Exception):
    """No reply came in time."""


def declare_topology(channel, topology: Topology) -> None:
    channel.exchange_declare(topology.events, exchange_type="topic", durable=True)


Subscriber = Callable[[str, Envelope], None]


class Bus(Link):
    """One connection, one thread; safe to use from any other thread."""

    def __init__(self, url: str, name: str, topology: Topology, heartbeat: int = HEARTBEAT):
        self.url = url
        self.name = name
        self.topology = topology
        self.heartbeat = heartbeat
        self._connection: pika.BlockingConnection | None = None
        self._channel = None
        self._ready = threading.Event()
        self._stopping = threading.Event()
        self._wanted = threading.Event()  # someone waits on the link: the next attempt is made at once
        self._pending: dict[str, Future] = {}
        self._subscriptions: list[tuple[tuple[str, ...], Subscriber]] = []
        self._bound = 0  # how many of the subscriptions the current channel carries
        self._events: queue.SimpleQueue = queue.SimpleQueue()  # (callback, routing key, body); None stops
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []

    # --- life ----------------------------------------------------------------------

    def start(self) -> "Bus":
        with self._lock:
            if not self._threads:
                self._threads = [
                    threading.Thread(target=keep_connected, args=(self, self._stopping), kwargs={"wake": self._wanted},
                                     name=f"bus-{self.name}", daemon=True),
                    threading.Thread(target=self._deliver_events, name=f"bus-{self.name}-events", daemon=True),
                ]
                for thread in self._threads:
                    thread.start()
        return self

    @property
    def ready(self) -> bool:
        """Whether the link is up now."""
        return self._ready.is_set()

    def wait_ready(self, timeout: float) -> bool:
        """Whether the link is up within ``timeout``; while it is down, its next attempt is made at once."""
        self.start()
        if not self._ready.is_set():
            self._wanted.set()
        return self._ready.wait(timeout)

    def close(self) -> None:
        self._stopping.set()
        self._events.put(None)
        for thread in self._threads:
            thread.join(timeout=5)

    # --- what other threads call -------------------------------------------------------

    def publish(self, routing_key: str, message: Envelope, timeout: float = 5.0) -> None:
        """Publish an event to the topic exchange and wait for the broker's confirm."""

        def send(channel) -> None:
            channel.basic_publish(
                self.topology.events, routing_key, message.encode(),
                properties=pika.BasicProperties(content_type="application/json", delivery_mode=2),
                mandatory=False,
            )

        self._submit(send, timeout)

    def call_node(self, node: int, message: Envelope, timeout: float) -> Envelope:
        """Send a command to notebook node ``node`` and wait for its reply."""
        return self.call(self.topology.node_queue(node), message, timeout)

    def call(self, queue_name: str, message: Envelope, timeout: float) -> Envelope:
        """Send a command to ``queue_name`` and wait for its reply (raises :class:`RpcTimeout`)."""
        correlation_id = uuid.uuid4().hex
        reply: Future = Future()
        self._pending[correlation_id] = reply
        started = time.monotonic()

        def send(channel) -> None:
            channel.basic_publish(
                "", queue_name, message.encode(),
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
            raise RpcTimeout(f"no reply from {queue_name} to {message.type} within {timeout:.1f}s") from None
        finally:
            self._pending.pop(correlation_id, None)

    def subscribe(self, binding_keys: tuple[str, ...], callback: Subscriber) -> None:
        """Receive events matching ``binding_keys``; ``callback`` runs in the bus's events thread.

        Once connected, this returns when the subscription is bound; before, it is
        bound as soon as the connection opens (and again after each reconnection).
        """
        with self._lock:
            self._subscriptions.append((binding_keys, callback))
        if self._ready.is_set():
            try:
                self._submit(lambda _channel: self._bind_new(), 5.0)
            except MessagingUnavailable as exc:
                log.debug("%s: subscription to %s bound on reconnection (%s)", self.name, binding_keys, exc)
        self.start()

    # --- what the connection's thread runs (Link) -----------------------------------------

    def parameters(self) -> pika.ConnectionParameters:
        return connection_parameters(self.url, self.name, self.topology, self.heartbeat)

    def open(self, connection: pika.BlockingConnection) -> None:
        self._connection = connection
        channel = connection.channel()
        channel.confirm_delivery()
        declare_topology(channel, self.topology)
        channel.basic_consume(REPLY_TO, self._on_reply, auto_ack=True)
        self._channel, self._bound = channel, 0
        self._bind_new()
        self._ready.set()
        log.debug("%s: connected to RabbitMQ", self.name)

    def trouble(self) -> str | None:
        channel = self._channel
        return None if channel is not None and channel.is_open else closed_reason(channel)

    def down(self, reason: str) -> None:
        self._ready.clear()
        for future in list(self._pending.values()):
            if not future.done():
                future.set_exception(MessagingUnavailable(f"RabbitMQ link lost: {reason}"))
        channel, self._channel = self._channel, None
        if channel is not None and channel.is_open:
            try:
                channel.close()
            except (pika.exceptions.AMQPError, OSError):
                pass

    def _submit(self, work: Callable[[Any], Any], timeout: float) -> Any:
        """Run ``work(channel)`` in the connection's thread and wait for its result."""
        if not self.wait_ready(timeout):
            raise MessagingUnavailable("RabbitMQ is not reachable")
        done: Future = Future()

        def run() -> None:
            channel = self._channel
            try:
                if channel is None or not channel.is_open or not self._ready.is_set():
                    raise MessagingUnavailable("the channel to RabbitMQ is being reopened")
                done.set_result(work(channel))
            except pika.exceptions.UnroutableError as exc:
                done.set_exception(MessagingUnavailable(f"no queue took the message: {exc}"))
            except pika.exceptions.AMQPError as exc:  # the loop sees the closed channel and reopens it
                done.set_exception(MessagingUnavailable(f"RabbitMQ refused: {describe(exc)}"))
            except Exception as exc:  # noqa: BLE001 - handed to the caller
                done.set_exception(exc)

        connection = self._connection
        try:
            connection.add_callback_threadsafe(run)
        except (pika.exceptions.AMQPError, AttributeError) as exc:
            raise MessagingUnavailable(str(exc)) from None
        try:
            return done.result(timeout=timeout)
        except FutureTimeout:
            raise MessagingUnavailable("RabbitMQ did not confirm in time") from None

    def _bind_new(self) -> None:
        """Bind, on the current channel, the subscriptions it does not carry yet."""
        with self._lock:
            waiting = self._subscriptions[self._bound:]
        for binding_keys, callback in waiting:
            self._bind(binding_keys, callback)
            self._bound += 1

    def _bind(self, binding_keys: tuple[str, ...], callback: Subscriber) -> None:
        result = self._channel.queue_declare("", exclusive=True, auto_delete=True)
        queue_name = result.method.queue
        for key in binding_keys:
            self._channel.queue_bind(queue_name, self.topology.events, routing_key=key)

        def deliver(_channel, method, _properties, body) -> None:
            self._events.put((callback, method.routing_key, body))

        self._channel.basic_consume(queue_name, deliver, auto_ack=True)

    def _on_reply(self, _channel, _method, properties, body) -> None:
        future = self._pending.get(properties.correlation_id)
        if future is None or future.done():
            return  # a reply that came after its caller gave up
        try:
            future.set_result(Envelope.decode(body))
        except BadMessage as exc:
            future.set_exception(MessagingUnavailable(f"bad reply: {exc}"))

    # --- the events thread ---------------------------------------------------------------------

    def _deliver_events(self) -> None:
        while True:
            event = self._events.get()
            if event is None:
                return
            callback, routing_key, body = event
            try:
                callback(routing_key, Envelope.decode(body))
            except BadMessage as exc:
                log.warning("%s: dropped a bad event on %s: %s", self.name, routing_key, exc)
            except Exception:  # noqa: BLE001 - a subscriber's bug must not stop the others
                log.exception("%s: subscriber failed on %s", self.name, routing_key)


def delete_topology(url: str, topology: Topology, nodes: int) -> None:
    """Remove a namespace's node queues, revocations queue and exchange (tests and benchmarks clean up after
    themselves)."""
    connection = pika.BlockingConnection(connection_parameters(url, "cleanup", topology))
    try:
        channel = connection.channel()
        for node in range(1, nodes + 1):
            channel.queue_delete(topology.node_queue(node))
        channel.queue_delete(topology.revocations_queue)
        channel.exchange_delete(topology.events)
    finally:
        connection.close()

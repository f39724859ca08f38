"""A Bus and a Worker on the RabbitMQ of this machine, through what a broker does to them.

The broker closes their connections (``rabbitmqctl close_connection``, as an
operator or a restart would), closes their channels (a publish to a deleted
exchange, a queue declared again with other arguments), and a command takes
longer than two heartbeat intervals.  Each test has its own namespace and
deletes its queue and exchange when done; the broker itself is never restarted.
"""
from __future__ import annotations

import logging
import re
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Iterator

import pika
import pika.exceptions
import pytest

from capytale.messaging import Bus, Envelope, MessagingUnavailable, Topology, Worker, delete_topology
from tests.conftest import rabbitmq_reachable

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"
HEARTBEAT = 2  # seconds: RabbitMQ closes a connection silent for about three of them
NODE = 1

pytestmark = pytest.mark.skipif(not rabbitmq_reachable(), reason="no RabbitMQ on 127.0.0.1:5672")


def wait_until(condition, timeout: float, message: str, interval: float = 0.1):
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{message}: not after {timeout}s")
        time.sleep(interval)
    return value


# --- the broker's side, through rabbitmqctl ---------------------------------------------------------

NAME = re.compile(r'\{"connection_name","([^"]*)"\}')


def connections(namespace: str) -> dict[str, set[str]]:
    """The broker's pids of the connections named ``<namespace>/<part>``, by name."""
    if shutil.which("rabbitmqctl") is None:
        pytest.skip("rabbitmqctl is not on this machine")
    listed = subprocess.run(["rabbitmqctl", "-q", "--no-table-headers", "list_connections", "pid",
                             "client_properties"], capture_output=True, text=True, timeout=30)
    if listed.returncode != 0:
        pytest.skip(f"rabbitmqctl cannot manage this broker here: {listed.stderr.strip()[:200]}")
    found: dict[str, set[str]] = {}
    for line in listed.stdout.splitlines():
        pid, _, properties = line.partition("\t")
        name = NAME.search(properties)
        if name and name.group(1).startswith(f"{namespace}/"):
            found.setdefault(name.group(1), set()).add(pid)
    return found


def close_connection(pid: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", "close_connection", pid, "test: closed by the broker"],
                   capture_output=True, timeout=30, check=True)


def side_channel():
    """A connection of the test's own, to do to the broker what an operator would."""
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    return connection, connection.channel()


# --- a node's worker and a bus ------------------------------------------------------------------------


@dataclass
class Node:
    """A Worker consuming node 1's queue in a thread: ``echo`` answers its body, ``sleep`` sleeps first."""

    worker: Worker
    stop: threading.Event = field(default_factory=threading.Event)
    thread: threading.Thread | None = None

    @property
    def connection_name(self) -> str:
        return f"{self.worker.topology.namespace}/{self.worker.name}"


def handle(message: Envelope) -> dict:
    if message.type == "sleep":
        time.sleep(message.body["seconds"])
        return {"slept": message.body["seconds"]}
    return {"echo": message.body}


@pytest.fixture
def topology() -> Iterator[Topology]:
    made = Topology(f"capytale-test-{secrets.token_hex(4)}")
    yield made
    delete_topology(AMQP_URL, made, nodes=NODE)


@pytest.fixture
def start_node(topology):
    """Start a node's worker; each is stopped at teardown, and must stop promptly."""
    started: list[Node] = []

    def start(concurrency: int = 2) -> Node:
        worker = Worker(AMQP_URL, topology.node_queue(NODE), handle, concurrency, name="tests-node",
                        topology=topology, heartbeat=HEARTBEAT)
        node = Node(worker)
        node.thread = threading.Thread(target=worker.run, args=(node.stop,), name="tests-node")
        node.thread.start()
        started.append(node)
        assert worker.consuming.wait(10), "the worker never consumed"
        return node

    yield start
    for node in started:
        node.stop.set()
    for node in started:
        began = time.monotonic()
        node.thread.join(15)
        assert not node.thread.is_alive(), "the worker did not stop"
        assert time.monotonic() - began < 10  # the handlers at work finish; nothing else is waited for


@pytest.fixture
def bus(topology) -> Iterator[Bus]:
    made = Bus(AMQP_URL, "tests-bus", topology, heartbeat=HEARTBEAT)
    assert made.wait_ready(10), "RabbitMQ is not reachable at 127.0.0.1:5672"
    yield made
    began = time.monotonic()
    made.close()
    assert time.monotonic() - began < 2, "the bus did not stop promptly"


def echo(bus: Bus, text: str, timeout: float = 10) -> dict:
    return bus.call_node(NODE, Envelope("echo", {"text": text}), timeout=timeout).body


def publish_until_heard(bus: Bus, heard: list, text: str, timeout: float = 15) -> None:
    """Publish ``tests.ping`` until the subscriber hears it (a channel or connection may be reopening)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            bus.publish("tests.ping", Envelope("tests.ping", {"text": text}), timeout=2)
        except MessagingUnavailable:
            time.sleep(0.2)
            continue
        if any(event.get("text") == text for event in wait_a_little(heard)):
            return
    raise AssertionError(f"{text!r} never heard")


def wait_a_little(heard: list) -> list:
    time.sleep(0.3)
    return list(heard)


def messaging_warnings(caplog, part: str) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "capytale.messaging" and r.levelno == logging.WARNING and r.getMessage().startswith(part)]


# --- the tests --------------------------------------------------------------------------------------------


def test_a_bus_and_a_worker_come_back_after_the_broker_closes_their_connections(topology, start_node, bus, caplog):
    node = start_node()
    heard: list[dict] = []
    bus.subscribe(("tests.#",), lambda _key, event: heard.append(event.body))
    assert echo(bus, "before") == {"ok": True, "echo": {"text": "before"}}
    publish_until_heard(bus, heard, "before")

    before = wait_until(lambda: (found := connections(topology.namespace)).keys() >= {
        node.connection_name, f"{topology.namespace}/tests-bus"} and found, 10, "both connections listed")
    for pids in before.values():
        for pid in pids:
            close_connection(pid)

    def both_back():
        now = connections(topology.namespace)
        return all(now.get(name, set()) - pids for name, pids in before.items())

    wait_until(both_back, 20, "both connections made again")
    assert echo(bus, "after", timeout=20) == {"ok": True, "echo": {"text": "after"}}
    publish_until_heard(bus, heard, "after")
    for part in ("tests-node", "tests-bus"):
        lost = messaging_warnings(caplog, f"{part}: RabbitMQ connection lost")
        assert len(lost) == 1 and "CONNECTION_FORCED" in lost[0], lost


def test_a_bus_reopens_its_channel_after_a_publish_to_a_deleted_exchange(topology, start_node, bus, caplog):
    start_node()
    heard: list[dict] = []
    bus.subscribe(("tests.#",), lambda _key, event: heard.append(event.body))
    publish_until_heard(bus, heard, "before")
    pids = connections(topology.namespace)[f"{topology.namespace}/tests-bus"]

    connection, channel = side_channel()
    try:
        channel.exchange_delete(topology.events)
    finally:
        connection.close()
    with pytest.raises(MessagingUnavailable, match="NOT_FOUND"):
        bus.publish("tests.ping", Envelope("tests.ping", {"text": "lost"}), timeout=5)

    publish_until_heard(bus, heard, "after")  # the exchange declared again, the subscription bound again
    assert echo(bus, "rpc after") == {"ok": True, "echo": {"text": "rpc after"}}
    assert connections(topology.namespace)[f"{topology.namespace}/tests-bus"] == pids, "the connection stayed"
    closed = messaging_warnings(caplog, "tests-bus: RabbitMQ channel closed")
    assert len(closed) == 1 and "NOT_FOUND" in closed[0], closed
    assert not messaging_warnings(caplog, "tests-bus: RabbitMQ connection lost")


def test_a_worker_outlives_its_queue_deleted_then_declared_with_other_arguments(topology, start_node, bus, caplog):
    node = start_node()
    assert echo(bus, "before")["ok"]
    pids = connections(topology.namespace)[node.connection_name]
    queue = topology.node_queue(NODE)

    connection, channel = side_channel()
    try:
        for _ in range(5):  # a non-durable queue of the same name, put there before the worker declares its own
            try:
                channel.queue_delete(queue)
                channel.queue_declare(queue, durable=False)
                break
            except pika.exceptions.ChannelClosedByBroker:
                channel = connection.channel()
        else:
            pytest.fail("could not put a conflicting queue in place")
        wait_until(lambda: messaging_warnings(caplog, "tests-node: RabbitMQ channel closed ((406"), 10,
                   "the worker's PRECONDITION_FAILED logged")
        assert not node.worker.consuming.is_set() and node.thread.is_alive()
        time.sleep(3)  # a few more attempts meet the same conflict
        channel.queue_delete(queue)
    finally:
        connection.close()

    assert node.worker.consuming.wait(15), "the worker consumes again once its queue can be declared"
    assert echo(bus, "after")["ok"]
    assert connections(topology.namespace)[node.connection_name] == pids, "channel errors cost no connection"
    closed = messaging_warnings(caplog, "tests-node: RabbitMQ channel closed")
    assert len(closed) == 2, closed  # the consumer cancelled with its queue, then the conflict: each once
    assert "cancelled the consumer" in closed[0] and "PRECONDITION_FAILED" in closed[1]


def test_a_command_longer_than_two_heartbeats_keeps_the_workers_connection(topology, start_node, bus, caplog):
    node = start_node(concurrency=1)
    pids = connections(topology.namespace)[node.connection_name]

    silent = threading.Event()  # the control: a connection whose thread blocks this long is dropped by the broker

    def block_a_connection() -> None:
        params = pika.URLParameters(AMQP_URL)
        params.heartbeat = HEARTBEAT
        blocked = pika.BlockingConnection(params)
        time.sleep(4 * HEARTBEAT)
        try:
            blocked.process_data_events(time_limit=1)
            blocked.channel()
            blocked.close()
        except pika.exceptions.AMQPConnectionError:
            silent.set()

    control = threading.Thread(target=block_a_connection)
    control.start()
    reply = bus.call_node(NODE, Envelope("sleep", {"seconds": 4 * HEARTBEAT}), timeout=30).body
    control.join(30)

    assert reply == {"ok": True, "slept": 4 * HEARTBEAT}
    assert silent.is_set(), "the broker keeps even a silent connection: this test shows nothing here"
    assert connections(topology.namespace)[node.connection_name] == pids, "the worker's connection stayed"
    assert not messaging_warnings(caplog, "tests-node: RabbitMQ connection lost")
    assert not messaging_warnings(caplog, "tests-bus: RabbitMQ connection lost")


def test_a_slow_subscriber_keeps_the_buses_connection(topology, start_node, bus, caplog):
    start_node()
    pids = connections(topology.namespace)[f"{topology.namespace}/tests-bus"]
    done = threading.Event()

    def slow(_key, _event) -> None:
        time.sleep(4 * HEARTBEAT)
        done.set()

    bus.subscribe(("tests.slow",), slow)
    bus.publish("tests.slow", Envelope("tests.slow", {}))
    time.sleep(HEARTBEAT)
    assert echo(bus, "while the subscriber works")["ok"], "RPC goes on beside a slow subscriber"
    assert done.wait(30)
    assert connections(topology.namespace)[f"{topology.namespace}/tests-bus"] == pids
    assert not messaging_warnings(caplog, "tests-bus: RabbitMQ connection lost")

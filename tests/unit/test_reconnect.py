"""The one reconnect loop of Bus and Worker, against a pretend broker: what it reopens, when, and what it logs."""
from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from concurrent.futures import Future

import pika.exceptions
import pytest

from capytale.messaging import Bus, MessagingUnavailable, Topology
from capytale.messaging.reconnect import Link, backoff_delays, keep_connected

PRECONDITION = pika.exceptions.ChannelClosedByBroker(406, "PRECONDITION_FAILED - inequivalent arg 'durable'")
NOT_FOUND = "(404, \"NOT_FOUND - no exchange 'capytale.events' in vhost '/'\")"


class FakeConnection:
    """A connection whose polls do what the test says (``on_poll(connection, count)``)."""

    def __init__(self, on_poll):
        self.on_poll = on_poll
        self.is_open = True
        self.polls = 0

    @property
    def is_closed(self) -> bool:
        return not self.is_open

    def process_data_events(self, time_limit: float) -> None:
        self.polls += 1
        self.on_poll(self, self.polls)

    def close(self) -> None:
        self.is_open = False

    def add_on_connection_blocked_callback(self, _callback) -> None:
        pass

    def add_on_connection_unblocked_callback(self, _callback) -> None:
        pass


class FakeBroker:
    """Hands out connections; ``refusals`` are raised by the first attempts to connect."""

    def __init__(self, on_poll, refusals=()):
        self.on_poll = on_poll
        self.refusals = list(refusals)
        self.attempts = 0
        self.connections: list[FakeConnection] = []

    def connect(self, _parameters) -> FakeConnection:
        self.attempts += 1
        if self.refusals:
            raise self.refusals.pop(0)
        self.connections.append(FakeConnection(self.on_poll))
        return self.connections[-1]


class FakeLink(Link):
    name = "fake"

    def __init__(self, open_errors=(), troubles=()):
        self.open_errors = list(open_errors)
        self.troubles = list(troubles)
        self.opened: list[FakeConnection] = []
        self.downs: list[str] = []

    def parameters(self):
        return "parameters"

    def open(self, connection) -> None:
        if self.open_errors:
            raise self.open_errors.pop(0)
        self.opened.append(connection)

    def trouble(self):
        return self.troubles.pop(0) if self.troubles else None

    def down(self, reason: str) -> None:
        self.downs.append(reason)


class CountedDelays:
    """Delays of ``value`` seconds, counting how often the loop started them over."""

    def __init__(self, value: float = 0.0):
        self.value = value
        self.started = 0
        self.given: list[float] = []

    def __call__(self):
        self.started += 1
        return self._delays()

    def _delays(self):
        while True:
            self.given.append(self.value)
            yield self.value


def stop_after(polls: int, stop: threading.Event):
    """An ``on_poll`` that sets ``stop`` once the ``polls``-th poll of a connection is done."""

    def on_poll(_connection, count: int) -> None:
        if count >= polls:
            stop.set()

    return on_poll


def run(link: Link, broker: FakeBroker, stop: threading.Event, delays=None, **options) -> None:
    keep_connected(link, stop, poll=0.001, delays=delays or CountedDelays(), connect=broker.connect, **options)


def warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING and r.name == "capytale.messaging"]


# --- the delays ------------------------------------------------------------------------------


def test_delays_double_up_to_their_limit():
    assert list(itertools.islice(backoff_delays(jitter=0), 8)) == [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]


def test_delays_are_jittered_around_their_step():
    steps = [0.2, 0.4, 0.8, 1.6, 3.2, 6.4, 10.0, 10.0]
    delays = list(itertools.islice(backoff_delays(rng=random.Random(7)), len(steps)))
    assert all(0.8 * step <= delay <= 1.2 * step for delay, step in zip(delays, steps))
    assert delays != steps


# --- the loop --------------------------------------------------------------------------------


def test_a_broker_away_is_retried_with_one_warning(caplog):
    stop = threading.Event()
    refused = pika.exceptions.AMQPConnectionError("connection refused")
    broker, link, delays = FakeBroker(stop_after(1, stop), refusals=[refused] * 3), FakeLink(), CountedDelays()
    with caplog.at_level(logging.DEBUG, "capytale.messaging"):
        run(link, broker, stop, delays)
    assert broker.attempts == 4 and len(link.opened) == 1
    assert len(delays.given) == 3  # one delay after each refusal, none after the stop
    assert warnings(caplog) == ["fake: RabbitMQ unreachable (connection refused); retrying"]
    assert "fake: RabbitMQ link back (it was down: connection refused)" in caplog.messages


def test_a_channel_error_reopens_the_channel_on_the_same_connection(caplog):
    stop = threading.Event()
    broker, link = FakeBroker(stop_after(1, stop)), FakeLink(open_errors=[PRECONDITION, PRECONDITION])
    run(link, broker, stop)
    assert len(broker.connections) == 1, "a channel error does not cost the connection"
    assert link.opened == broker.connections
    assert warnings(caplog) == [f"fake: RabbitMQ channel closed ({PRECONDITION}); reopening it"]
    assert link.downs == [str(PRECONDITION), str(PRECONDITION), "stopping"]


def test_a_channel_the_broker_closes_while_in_use_is_reopened(caplog):
    stop = threading.Event()
    broker = FakeBroker(lambda _connection, _count: stop.set() if len(link.opened) == 2 else None)
    link = FakeLink(troubles=[None, NOT_FOUND])
    run(link, broker, stop)
    assert len(broker.connections) == 1 and len(link.opened) == 2
    assert link.downs == [NOT_FOUND, "stopping"]
    assert warnings(caplog) == [f"fake: RabbitMQ channel closed ({NOT_FOUND}); reopening it"]


def test_a_lost_connection_is_made_again(caplog):
    stop = threading.Event()

    def on_poll(connection, _count):
        if connection is broker.connections[0]:
            raise pika.exceptions.StreamLostError("Transport indicated EOF")
        stop.set()

    broker, link = FakeBroker(on_poll), FakeLink()
    run(link, broker, stop)
    assert len(broker.connections) == 2 and link.opened == broker.connections
    assert broker.connections[0].is_closed
    assert warnings(caplog) == ["fake: RabbitMQ connection lost (Transport indicated EOF); reconnecting"]


def test_a_connection_closed_under_the_loop_is_noticed():
    stop = threading.Event()

    def on_poll(connection, _count):
        if connection is broker.connections[0]:
            connection.is_open = False  # as pika leaves it after a close it reports to nobody
        else:
            stop.set()

    broker, link = FakeBroker(on_poll), FakeLink()
    run(link, broker, stop)
    assert len(broker.connections) == 2


def test_the_same_reason_is_logged_once_a_new_one_again(caplog):
    stop = threading.Event()
    away, refused = pika.exceptions.AMQPConnectionError("host unreachable"), ConnectionRefusedError("refused")
    broker = FakeBroker(stop_after(1, stop), refusals=[away, away, away, refused, refused])
    run(FakeLink(), broker, stop)
    assert warnings(caplog) == ["fake: RabbitMQ unreachable (host unreachable); retrying",
                                "fake: RabbitMQ unreachable (refused); retrying"]


def test_a_bug_in_a_link_is_logged_with_its_traceback_and_the_link_started_again(caplog):
    stop = threading.Event()
    broker, link = FakeBroker(stop_after(1, stop)), FakeLink(open_errors=[KeyError("oops")])
    run(link, broker, stop)
    assert len(link.opened) == 1
    failed = [r for r in caplog.records if r.getMessage() == "fake: RabbitMQ link failed; starting it again"]
    assert len(failed) == 1 and failed[0].exc_info is not None


def test_delays_start_over_only_after_a_stable_link():
    def flapping(stable: float) -> CountedDelays:
        stop, delays = threading.Event(), CountedDelays()

        def on_poll(connection, _count):
            if len(broker.connections) == 4:
                stop.set()
            else:
                raise pika.exceptions.StreamLostError("flap")

        broker = FakeBroker(on_poll)
        run(FakeLink(), broker, stop, delays, stable=stable)
        return delays

    assert flapping(stable=3600).started == 1  # a link that keeps dropping at once waits longer each time
    assert flapping(stable=0).started == 4


def test_stopping_is_prompt_during_a_long_delay():
    stop = threading.Event()
    broker = FakeBroker(stop_after(1, stop), refusals=[OSError("refused")] * 10)
    loop = threading.Thread(target=run, args=(FakeLink(), broker, stop, CountedDelays(60.0)))
    loop.start()
    time.sleep(0.2)
    began = time.monotonic()
    stop.set()
    loop.join(5)
    assert not loop.is_alive() and time.monotonic() - began < 1.0


def test_stopping_while_connected_closes_the_connection_and_the_link():
    stop = threading.Event()
    broker, link = FakeBroker(lambda _connection, _count: time.sleep(0.01)), FakeLink()
    loop = threading.Thread(target=run, args=(link, broker, stop))
    loop.start()
    time.sleep(0.2)
    stop.set()
    loop.join(2)
    assert not loop.is_alive()
    assert link.downs == ["stopping"] and broker.connections[0].is_closed


# --- what a Bus does when its channel goes ------------------------------------------------------


def test_a_bus_fails_the_calls_waiting_on_a_lost_channel_and_refuses_new_ones_until_reopened():
    bus = Bus("amqp://guest:guest@127.0.0.1:1/%2F", "tests-unit", Topology("capytale-test-unit"))
    waiting: Future = Future()
    bus._pending["abc"] = waiting
    bus._ready.set()
    bus.down("(404, 'NOT_FOUND')")
    with pytest.raises(MessagingUnavailable, match="NOT_FOUND"):
        waiting.result(timeout=0)
    assert not bus._ready.is_set()


def test_a_wake_cuts_a_long_delay_short_but_not_below_its_least():
    """Someone waits on the link (a publish, a router hearing no node): the next attempt is made at once
    rather than at the end of a delay grown during the outage, and no sooner than WAKE_LEAST."""
    from capytale.messaging.reconnect import WAKE_LEAST

    stop, wake = threading.Event(), threading.Event()
    broker = FakeBroker(stop_after(1, stop), refusals=[OSError("refused")])
    loop = threading.Thread(target=run, args=(FakeLink(), broker, stop, CountedDelays(60.0)), kwargs={"wake": wake})
    began = time.monotonic()
    loop.start()
    wake.set()  # at once: the attempt still waits WAKE_LEAST
    loop.join(10)
    took = time.monotonic() - began
    assert not loop.is_alive() and broker.attempts == 2, "connected on the attempt after the wake"
    assert WAKE_LEAST * 0.9 <= took < WAKE_LEAST + 2, took
    assert not wake.is_set(), "cleared once the link is up"


def test_a_bus_waited_on_while_down_asks_for_its_next_attempt_at_once():
    bus = Bus("amqp://guest:guest@127.0.0.1:9/%2F", "tests-wake", Topology("tests-wake"))
    bus._threads = [threading.Thread()]  # not started: only what wait_ready asks of the loop is looked at
    assert not bus.ready and not bus._wanted.is_set()
    assert bus.wait_ready(0.01) is False
    assert bus._wanted.is_set()


def test_a_wake_is_taken_by_one_attempt_and_the_delays_go_on_after_it():
    """A broker still away after the attempt a wake asked for: the next attempt waits its delay again."""
    stop, wake = threading.Event(), threading.Event()
    broker = FakeBroker(stop_after(1, stop), refusals=[OSError("refused")] * 2)
    loop = threading.Thread(target=run, args=(FakeLink(), broker, stop, CountedDelays(60.0)), kwargs={"wake": wake})
    loop.start()
    wake.set()
    wait_until_attempts = time.monotonic() + 5
    while broker.attempts < 2 and time.monotonic() < wait_until_attempts:
        time.sleep(0.01)
    time.sleep(1.5)  # three times WAKE_LEAST: a wake left set would have made a third attempt by now
    assert broker.attempts == 2 and not wake.is_set()
    stop.set()
    loop.join(5)
    assert not loop.is_alive()

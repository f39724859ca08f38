"""Admission control: the node's start queue (order, places, one ticket per student, one retry) and
how long a start may take (progressing starts are never cut short)."""
from __future__ import annotations

import contextlib
import threading
import time

import pytest

from capytale.errors import PlatformError
from services.spawner.admission import DONE, FAILED, QUEUED, STARTING, StartQueue, StartWatch


class Gate:
    """A start function that blocks each start until the test lets it finish."""

    def __init__(self, fail: int = 0):
        self.release = threading.Event()
        self.started: list[str] = []
        self.fail = fail  # how many starts fail before they work
        self.lock = threading.Lock()

    def __call__(self, user_key: str, lab: bool) -> None:
        with self.lock:
            self.started.append(user_key)
            failing = self.fail > 0
            self.fail -= failing
        assert self.release.wait(10)
        if failing:
            raise PlatformError("raté", reason="spawn_failed", status=503, log_message="test failure")


@contextlib.contextmanager
def queue_of(gate: Gate, parallel: int = 1):
    queue = StartQueue(gate, parallel=parallel)
    try:
        yield queue
    finally:
        gate.release.set()
        queue.close()


def test_a_class_waits_in_arrival_order_with_its_places_and_no_more_starts_than_allowed():
    gate = Gate()
    with queue_of(gate, parallel=2) as queue:
        tickets = [queue.submit(f"k{i}") for i in range(6)]
        for _ in range(200):
            if len(gate.started) == 2:
                break
            threading.Event().wait(0.01)
        assert gate.started == ["k0", "k1"], "two at once, the first two to arrive"
        assert [t.state for t in tickets] == [STARTING, STARTING, QUEUED, QUEUED, QUEUED, QUEUED]
        assert [queue.position(t) for t in tickets] == [0, 0, 1, 2, 3, 4]
        assert queue.submit("k3") is tickets[3], "a student asking again keeps their place"
        assert queue.counts() == {"queued": 4, "starting": 2}
        gate.release.set()
        assert all(t.done.wait(10) for t in tickets)
        assert [t.state for t in tickets] == [DONE] * 6
        assert sorted(gate.started) == [f"k{i}" for i in range(6)]


def test_a_failed_start_is_tried_once_more_then_reported_once():
    gate = Gate(fail=2)
    gate.release.set()
    with queue_of(gate) as queue:
        ticket = queue.submit("kfail")
        assert ticket.done.wait(10)
        assert ticket.state == FAILED and ticket.attempts == 2 and ticket.error.reason == "spawn_failed"
        assert queue.submit("kfail") is ticket, "the student's next poll is told"
        assert queue.collect(ticket) is True and queue.collect(ticket) is False, "the first to be told says so"
        again = queue.submit("kfail")
        assert again is not ticket and again.done.wait(10) and again.state == DONE, "then a new click starts afresh"


def test_a_start_that_works_the_second_time_is_not_reported():
    gate = Gate(fail=1)
    gate.release.set()
    with queue_of(gate) as queue:
        ticket = queue.submit("konce")
        assert ticket.done.wait(10) and ticket.state == DONE and ticket.attempts == 2


def test_a_waiting_start_can_be_cancelled():
    gate = Gate()
    with queue_of(gate) as queue:
        first, second = queue.submit("kfirst"), queue.submit("ksecond")
        queue.cancel("ksecond")
        assert second.done.is_set() and second.state == FAILED and queue.position(second) == 0
        gate.release.set()
        assert first.done.wait(10) and gate.started == ["kfirst"]


def test_a_start_too_far_back_in_the_queue_is_not_waited_for():
    """After one start of about 0.2 s, the tenth in line cannot start within a second: the caller is told
    at once; the second in line is waited for."""
    first_done, release = threading.Event(), threading.Event()

    def start(user_key: str, lab: bool) -> None:
        if not first_done.is_set():
            threading.Event().wait(0.2)
            first_done.set()
            return
        assert release.wait(10)

    queue = StartQueue(start, parallel=1)
    try:
        assert queue.wait(queue.submit("kfirst"), None)
        tickets = [queue.submit(f"k{i}") for i in range(10)]
        began = time.monotonic()
        assert queue.wait(tickets[9], 1.0) is False and time.monotonic() - began < 0.5
        assert queue.expected_wait(tickets[9]) > 1.0 > queue.expected_wait(tickets[1]) > 0
        began = time.monotonic()
        assert queue.wait(tickets[1], 1.0) is False and time.monotonic() - began >= 0.9, "within reach: waited"
        release.set()
        assert all(queue.wait(ticket, None) for ticket in tickets)
        assert queue.expected_wait(tickets[9]) == 0, "done: nothing left to wait for"
    finally:
        release.set()
        queue.close()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize("cpu_grows, worth_at_90", [(True, True), (False, False)])
def test_a_start_past_its_timeout_is_waited_for_only_while_it_uses_cpu(cpu_grows, worth_at_90):
    clock, cpu = Clock(), [0.0]
    watch = StartWatch(60, alive=lambda: True, cpu_seconds=lambda: cpu[0], clock=clock)
    for second in range(0, 91):
        clock.now = float(second)
        if cpu_grows:
            cpu[0] += 0.5
        worth = watch.worth_waiting()
        if second < 60:
            assert worth, f"within the timeout at {second} s"
    assert worth is worth_at_90


def test_a_start_never_outlives_its_hard_limit_nor_its_server():
    clock, cpu = Clock(), [0.0]
    watch = StartWatch(10, alive=lambda: True, cpu_seconds=lambda: cpu[0], clock=clock)
    for second in range(0, 60):
        clock.now, cpu[0] = float(second), cpu[0] + 1
        watch.worth_waiting()
    assert not watch.worth_waiting(), "5 × the timeout at most, however busy"

    dead = StartWatch(10, alive=lambda: False, cpu_seconds=lambda: None, clock=Clock())
    assert not dead.worth_waiting(), "a server that exited is not waited for"

    unknown = StartWatch(10, alive=lambda: True, cpu_seconds=lambda: None, clock=(c := Clock()))
    c.now = 5.0
    assert unknown.worth_waiting()
    c.now = 11.0
    assert not unknown.worth_waiting(), "where CPU time is unknown, the timeout is all"

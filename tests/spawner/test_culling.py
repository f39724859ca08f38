"""Idle servers are stopped; busy ones, and routes that are not ours, are left alone."""
from __future__ import annotations

import datetime

import pytest

from services.spawner import procfs
from services.spawner.culling import idle_servers, parse_activity
from tests.spawner.conftest import wait_until

NOW = datetime.datetime(2025, 3, 14, 10, 0, tzinfo=datetime.timezone.utc)
IDLE = datetime.timedelta(minutes=30)


def activity(minutes_ago: float) -> dict:
    moment = NOW - datetime.timedelta(minutes=minutes_ago)
    return {"target": "http+unix://x", "last_activity": moment.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"}


@pytest.mark.parametrize(("routes", "expected"), [
    ({"/n/2/u/kidle": activity(31), "/n/2/u/kbusy": activity(5)}, ["kidle"]),
    ({"/n/2/u/kexact": activity(30)}, ["kexact"]),
    ({"/n/3/u/kother": activity(90)}, []),  # another node's route
    ({"/n/2/u/kb": activity(60), "/n/2/u/ka": activity(45)}, ["ka", "kb"]),
    ({"/n/2/u/kunknown": {"target": "http+unix://x"}}, []),  # no activity recorded: never a guess
    ({"/n/2/u/kbad": {"last_activity": "yesterday"}}, []),
    ({"/n/2/u/../etc": activity(90), "/n/2/u/k/deeper": activity(90), "/": activity(90)}, []),
    ({}, []),
])
def test_idle_servers(routes, expected):
    assert idle_servers(routes, node=2, now=NOW, idle=IDLE) == expected


@pytest.mark.parametrize(("raw", "expected"), [
    ("2025-03-14T09:30:00.000Z", datetime.datetime(2025, 3, 14, 9, 30, tzinfo=datetime.timezone.utc)),
    ("2025-03-14T10:30:00+01:00", datetime.datetime(2025, 3, 14, 9, 30, tzinfo=datetime.timezone.utc)),
    ("2025-03-14T09:30:00", datetime.datetime(2025, 3, 14, 9, 30, tzinfo=datetime.timezone.utc)),
    ("not a date", None),
    (None, None),
    (1234, None),
])
def test_parse_activity(raw, expected):
    assert parse_activity(raw) == expected


def test_an_idle_server_is_culled_and_comes_back_on_the_next_click(make_node, command, bus, student):
    node = make_node(CULL_IDLE="2", CULL_INTERVAL="1")
    node.start_agent()
    stopped: list[dict] = []
    bus.subscribe(("server.stopped",), lambda _key, message: stopped.append(message.body))
    assert command(node, "server.ensure", user_key=student.key)["started"] is True
    pid = node.state(student.key)["pid"]

    state_file = node.run_dir / f"{student.key}.json"
    wait_until(lambda: not state_file.exists(), 10, message="the idle server forgotten")
    assert procfs.start_time(pid) is None
    assert node.route(student.key) not in node.chp.routes()
    wait_until(lambda: {"node": node.number, "user_key": student.key, "reason": "cull"} in stopped, 5,
               message="server.stopped announced")
    assert command(node, "server.ensure", user_key=student.key)["started"] is True, "the next click starts it again"

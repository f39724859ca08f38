"""Students of a class are spread over the four nodes; a node whose spawner stops gets no one new."""
from __future__ import annotations

import time
import urllib.parse
from collections import Counter

import pytest

pytestmark = pytest.mark.e2e


def test_a_class_is_spread_and_a_silent_node_gets_no_new_student(platform, student, activity):
    share = urllib.parse.urlsplit(activity["share_url"]).path
    nodes = Counter(student("classe").open_share(share).node for _ in range(8))
    assert set(nodes) == {1, 2, 3, 4}, nodes

    spawner = platform.processes["spawner4"]
    platform.supervisor.stop(spawner)
    try:
        time.sleep(float(platform.config.env["CAPYTALE_NODE_SILENCE"]) + 1.5)
        later = Counter(student("retard").open_share(share).node for _ in range(6))
        assert 4 not in later, later
        assert set(later) == {1, 2, 3}, later
    finally:
        restarted = platform.start_spawner(4)
        platform.supervisor.wait_ready([restarted], 60)


def test_a_student_whose_node_dies_waits_then_lands_on_a_live_node(platform, student, activity):
    share = urllib.parse.urlsplit(activity["share_url"]).path
    for _ in range(12):  # placement is least-loaded: a few students and one lands on node 4
        someone = student("mobile")
        first = someone.open_share(share)
        if first.node == 4:
            break
    assert first.node == 4
    assert someone.enter(first).status_code == 200

    platform.supervisor.stop(platform.processes["spawner4"])  # its reply will never come
    try:
        moved = someone.open_share(share, timeout=60)
        assert moved.waits >= 1, "the waiting page is shown while the node does not answer"
        assert moved.node != 4
        assert someone.enter(moved).status_code == 200
        assert someone.contents(moved).status_code == 200  # the same copy, from shared storage
    finally:
        restarted = platform.start_spawner(4)
        platform.supervisor.wait_ready([restarted], 60)

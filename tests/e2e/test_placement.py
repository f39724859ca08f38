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

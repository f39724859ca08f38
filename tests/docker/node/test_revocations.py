"""A session that ends closes its student's container too: the node's revocations file, read through the
container's read-only mount (the tests of ``tests/spawner/test_revocations.py``, on the docker node)."""
from __future__ import annotations

from tests.spawner.test_revocations import (  # noqa: F401 - the same tests, on the docker node of conftest.py
    auth, test_a_session_that_ends_is_refused_by_its_open_server_within_seconds,
    test_an_agent_that_was_away_learns_from_auth_what_ended_meanwhile,
)

"""One notebook node for real (CHP, RabbitMQ, the agent in a subprocess) with the docker backend.

The fixtures of ``tests/spawner`` on nodes whose agents run students' servers in
containers; the containers of this session's namespace are removed at the end.
"""
from __future__ import annotations

import pytest

from capytale.stack import dockerd
from tests.spawner.conftest import (  # noqa: F401 - the node fixtures of tests/spawner
    TOPOLOGY, bus, chp, command, pytest_runtest_makereport, student,
)
from tests.spawner.conftest import make_node as make_process_node  # noqa: F401 - make_node's own fixture


@pytest.fixture(scope="module")
def make_node(make_process_node, engine):
    """A factory of nodes whose agents use the docker backend of the test engine."""
    made = []

    def make(**settings: str):
        made.append(make_process_node(**{**engine.settings(), **settings}))
        return made[-1]

    yield make
    for node in made:  # the agents first: a live one refills its pool
        node.stop_everything()
    dockerd.remove_containers(engine.url, TOPOLOGY.namespace)


@pytest.fixture(scope="module")
def node(make_node):
    """A docker node with a running agent, shared by the tests of a module."""
    made = make_node(HEARTBEAT_INTERVAL="0.5")
    made.start_agent()
    return made

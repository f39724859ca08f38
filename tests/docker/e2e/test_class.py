"""The class of 35 arriving at once, with students' servers in containers, at the default settings: each
node's pool of warm containers (DOCKER_POOL) full, as it is once the platform has been up a minute."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import start_platform
from tests.e2e.test_class import test_a_class_arriving_within_a_second_all_get_in_and_run_a_cell  # noqa: F401

# The first docker test of a session: its setup may build the notebook image (minutes on a new machine)
# before its platform fills 40 warm containers.
pytestmark = [pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def platform(tmp_path_factory, request, engine):
    """A platform of its own: the engine's limits, everything else (the pool's size first) as the catalogue says."""
    local = start_platform(tmp_path_factory, request, **{name: value for name, value in engine.settings().items()
                                                          if name != "DOCKER_POOL"})
    try:
        assert local.wait_pools_full(timeout=240), "the nodes' pools did not fill in 4 minutes"
        yield local
    finally:
        local.stop(forget_messaging=True)

"""The class of 35 arriving at once, with students' servers in containers, at the default settings: each
node's pool of warm containers (DOCKER_POOL) full, as it is once the platform has been up a minute."""
from __future__ import annotations

import time

import pytest

from capytale.settings import load as load_settings
from tests.e2e.conftest import start_platform
from tests.e2e.test_class import test_a_class_arriving_within_a_second_all_get_in_and_run_a_cell  # noqa: F401


@pytest.fixture(scope="module")
def platform(tmp_path_factory, request, engine):
    """A platform of its own: the engine's limits, everything else (the pool's size first) as the catalogue says."""
    local = start_platform(tmp_path_factory, request, **{name: value for name, value in engine.settings().items()
                                                          if name != "DOCKER_POOL"})
    try:
        wanted = load_settings("spawner", environ=local.base_env())["DOCKER_POOL"] * local.config.nodes
        deadline = time.monotonic() + 240
        while len(list((local.var_dir / "run").glob("*/pool/*/m/socket/control.sock"))) < wanted:
            assert time.monotonic() < deadline, "the nodes' pools did not fill in 4 minutes"
            time.sleep(0.5)
        yield local
    finally:
        local.stop(forget_messaging=True)

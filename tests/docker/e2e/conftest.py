"""The whole platform with the docker backend: the end-to-end fixtures of ``tests/e2e`` on it, its nodes'
pools of warm containers full before the first test (the first students of each node get warm ones)."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import (  # noqa: F401 - the end-to-end fixtures, on this folder's platform
    activity, browser, operator, start_platform, student, teacher,
)


@pytest.fixture(scope="session")
def platform(tmp_path_factory, request, engine):
    """HAProxy, the services and four nodes whose spawners run students' servers in containers."""
    local = start_platform(tmp_path_factory, request, **engine.settings())
    try:
        assert local.wait_pools_full(timeout=240), "the nodes' pools did not fill in 4 minutes"
        yield local
    finally:
        local.stop(forget_messaging=True)  # removes this platform's containers too

"""The whole platform with the docker backend: the end-to-end fixtures of ``tests/e2e`` on it."""
from __future__ import annotations

import pytest

from tests.e2e.conftest import (  # noqa: F401 - the end-to-end fixtures, on this folder's platform
    activity, browser, operator, start_platform, student, teacher,
)


@pytest.fixture(scope="session")
def platform(tmp_path_factory, request, engine):
    """HAProxy, the services and four nodes whose spawners run students' servers in containers."""
    local = start_platform(tmp_path_factory, request, **engine.settings())
    yield local
    local.stop(forget_messaging=True)  # removes this platform's containers too

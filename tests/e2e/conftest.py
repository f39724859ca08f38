"""The whole platform, started once for the end-to-end tests: HAProxy, auth, activities,
router, four nodes (CHP + spawner), RabbitMQ and PostgreSQL of this machine.
Logs of every process are printed when a test fails (tests/conftest.py)."""
from __future__ import annotations

import itertools
import secrets
from pathlib import Path

import pytest

from capytale.messaging import Bus, Envelope, Topology
from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import free_port
from tests.conftest import postgres_reachable
from tests.e2e.browser import Browser
from tests.e2e.chromium import chromium, people  # noqa: F401 - fixtures of the real-browser tests

_names = itertools.count(1)


def start_platform(tmp_path_factory, request, nodes: int = 4, **settings: str) -> LocalPlatform:
    """The whole platform on this machine (``nodes`` notebook nodes), with these ``CAPYTALE_*`` settings beside
    the tests' own."""
    var_dir = tmp_path_factory.mktemp("platform")
    env = {
        "CAPYTALE_AMQP_NAMESPACE": f"capytale-e2e-{secrets.token_hex(4)}",
        "CAPYTALE_HEARTBEAT_INTERVAL": "1",
        "CAPYTALE_NODE_SILENCE": "4",
        "CAPYTALE_LOG_LEVEL": "INFO",
        **{f"CAPYTALE_{name}": value for name, value in settings.items()},
    }
    if postgres_reachable():
        make_db = request.getfixturevalue("postgres_database")
        for service in ("AUTH", "ACTIVITIES", "ROUTER"):
            env[f"CAPYTALE_{service}_DATABASE_URL"] = make_db(service.lower())
    config = PlatformConfig(var_dir=var_dir, http_port=free_port(), nodes=nodes, workers=2, threads=8,
                            env=env, log_dir=var_dir / "logs")
    local = LocalPlatform(config)
    local.start(timeout=90)
    local.wait_nodes_routed()
    return local


@pytest.fixture(scope="session")
def platform(tmp_path_factory, request):
    """The platform with the process backend (the embedded default)."""
    local = start_platform(tmp_path_factory, request)
    yield local
    local.stop(forget_messaging=True)


def unique(name: str) -> str:
    return f"{name}-{next(_names)}"


@pytest.fixture
def browser(platform):
    """A fresh browser (no cookie) on the platform."""
    return lambda: Browser.on(platform)


@pytest.fixture
def teacher(platform):
    return Browser.on(platform).login(unique("prof.martin"), "teacher")


@pytest.fixture
def student(platform):
    """A factory of logged-in students with unique names."""
    return lambda name="eleve": Browser.on(platform).login(unique(name), "student")


@pytest.fixture
def operator(platform):
    """What the people running the platform can say to the nodes over RabbitMQ."""
    topology = Topology(platform.config.env["CAPYTALE_AMQP_NAMESPACE"])
    bus = Bus("amqp://guest:guest@127.0.0.1:5672/%2F", "tests-operator", topology).start()
    assert bus.wait_ready(10)

    def call(node: int, kind: str, **body):
        return bus.call_node(node, Envelope(kind, body), timeout=30).body

    yield call
    bus.close()


@pytest.fixture
def activity(teacher, corpus):
    """An activity made by ``teacher`` from a corpus notebook whose name has accents,
    spaces and an apostrophe."""
    path = corpus / "Calcul d'une paire de dés un peu particuliers.ipynb"
    answer = teacher.upload(path, "Des dés un peu particuliers")
    assert answer.status_code == 201, answer.text
    return {**answer.json(), "source": path}

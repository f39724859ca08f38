"""compose/docker-compose.yml keeps the production shape: every node's spawner on the docker backend."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from capytale.settings import CATALOGUE, load

COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
NODES = range(1, 5)


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def binds(service: dict) -> dict[str, str]:
    return dict(volume.split(":")[1::-1] for volume in service.get("volumes", []))  # container path → host path


def test_the_production_shape_is_all_there(services):
    expected = {"haproxy", "auth", "activities", "router", "postgres", "rabbitmq", "notebook-image",
                *(f"chp{k}" for k in NODES), *(f"spawner{k}" for k in NODES)}
    assert set(services) == expected


@pytest.mark.parametrize("k", NODES)
def test_each_node_runs_students_in_containers_beside_its_proxy(services, k):
    spawner, chp = services[f"spawner{k}"], services[f"chp{k}"]
    env = spawner["environment"]
    assert env["CAPYTALE_NODE"] == str(k) and env["CAPYTALE_CHP_API_URL"] == f"http://chp{k}:8001"
    assert env["CAPYTALE_CHP_AUTH_TOKEN"] == chp["environment"]["CONFIGPROXY_AUTH_TOKEN"]
    assert env["CAPYTALE_SPAWNER_BACKEND"] == "docker" and env["CAPYTALE_DOCKER_NETWORK"] == "none"
    mounts = binds(spawner)
    assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
    # the engine mounts students' folders by the spawner's paths: they must be the host's own
    for setting in ("CAPYTALE_DATA_ROOT", "CAPYTALE_RUN_ROOT"):
        assert mounts[env[setting]] == env[setting]
    assert binds(chp)[env["CAPYTALE_RUN_ROOT"]] == env["CAPYTALE_RUN_ROOT"], "CHP reaches the sockets"
    assert binds(services["activities"])[env["CAPYTALE_DATA_ROOT"]] == env["CAPYTALE_DATA_ROOT"]
    settings = load("spawner", environ={name: "x" if "${" in str(value) else str(value) for name, value in env.items()
                                        if name.startswith("CAPYTALE_") and name != "CAPYTALE_AMQP_URL"})
    assert settings["SPAWNER_BACKEND"] == "docker"


def test_every_capytale_setting_named_in_compose_exists():
    declared = {setting.env for setting in CATALOGUE}
    named = set(re.findall(r"\b(CAPYTALE_[A-Z_]+)\s*:", COMPOSE.read_text()))
    assert named and named <= declared, named - declared

"""compose/docker-compose.yml keeps the production shape: every node's spawner on the docker backend."""
from __future__ import annotations

import re
import urllib.parse
from pathlib import Path

import pytest
import yaml

from capytale.settings import CATALOGUE, load, origin

COMPOSE = Path(__file__).resolve().parents[2] / "compose" / "docker-compose.yml"
NODES = range(1, 5)


@pytest.fixture(scope="module")
def services() -> dict:
    return yaml.safe_load(COMPOSE.read_text())["services"]


def binds(service: dict) -> dict[str, str]:
    """Container path → host path, from the short (``host:container``) and the long syntax."""
    return dict((volume["target"], volume["source"]) if isinstance(volume, dict) else volume.split(":")[1::-1]
                for volume in service.get("volumes", []))


def test_the_production_shape_is_all_there(services):
    expected = {"haproxy", "auth", "activities", "router", "postgres", "rabbitmq", "notebook-image",
                *(f"chp{k}" for k in NODES), *(f"spawner{k}" for k in NODES)}
    assert set(services) == expected


def interpolated(value) -> str:
    """What compose makes of ``${VAR:-default}`` with VAR unset (``x`` for a required ``${VAR:?}``)."""
    return re.sub(r"\$\{[A-Z_]+(?::-([^}]*))?[^}]*\}", lambda m: m.group(1) if m.group(1) is not None else "x",
                  str(value))


def test_students_servers_have_an_origin_of_their_own(services):
    platform = services["auth"]["environment"]
    proxy = services["haproxy"]["environment"]
    students = interpolated(platform["CAPYTALE_NOTEBOOK_URL"])
    assert origin(students) != origin(interpolated(platform["CAPYTALE_PUBLIC_URL"])) and "{key}." in students
    assert proxy["CAPYTALE_PUBLIC_URL"] == platform["CAPYTALE_PUBLIC_URL"]
    assert urllib.parse.urlsplit(students).hostname == "{key}" + interpolated(proxy["NOTEBOOK_HOST_SUFFIX"])


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
    settings = load("spawner", environ={name: interpolated(value) for name, value in env.items()
                                        if name.startswith("CAPYTALE_") and name != "CAPYTALE_AMQP_URL"})
    assert settings["SPAWNER_BACKEND"] == "docker"


@pytest.mark.parametrize("k", NODES)
def test_a_nodes_pool_of_warm_containers_can_mount_workspaces_into_them(services, k):
    spawner = services[f"spawner{k}"]
    assert int(spawner["environment"]["CAPYTALE_DOCKER_POOL"]) > 0
    assert "SYS_ADMIN" in spawner["cap_add"] and "apparmor:unconfined" in spawner["security_opt"]
    run_root = spawner["environment"]["CAPYTALE_RUN_ROOT"]
    [run] = [v for v in spawner["volumes"] if isinstance(v, dict) and v["target"] == run_root]
    assert run["bind"]["propagation"] == "rshared", "the spawner's mounts must reach the host, then the containers"


def test_hand_ins_are_graded_in_containers_whose_run_folders_the_engine_finds(services):
    activities = services["activities"]
    env = activities["environment"]
    assert env["CAPYTALE_GRADING_RUNNER"] == "docker"
    mounts = binds(activities)
    assert mounts["/var/run/docker.sock"] == "/var/run/docker.sock"
    assert mounts[env["CAPYTALE_GRADING_RUN_DIR"]] == env["CAPYTALE_GRADING_RUN_DIR"]  # the host's own path
    assert env["CAPYTALE_DOCKER_IMAGE"] == services["spawner1"]["environment"]["CAPYTALE_DOCKER_IMAGE"]


def test_activities_runs_as_the_students_uid_whose_copies_it_writes_into(services):
    students = load("spawner", environ={})["DOCKER_USER"]
    assert services["activities"]["user"] == students


def test_every_capytale_setting_named_in_compose_exists():
    declared = {setting.env for setting in CATALOGUE}
    named = set(re.findall(r"\b(CAPYTALE_[A-Z_]+)\s*:", COMPOSE.read_text()))
    assert named and named <= declared, named - declared

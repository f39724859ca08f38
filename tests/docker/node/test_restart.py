"""Containers outlive their agent: a new agent adopts them, removes orphans, restarts the dead, culls the idle."""
from __future__ import annotations

import time

import docker.errors
import pytest
import requests

from services.spawner.backends.docker import container_name
from tests.spawner.conftest import TOPOLOGY, issue_grant, wait_until


def open_server(node, student) -> requests.Session:
    """A browser let into the student's server (grant, then its cookie), as the router sends it."""
    browser = requests.Session()
    page = browser.get(node.url(student.key, "tree"), params={"grant": issue_grant(node, student.key, student)})
    assert page.status_code == 200
    return browser


def save(browser: requests.Session, node, student, name: str, text: str) -> None:
    answer = browser.put(node.url(student.key, f"api/contents/{name}"),
                         json={"type": "file", "format": "text", "content": text},
                         headers={"X-XSRFToken": browser.cookies["_xsrf"]})
    assert answer.status_code in (200, 201), answer.text


def read(browser: requests.Session, node, student, name: str) -> str:
    answer = browser.get(node.url(student.key, f"api/contents/{name}"))
    assert answer.status_code == 200, answer.text
    return answer.json()["content"]


def leftover(engine, node, user_key: str, status: str) -> str:
    """A container labelled for ``node`` that no agent started (not a server: it sleeps), left ``status``."""
    labels = {"capytale.namespace": TOPOLOGY.namespace, "capytale.node": str(node.number),
              "capytale.user_key": user_key, "capytale.instance": "x", "capytale.started_at": "1.0"}
    container = engine.client.containers.run(engine.image, entrypoint=["sleep", "600"], detach=True, labels=labels,
                                             name=container_name(TOPOLOGY.namespace, node.number, user_key),
                                             network_mode="none", read_only=True)
    if status == "exited":
        container.kill()
    return container.id


def gone(engine, container_id: str) -> bool:
    try:
        engine.client.containers.get(container_id)
        return False
    except docker.errors.NotFound:
        return True


def test_a_new_agent_adopts_the_running_containers_and_removes_the_orphans(make_node, engine, command, student):
    node = make_node()
    first = node.start_agent()
    assert command(node, "server.ensure", user_key=student.key)["started"] is True
    container = node.state(student.key)["container_id"]
    browser = open_server(node, student)
    save(browser, node, student, "avant.txt", "écrit avant le redémarrage")

    first.kill()  # kill -9: no goodbye
    assert engine.client.containers.get(container).status == "running", "the container outlives its agent"
    client = node.chp.client()
    client.delete_route(node.route(student.key))  # and CHP lost the route meanwhile
    orphan, dead = leftover(engine, node, "korphan", "running"), leftover(engine, node, "kdead", "exited")

    node.start_agent()
    servers = command(node, "node.status")["servers"]
    assert [(server["user_key"], server["container_id"]) for server in servers] == [(student.key, container)]
    assert node.route(student.key) in client.routes(), "the route is back"
    client.close()
    assert gone(engine, orphan) and gone(engine, dead)
    # the student carries on, with the same server and cookie: no new start
    assert read(browser, node, student, "avant.txt") == "écrit avant le redémarrage"
    save(browser, node, student, "apres.txt", "écrit après")
    assert command(node, "server.ensure", user_key=student.key)["started"] is False
    assert node.state(student.key)["container_id"] == container


def test_a_container_that_died_starts_again_at_the_next_click_with_the_work_intact(node, engine, command, bus, student):
    stopped: list[dict] = []
    bus.subscribe(("server.stopped",), lambda _key, message: stopped.append(message.body))
    assert command(node, "server.ensure", user_key=student.key)["started"] is True
    first = node.state(student.key)["container_id"]
    save(open_server(node, student), node, student, "travail.txt", "mon travail")
    engine.client.containers.get(first).kill()

    again = command(node, "server.ensure", user_key=student.key)
    assert again["started"] is True
    second = node.state(student.key)["container_id"]
    assert second != first and gone(engine, first)
    assert read(open_server(node, student), node, student, "travail.txt") == "mon travail"
    wait_until(lambda: {"node": node.number, "user_key": student.key, "reason": "died"} in stopped, 5,
               message="server.stopped (died) announced")


def test_an_idle_container_is_culled_and_removed_and_the_work_stays(make_node, engine, command, student):
    node = make_node(CULL_IDLE="2", CULL_INTERVAL="1")
    node.start_agent()
    assert command(node, "server.ensure", user_key=student.key)["started"] is True
    container = node.state(student.key)["container_id"]
    save(open_server(node, student), node, student, "garde.txt", "gardé")

    wait_until(lambda: not (node.run_dir / f"{student.key}.json").exists(), 15, message="the idle server culled")
    assert gone(engine, container)
    assert node.route(student.key) not in node.chp.routes()
    assert (node.workspace(student.key) / "garde.txt").read_text() == "gardé"
    assert command(node, "server.ensure", user_key=student.key)["started"] is True


@pytest.mark.parametrize("count", [3])
def test_the_heartbeat_counts_the_containers_and_their_memory(make_node, command, bus, count):
    node = make_node(HEARTBEAT_INTERVAL="0.5")
    node.start_agent()
    keys = [f"kbeat{node.number}x{n}"[:20] for n in range(count)]
    for key in keys:
        assert command(node, "server.ensure", user_key=key)["started"] is True
    beats: list[dict] = []
    bus.subscribe(("node.heartbeat",), lambda _key, message: beats.append(message.body))
    time.sleep(1)  # let the servers settle before weighing them
    beat = wait_until(lambda: next((b for b in reversed(beats) if b["node"] == node.number), None), 10,
                      message="a heartbeat")
    assert beat["servers"] == count
    assert count * 20 * 2**20 < beat["memory_bytes"] < count * 300 * 2**20
    print(f"\n{count} idle containers: {beat['memory_bytes'] / 2**20:.0f} MiB "
          f"({beat['memory_bytes'] / count / 2**20:.0f} MiB each)")

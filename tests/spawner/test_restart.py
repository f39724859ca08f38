"""An agent that dies or restarts: its servers keep running, the next agent adopts them."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import requests

from services.spawner import procfs
from tests.spawner.conftest import issue_grant, wait_until


def dead_pid() -> int:
    finished = subprocess.Popen([sys.executable, "-c", "pass"])
    finished.wait()
    return finished.pid


def test_a_new_agent_adopts_the_servers_of_a_killed_one(make_node, command, student):
    node = make_node()
    first = node.start_agent()
    assert command(node, "server.ensure", user_key=student.key)["started"] is True
    pid = node.state(student.key)["pid"]
    zygote = first.zygote_pids[0]

    first.kill()  # kill -9: no goodbye
    wait_until(lambda: procfs.start_time(zygote) is None, 10, message="the zygote leaving with its agent")
    assert procfs.start_time(pid) is not None, "the student's server outlives its agent"
    client = node.chp.client()
    client.delete_route(node.route(student.key))  # and CHP lost the route meanwhile
    stale = {"user_key": "kgone", "socket_path": str(node.run_dir / "kgone.sock"), "started_at": 1.0, "instance": "old",
             "pid": dead_pid()}
    (node.run_dir / "kgone.json").write_text(json.dumps(stale))
    (node.run_dir / "kgone.sock").touch()

    node.start_agent()
    servers = command(node, "node.status")["servers"]
    assert [(server["user_key"], server["pid"]) for server in servers] == [(student.key, pid)]
    assert node.route(student.key) in client.routes(), "the route is back"
    client.close()
    assert not (node.run_dir / "kgone.json").exists() and not (node.run_dir / "kgone.sock").exists()
    opened = requests.get(node.url(student.key, "api/contents"), params={"grant": issue_grant(node, student.key, student)})
    assert opened.status_code == 200
    assert command(node, "server.ensure", user_key=student.key)["started"] is False


def test_an_agent_killed_under_make_run_takes_its_zygote_and_servers_with_it(make_node, command, student):
    """``make run`` sets STOP_SERVERS_ON_EXIT: even a kill -9 of the agent leaves no server behind."""
    node = make_node(STOP_SERVERS_ON_EXIT="true")
    agent = node.start_agent()
    command(node, "server.ensure", user_key=student.key)
    pid = node.state(student.key)["pid"]
    zygote = agent.zygote_pids[0]

    agent.kill()
    wait_until(lambda: procfs.start_time(zygote) is None, 10, message="the zygote leaving with its agent")
    wait_until(lambda: procfs.start_time(pid) is None, 10, message="the server leaving with its zygote")


def test_an_agent_stopped_leaves_its_servers_or_stops_them_as_configured(make_node, command, student):
    node = make_node()
    leaving = node.start_agent()
    command(node, "server.ensure", user_key=student.key)
    pid = node.state(student.key)["pid"]
    assert leaving.terminate() == 0
    assert "leaving 1 server(s) running" in leaving.log()
    assert procfs.start_time(pid) is not None
    assert node.route(student.key) in node.chp.routes()

    stopping = node.start_agent(STOP_SERVERS_ON_EXIT="true")
    assert stopping.terminate() == 0
    assert procfs.start_time(pid) is None
    assert node.route(student.key) not in node.chp.routes()
    assert not (node.run_dir / f"{student.key}.json").exists()


def test_a_dead_server_is_forgotten_and_its_route_removed(make_node, command, bus, student):
    node = make_node(CULL_INTERVAL="1")  # reconciled before every cull pass
    node.start_agent()
    stopped: list[dict] = []
    bus.subscribe(("server.stopped",), lambda _key, message: stopped.append(message.body))
    command(node, "server.ensure", user_key=student.key)
    os.kill(node.state(student.key)["pid"], signal.SIGKILL)

    state_file = node.run_dir / f"{student.key}.json"
    wait_until(lambda: not state_file.exists() and node.route(student.key) not in node.chp.routes(), 10,
               message="the dead server forgotten, its route removed")
    wait_until(lambda: {"node": node.number, "user_key": student.key, "reason": "died"} in stopped, 5,
               message="server.stopped announced")
    assert command(node, "node.status")["servers"] == []

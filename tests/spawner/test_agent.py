"""A student's server, from ``server.ensure`` on RabbitMQ to the browser through CHP."""
from __future__ import annotations

import json
import os
import signal
import threading
import time

import pytest
import requests

from capytale.tokens import Identity
from services.spawner import procfs
from tests.spawner.conftest import issue_grant, wait_until


@pytest.fixture
def owner(node, command) -> Identity:
    """A student whose server runs on the module's node (started by the first test that asks)."""
    owner = Identity(uid="proprietaire", name="Léa Propriétaire", role="student", key="kowner0000000000000a")
    assert command(node, "server.ensure", user_key=owner.key)["ok"]
    return owner


def ensure(command, node, student) -> dict:
    return command(node, "server.ensure", user_key=student.key, owner={"uid": student.uid, "name": student.name})


def test_ensure_starts_a_server_reachable_with_a_grant_then_with_its_cookie(node, command, student):
    began = time.monotonic()
    reply = ensure(command, node, student)
    cold_start = time.monotonic() - began
    assert reply == {"ok": True, "state": "running", "prefix": f"/n/{node.number}/u/{student.key}/", "started": True,
                     "instance": node.state(student.key)["instance"]}

    browser = requests.Session()
    with_grant = browser.get(node.url(student.key, "api/contents"), params={"grant": issue_grant(node, student.key, student)})
    assert with_grant.status_code == 200, with_grant.text
    assert browser.cookies.get(f"capytale-{student.key}"), "the grant earns the server's own cookie"
    with_cookie = browser.get(node.url(student.key, "api/contents"))
    assert with_cookie.status_code == 200
    assert with_cookie.json()["type"] == "directory"

    pid = node.state(student.key)["pid"]
    time.sleep(1)  # let the server settle before weighing it
    print(f"\ncold start through server.ensure: {cold_start:.3f}s; "
          f"idle server PSS: {procfs.memory_bytes(pid) / 2**20:.1f} MiB")


def test_a_second_ensure_answers_at_once_without_starting(node, command, student):
    assert ensure(command, node, student)["started"] is True
    pid = node.state(student.key)["pid"]
    began = time.monotonic()
    again = ensure(command, node, student)
    assert again["started"] is False
    assert time.monotonic() - began < 0.5
    assert node.state(student.key)["pid"] == pid


def test_concurrent_ensures_for_one_student_share_one_start(node, command, student):
    replies: list[dict] = []
    threads = [threading.Thread(target=lambda: replies.append(ensure(command, node, student))) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(replies) == 4 and all(reply["ok"] for reply in replies)
    assert sorted(reply["started"] for reply in replies) == [False, False, False, True]
    servers = command(node, "node.status")["servers"]
    assert [server["user_key"] for server in servers].count(student.key) == 1


@pytest.mark.parametrize("case", ["grant for another server", "grant already used", "expired grant", "no grant"])
def test_who_holds_no_valid_grant_is_refused(node, owner, student, case):
    if case == "grant for another server":
        grant = issue_grant(node, student.key, owner)
    elif case == "grant already used":
        grant = issue_grant(node, owner.key, owner)
        assert requests.get(node.url(owner.key, "api/contents"), params={"grant": grant}).status_code == 200
    elif case == "expired grant":
        grant = issue_grant(node, owner.key, owner, now=time.time() - 120)
    else:
        grant = None
    params = {"grant": grant} if grant else {}

    api = requests.get(node.url(owner.key, "api/contents"), params=params)
    assert api.status_code == 403
    assert api.headers["Content-Type"].startswith("application/json")
    page = requests.get(node.url(owner.key, "tree"), params=params)
    assert page.status_code == 403
    assert "Ce carnet appartient à quelqu'un d'autre, ou ton lien a expiré." in page.text
    assert "password" not in page.text.lower()


def test_a_jupyter_configuration_in_the_workspace_changes_nothing(node, command, student):
    dot_jupyter = node.workspace(student.key) / ".jupyter"
    dot_jupyter.mkdir(parents=True)
    insecure = {
        "ServerApp": {"token": "", "password": "", "disable_check_xsrf": True, "allow_unauthenticated_access": True,
                      "identity_provider_class": "jupyter_server.auth.identity.IdentityProvider"},
        "IdentityProvider": {"token": ""},
    }
    (dot_jupyter / "jupyter_server_config.json").write_text(json.dumps(insecure))
    (dot_jupyter / "jupyter_server_config.py").write_text("c.ServerApp.token = ''\nc.ServerApp.disable_check_xsrf = True\n")
    assert ensure(command, node, student)["started"] is True

    assert requests.get(node.url(student.key, "api/contents")).status_code == 403
    browser = requests.Session()
    assert browser.get(node.url(student.key, "tree"), params={"grant": issue_grant(node, student.key, student)}).ok
    # (bodiless POSTs: CHP may answer 503 when a server answers a request with a body very fast,
    # Node's EPIPE race on Unix sockets, https://github.com/nodejs/node/issues/40553)
    no_xsrf = browser.post(node.url(student.key, "api/contents"))
    assert no_xsrf.status_code == 403, "the XSRF check still applies"
    xsrf = browser.post(node.url(student.key, "api/contents"), headers={"X-XSRFToken": browser.cookies["_xsrf"]})
    assert xsrf.status_code == 201


def test_a_kernel_runs_code_over_its_websocket_through_chp(node, command, student):
    import uuid

    import websocket

    ensure(command, node, student)
    browser = requests.Session()
    assert browser.get(node.url(student.key, "tree"), params={"grant": issue_grant(node, student.key, student)}).ok
    xsrf = {"X-XSRFToken": browser.cookies["_xsrf"]}
    kernel = browser.post(node.url(student.key, "api/kernels"), json={"name": "python3"}, headers=xsrf)
    assert kernel.status_code == 201, kernel.text
    kernel_id = kernel.json()["id"]

    session_id = uuid.uuid4().hex
    channels = node.url(student.key, f"api/kernels/{kernel_id}/channels?session_id={session_id}")
    cookies = "; ".join(f"{cookie.name}={cookie.value}" for cookie in browser.cookies)
    socket = websocket.create_connection(channels.replace("http://", "ws://"), cookie=cookies, timeout=30)
    try:
        msg_id = uuid.uuid4().hex
        socket.send(json.dumps({
            "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": student.key,
                       "session": session_id, "version": "5.3", "date": ""},
            "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
            "content": {"code": "1+1", "silent": False, "store_history": False, "user_expressions": {},
                        "allow_stdin": False, "stop_on_error": True},
        }))
        result = None
        while result is None:
            message = json.loads(socket.recv())
            if message["msg_type"] == "execute_result" and message["parent_header"].get("msg_id") == msg_id:
                result = message["content"]["data"]["text/plain"]
        assert result == "2"
    finally:
        socket.close()
    with pytest.raises(websocket.WebSocketBadStatusException) as refused:
        websocket.create_connection(channels.replace("http://", "ws://"), timeout=10)
    assert refused.value.status_code == 403, "no cookie, no kernel"
    assert browser.delete(node.url(student.key, f"api/kernels/{kernel_id}"), headers=xsrf).status_code == 204


def test_stop_removes_the_route_then_the_process(node, command, student):
    ensure(command, node, student)
    pid = node.state(student.key)["pid"]
    assert node.route(student.key) in node.chp.routes()
    runtime = node.run_dir / "runtime" / student.key
    assert list((runtime / "tmp").glob("jupyter-clean-cfg-*")), "the server's temporary files live in its runtime folder"

    assert command(node, "server.stop", user_key=student.key, reason="admin") == {"ok": True, "stopped": True}
    assert node.route(student.key) not in node.chp.routes()
    assert procfs.start_time(pid) is None
    assert not (node.run_dir / f"{student.key}.json").exists()
    assert not (node.run_dir / f"{student.key}.sock").exists()
    assert not runtime.exists(), "nothing of the server is left on the node"
    assert requests.get(node.url(student.key, "api")).status_code == 404  # CHP has no route any more
    assert command(node, "server.stop", user_key=student.key, reason="admin") == {"ok": True, "stopped": False}


def test_node_status_lists_the_servers(node, command, student):
    ensure(command, node, student)
    status = command(node, "node.status")
    assert status["ok"] and status["node"] == node.number
    mine = [server for server in status["servers"] if server["user_key"] == student.key]
    assert mine == [{"user_key": student.key, "pid": node.state(student.key)["pid"], "container_id": None,
                     "started_at": node.state(student.key)["started_at"]}]


def test_heartbeats_tell_the_load(node, command, bus, student):
    ensure(command, node, student)
    beats: list[dict] = []
    bus.subscribe(("node.heartbeat",), lambda _key, message: beats.append(message.body))
    beat = wait_until(lambda: next((b for b in beats if b["node"] == node.number), None), 10, message="a heartbeat")
    assert beat["servers"] >= 1
    assert beat["memory_bytes"] > 10 * 2**20
    assert abs(beat["at"] - time.time()) < 10


@pytest.mark.parametrize("message", [("server.explode", {}), ("server.ensure", {"user_key": "../../etc"})])
def test_bad_commands_get_an_error_reply(node, command, message):
    command_type, body = message
    reply = command(node, command_type, **body)
    assert reply["ok"] is False and reply["error"]


def test_a_server_that_died_is_started_again_by_the_next_ensure(node, command, student):
    ensure(command, node, student)
    pid = node.state(student.key)["pid"]
    os.kill(pid, signal.SIGKILL)
    wait_until(lambda: procfs.start_time(pid) is None, 5, message="the server gone")
    again = ensure(command, node, student)
    assert again["started"] is True and node.state(student.key)["pid"] != pid
    assert requests.get(node.url(student.key, "api/contents"),
                        params={"grant": issue_grant(node, student.key, student)}).status_code == 200

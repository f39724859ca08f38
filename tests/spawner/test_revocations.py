"""A session that ends closes the student's server to it: at once when the agent hears of it, and
after an agent that was away comes back (auth's list)."""
from __future__ import annotations

import dataclasses
import secrets
import threading
import time
import uuid

import pika
import pytest
import requests
import websocket

from capytale.messaging import Bus, Envelope, Worker
from capytale.revocations import EVENT, LIST
from tests.spawner.conftest import AMQP_URL, TOPOLOGY, issue_grant, wait_until

NOT_YOURS = "Ce carnet appartient à quelqu'un d'autre, ou ton lien a expiré."
LOGOUT_LATENCY = 3.0  # seconds within which an open server refuses a session that has ended


class FakeAuth:
    """What auth answers to ``revocations.list``: the sessions ended (``ended``), when it runs."""

    def __init__(self) -> None:
        self.ended: dict[str, float] = {}
        self.asked = 0
        self._stop: threading.Event | None = None
        self._thread: threading.Thread | None = None

    def answer(self, message: Envelope) -> dict:
        assert message.type == LIST
        self.asked += 1
        return {"revoked": [[sid, exp] for sid, exp in self.ended.items()]}

    def start(self) -> None:
        worker = Worker(AMQP_URL, TOPOLOGY.revocations_queue, self.answer, 1, name="tests-auth", topology=TOPOLOGY,
                        durable=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=worker.run, args=(self._stop,), daemon=True)
        self._thread.start()
        wait_until(worker.consuming.is_set, 10, message="the fake auth consuming")

    def stop(self) -> None:
        if self._stop is not None:
            self._stop.set()
            self._thread.join(10)
            self._stop = None


@pytest.fixture(scope="module")
def auth():
    fake = FakeAuth()
    yield fake
    fake.stop()
    connection = pika.BlockingConnection(pika.URLParameters(AMQP_URL))
    try:
        connection.channel().queue_delete(TOPOLOGY.revocations_queue)
    finally:
        connection.close()


def signed_in(node, student) -> requests.Session:
    """A browser that spent a grant for ``student``'s session on their own server: it holds the server's cookie."""
    browser = requests.Session()
    page = browser.get(node.url(student.key, "tree"), params={"grant": issue_grant(node, student.key, student)})
    assert page.status_code == 200, page.text  # the page sets the XSRF cookie too
    assert browser.get(node.url(student.key, "api/contents")).status_code == 200
    return browser


def assert_refused(browser: requests.Session, node, student) -> None:
    api = browser.get(node.url(student.key, "api/contents"))
    assert api.status_code == 403 and api.headers["Content-Type"].startswith("application/json")
    page = browser.get(node.url(student.key, f"notebooks/{uuid.uuid4().hex}.ipynb"))
    assert page.status_code == 403 and NOT_YOURS in page.text


def ended(bus, sid: str) -> None:
    bus.publish(EVENT, Envelope(EVENT, {"sid": sid, "exp": time.time() + 3600}))


def open_kernel(browser, node, student):
    xsrf = {"X-XSRFToken": browser.cookies["_xsrf"]}
    kernel = browser.post(node.url(student.key, "api/kernels"), json={"name": "python3"}, headers=xsrf)
    assert kernel.status_code == 201, kernel.text
    cookie = "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    url = node.url(student.key, f"api/kernels/{kernel.json()['id']}/channels").replace("http://", "ws://", 1)
    return websocket.create_connection(url, header=[f"Cookie: {cookie}"], origin=node.chp.url, timeout=10)


def test_a_session_that_ends_is_refused_by_its_open_server_within_seconds(node, command, bus, student):
    classmate = dataclasses.replace(student, uid="voisin", key=f"kv{secrets.token_hex(8)}", sid=secrets.token_urlsafe(12))
    for someone in (student, classmate):
        assert command(node, "server.ensure", user_key=someone.key)["ok"]
    browser, neighbour = signed_in(node, student), signed_in(node, classmate)
    socket = open_kernel(browser, node, student)
    instance = node.state(student.key)["instance"]

    began = time.monotonic()
    ended(bus, student.sid)  # the ENT's single logout, or the logout button, as auth announces it
    wait_until(lambda: browser.get(node.url(student.key, "api/contents")).status_code == 403, LOGOUT_LATENCY,
               interval=0.05, message="the server refusing the ended session")
    print(f"\nthe server refused the ended session {time.monotonic() - began:.2f}s after session.revoked")
    assert not browser.cookies.get(f"capytale-{student.key}"), "the server cleared its cookie"
    assert_refused(browser, node, student)
    assert_refused(requests.Session(), node, student)

    socket.settimeout(LOGOUT_LATENCY)
    with pytest.raises(websocket.WebSocketConnectionClosedException):
        while True:  # the kernel's websocket is closed too: the open page can run nothing more
            socket.recv()
    assert neighbour.get(node.url(classmate.key, "api/contents")).status_code == 200, "another student is untouched"

    again = dataclasses.replace(student, sid=secrets.token_urlsafe(12))  # logged in again: a new session
    assert signed_in(node, again).get(node.url(student.key, "api/contents")).status_code == 200
    assert node.state(student.key)["instance"] == instance, "the same server, never restarted"
    stale = issue_grant(node, student.key, student)  # a grant of the ended session opens nothing either
    assert requests.get(node.url(student.key, "api/contents"), params={"grant": stale}).status_code == 403


def test_an_agent_that_was_away_learns_from_auth_what_ended_meanwhile(make_node, command, bus, auth, student):
    node = make_node()
    first = node.start_agent()
    assert command(node, "server.ensure", user_key=student.key)["started"] is True
    browser = signed_in(node, student)

    assert first.terminate() == 0  # the servers stay, for the next agent to adopt
    auth.ended[student.sid] = time.time() + 3600
    ended(bus, student.sid)  # no one on the node hears it
    assert browser.get(node.url(student.key, "api/contents")).status_code == 200

    agent = node.start_agent()  # auth does not answer yet: the agent asks again in the background
    wait_until(lambda: "list of ended sessions not received" in agent.log(), 15, message="the agent saying it waits")
    auth.start()
    wait_until(lambda: browser.get(node.url(student.key, "api/contents")).status_code == 403, 30, interval=0.1,
               message="the adopted server refusing the session ended while the agent was away")
    assert "list of ended sessions received" in agent.log() and auth.asked >= 1
    assert_refused(browser, node, student)

    agent.terminate()  # a third agent, auth gone, keeps what the node's file holds for servers started later
    auth.stop()
    auth.ended.clear()
    node.start_agent()
    assert student.sid in (node.run_dir / "revocations" / "revoked").read_text()


def test_the_agent_keeps_the_file_short(tmp_path, bus, monkeypatch):
    from services.spawner import revocations

    monkeypatch.setattr(revocations, "SLACK", 4)
    own_bus = Bus(AMQP_URL, "tests-compact", TOPOLOGY)
    kept = revocations.NodeRevocations(own_bus, TOPOLOGY, tmp_path / "revocations")
    try:
        assert own_bus.wait_ready(10)
        time.sleep(0.3)  # the subscription is bound once connected
        soon, live = time.time() + 1.0, secrets.token_urlsafe(12)
        for sid, exp in [*((f"old{n}", soon) for n in range(10)), (live, time.time() + 3600)]:
            bus.publish(EVENT, Envelope(EVENT, {"sid": sid, "exp": exp}))
        wait_until(lambda: kept.file.lines == 11, 5, message="every revocation appended")
        kept.compact()
        assert kept.file.lines == 11, "live lines are never dropped"
        time.sleep(max(0.0, soon - time.time()) + 0.1)
        kept.compact()
        assert kept.file.lines == 1 and list(kept.file.read()) == [live]
    finally:
        kept.close()
        own_bus.close()

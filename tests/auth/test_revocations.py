"""A session that ended stays ended: stored by auth, reloaded when auth starts again, and listed to a
service that was down when it ended (``revocations.list`` over RabbitMQ)."""
from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from capytale.messaging import Bus, Topology, delete_topology
from capytale.revocations import Watcher
from capytale.tokens import SessionVerifier, load_public_key
from services.auth import create_app, revoked
from services.auth.models import RevokedSession
from tests.auth.conftest import NAMESPACE

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/%2F"


@pytest.fixture
def namespaces():
    """Namespaces of this test's own (a platform each); their queues and exchanges deleted at the end."""
    probe = Bus(AMQP_URL, "tests-probe", Topology(f"capytale-tests-revoked-{uuid.uuid4().hex[:6]}"))
    try:
        if not probe.wait_ready(5):
            pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672")
    finally:
        probe.close()
    made: list[Topology] = [probe.topology]

    def make() -> str:
        made.append(Topology(f"capytale-tests-revoked-{uuid.uuid4().hex[:6]}"))
        return made[-1].namespace

    yield make
    for topology in made:
        revoked.lister(AMQP_URL, topology).close()  # auth's answering consumer, before its queue goes
        delete_topology(AMQP_URL, topology, nodes=0)


@pytest.fixture
def namespace(namespaces) -> str:
    return namespaces()


def session_of(client, app) -> str:
    token = client.get_cookie(app.config["CAPYTALE"]["SESSION_COOKIE"], path="/auth").value
    return SessionVerifier(load_public_key(Path(app.config["CAPYTALE"]["SESSION_PUBLIC_KEY"]))).verify(token).sid


def stored(app) -> list[tuple]:
    engine = sa.create_engine(app.config["CAPYTALE"]["AUTH_DATABASE_URL"])
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(
                sa.select(RevokedSession.sid, RevokedSession.expires, RevokedSession.reason))]
    finally:
        engine.dispose()


def a_service_that_starts(namespace: str) -> Watcher:
    """What activities, the router or a node's agent holds when it starts: its own set, empty."""
    return Watcher(AMQP_URL, Topology(namespace))


def test_a_logout_is_stored_reloaded_by_auth_and_listed_to_a_service_that_starts(var_dir, namespaces):
    namespace = namespaces()
    app = create_app({"VAR_DIR": var_dir, "DEV_LOGIN": True, "AMQP_NAMESPACE": namespace})
    client = app.test_client()
    client.post("/auth/dev-login", data={"username": "léa", "role": "student"})
    sid, token = session_of(client, app), client.get_cookie("capytale_session", path="/auth").value
    assert client.get("/auth/logout").status_code == 302

    [(found, expires, reason)] = stored(app)
    assert (found, reason) == (sid, "logout")
    assert abs(expires - (time.time() + app.config["CAPYTALE"]["SESSION_LIFETIME"])) < 60

    # auth started again (a process of its own: its set is empty until it reads its database)
    again = create_app({"VAR_DIR": var_dir, "DEV_LOGIN": True, "AMQP_NAMESPACE": namespaces()}).test_client()
    assert again.get("/auth/whoami", headers={"Authorization": f"Bearer {token}"}).status_code == 401

    later = a_service_that_starts(namespace)
    try:
        assert later.load_from_auth(wait=10), "auth answered revocations.list"
        assert sid in later.revoked
    finally:
        later.close()
        later.bus.close()


def test_a_service_that_starts_while_auth_is_down_learns_the_list_once_auth_is_back(var_dir, namespace):
    later = a_service_that_starts(namespace)
    try:
        assert later.load_from_auth(wait=1.5) is False, "no auth: it serves, and asks again in the background"
        app = create_app({"VAR_DIR": var_dir, "DEV_LOGIN": True, "AMQP_NAMESPACE": namespace})
        client = app.test_client()
        client.post("/auth/dev-login", data={"username": "jules", "role": "student"})
        sid = session_of(client, app)
        client.post("/auth/logout")
        assert later.loaded.wait(20), "the list came once auth answered"
        assert sid in later.revoked
    finally:
        later.close()
        later.bus.close()


def test_the_ents_single_logout_is_stored_and_listed(browser, auth_server, cas_server, cas_login):
    cas_login(browser, "eleve.nguyễn", "/s/abc123")
    token = browser.cookies.get("capytale_session", path="/auth")
    sid = SessionVerifier(load_public_key(Path(auth_server.app.config["CAPYTALE"]["SESSION_PUBLIC_KEY"]))).verify(token).sid
    browser.get(cas_server.url + "/logout", timeout=10)  # the CAS server POSTs its logoutRequest to auth
    deadline = time.monotonic() + 10
    while not any(row[0] == sid for row in stored(auth_server.app)):
        assert time.monotonic() < deadline, "the single logout was not stored"
        time.sleep(0.2)
    assert [row[2] for row in stored(auth_server.app) if row[0] == sid] == ["single_logout"]
    later = a_service_that_starts(NAMESPACE)
    try:
        assert later.load_from_auth(wait=10) and sid in later.revoked
    finally:
        later.close()
        later.bus.close()

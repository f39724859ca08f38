"""Fixtures of the auth tests: a real CAS server, and auth served over HTTP so that the CAS server can call it."""
from __future__ import annotations

import threading
from dataclasses import dataclass

import pytest
import requests
from werkzeug.serving import make_server

from capytale.stack.processes import free_port
from services.auth import create_app
from tests.auth import cas_server as harness

NAMESPACE = "capytale-tests-auth"


@pytest.fixture(scope="session")
def cas_server(tmp_path_factory):
    """django-cas-server on loopback with a teacher, two students and a guardian from an ENT."""
    server = harness.start(tmp_path_factory.mktemp("cas"), free_port())
    yield server
    server.stop()


@dataclass
class AuthServer:
    url: str
    app: object


@pytest.fixture
def auth_server(var_dir, cas_server):
    """The auth service, CAS configured, answering on a loopback port."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    app = create_app({"VAR_DIR": var_dir, "CAS_SERVER_URL": cas_server.url, "PUBLIC_URL": url,
                      "AMQP_NAMESPACE": NAMESPACE})
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield AuthServer(url, app)
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


@pytest.fixture
def browser():
    with requests.Session() as session:
        yield session


@pytest.fixture
def cas_login(cas_server, auth_server):
    """Log in like a browser: Capytale → the CAS form → back with a ticket; answers the callback's response."""

    def login(browser: requests.Session, username: str, next_path: str = "/activities/") -> requests.Response:
        start = browser.get(auth_server.url + "/auth/login", params={"next": next_path}, allow_redirects=False,
                            timeout=10)
        assert start.status_code == 302 and start.headers["Location"].startswith(cas_server.url + "/login?service=")
        page = browser.get(start.headers["Location"], timeout=10)
        sent = harness.submit_login(browser, page, username, harness.PEOPLE[username]["password"])
        assert sent.status_code == 302, sent.text[:1000]
        back = sent.headers["Location"]
        assert back.startswith(auth_server.url + "/auth/callback?") and "ticket=ST-" in back
        answer = browser.get(back, allow_redirects=False, timeout=10)
        answer.callback_url = back  # for the replay test
        return answer

    return login

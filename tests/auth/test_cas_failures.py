"""What goes wrong around CAS says so in French with a way forward, and never hangs."""
import socket
import time
import uuid

import pytest

from capytale.messaging import Topology, delete_topology
from capytale.revocations import RevocationSet, Watcher
from services.auth import create_app
from services.auth.cas import session_index


@pytest.fixture
def silent_cas():
    """A CAS server that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield f"http://127.0.0.1:{sock.getsockname()[1]}/cas"


def test_an_unreachable_cas_server_is_a_503_within_seconds(var_dir, silent_cas):
    client = create_app({"VAR_DIR": var_dir, "CAS_SERVER_URL": silent_cas, "CAS_TIMEOUT": 2.0,
                         "AMQP_NAMESPACE": "capytale-tests-auth"}).test_client()
    started = time.monotonic()
    answer = client.get("/auth/callback?next=%2Fs%2Fabc&ticket=ST-123")
    assert time.monotonic() - started < 5
    assert answer.status_code == 503
    text = answer.get_data(as_text=True)
    assert "ne répond pas" in text and "/auth/login?next=%2Fs%2Fabc" in text


def test_login_goes_to_the_cas_server_with_the_service_url(var_dir, silent_cas):
    client = create_app({"VAR_DIR": var_dir, "CAS_SERVER_URL": silent_cas, "PUBLIC_URL": "https://capytale.example",
                         "AMQP_NAMESPACE": "capytale-tests-auth"}).test_client()
    answer = client.get("/auth/login?next=/s/abc")
    assert answer.headers["Location"] == (silent_cas + "/login?service=https%3A%2F%2Fcapytale.example%2Fauth%2F"
                                          "callback%3Fnext%3D%252Fs%252Fabc")


def test_the_development_login_is_refused_when_cas_is_configured(var_dir, silent_cas):
    with pytest.raises(ValueError, match="DEV_LOGIN"):
        create_app({"VAR_DIR": var_dir, "CAS_SERVER_URL": silent_cas, "DEV_LOGIN": True})


def test_the_callback_is_404_without_cas(var_dir):
    assert create_app({"VAR_DIR": var_dir}).test_client().get("/auth/callback?ticket=ST-1").status_code == 404


@pytest.mark.parametrize(("body", "ticket"), [
    ('<samlp:LogoutRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
     'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="1" Version="2.0" IssueInstant="x">'
     '<saml:NameID>@NOT_USED@</saml:NameID><samlp:SessionIndex>ST-abc</samlp:SessionIndex>'
     '</samlp:LogoutRequest>', "ST-abc"),
    ("<not-saml/>", ""), ("garbage", ""),
])
def test_the_ticket_named_by_a_logout_request(body, ticket):
    assert session_index(body) == ticket


def test_an_unreadable_logout_request_is_a_400(var_dir, silent_cas):
    client = create_app({"VAR_DIR": var_dir, "CAS_SERVER_URL": silent_cas,
                         "AMQP_NAMESPACE": "capytale-tests-auth"}).test_client()
    assert client.post("/auth/callback", data={"logoutRequest": "garbage"}).status_code == 400


def test_revocations_are_kept_until_they_expire():
    revoked = RevocationSet()
    revoked.add("a", time.time() + 60)
    revoked.add("old", time.time() - 1)
    assert "a" in revoked and "old" not in revoked and "b" not in revoked


def test_a_revocation_reaches_another_service_through_rabbitmq():
    topology = Topology(f"capytale-tests-auth-{uuid.uuid4().hex[:6]}")
    url = "amqp://guest:guest@127.0.0.1:5672/%2F"
    auth, other = Watcher(url, topology), Watcher(url, topology)
    try:
        if not other.bus.wait_ready(5):
            pytest.skip("RabbitMQ is not reachable on 127.0.0.1:5672")
        time.sleep(0.3)  # the subscription is bound once connected
        auth.revoke("sid-1", time.time() + 60)
        deadline = time.monotonic() + 5
        while "sid-1" not in other.revoked:
            assert time.monotonic() < deadline, "session.revoked never arrived"
            time.sleep(0.05)
    finally:
        auth.bus.close()
        other.bus.close()
        delete_topology(url, topology, nodes=0)

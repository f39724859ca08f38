"""The CHP client against a real CHP: routes, idempotent deletes, retries and refusals."""
from __future__ import annotations

import datetime
import http.server
import threading
import time

import pytest

from services.spawner.proxy import ChpClient, ProxyError, route_path, socket_target
from tests.spawner.conftest import free_port


def time_ago(seconds: float) -> datetime.datetime:
    return datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(seconds=seconds)


def test_routes_are_added_listed_and_deleted(chp):
    client = chp.client()
    path = route_path(7777, "kproxy")
    target = socket_target("/tmp/cs-x/run/7777/kproxy.sock")
    assert target == "http+unix://%2Ftmp%2Fcs-x%2Frun%2F7777%2Fkproxy.sock"
    client.add_route(path, target, user_key="kproxy")
    assert client.routes()[path]["target"] == target
    assert client.routes()[path]["user_key"] == "kproxy"
    assert path not in client.routes(inactive_since=time_ago(60)), "just added: active"
    client.delete_route(path)
    assert path not in client.routes()
    client.delete_route(path)  # already gone: success
    client.close()


def test_a_refusal_is_raised_at_once(chp):
    client = ChpClient(chp.api_url, "not-the-token")
    began = time.monotonic()
    with pytest.raises(ProxyError) as refused:
        client.routes()
    assert refused.value.status == 403
    assert time.monotonic() - began < 1, "4xx is not retried"
    client.close()


def test_an_unreachable_proxy_is_retried_then_reported():
    client = ChpClient(f"http://127.0.0.1:{free_port()}", "token", attempts=3)
    began = time.monotonic()
    with pytest.raises(ProxyError, match="failed 3 times"):
        client.delete_route("/n/1/u/kx")
    assert time.monotonic() - began >= 0.2, "waited between attempts"
    client.close()


def test_a_server_error_is_retried(flaky_proxy):
    client = ChpClient(flaky_proxy.url, "token", attempts=3)
    assert client.routes() == {"/n/1/u/kx": {"target": "http+unix://x"}}
    assert flaky_proxy.calls == 2
    client.close()


class FlakyHandler(http.server.BaseHTTPRequestHandler):
    """Answers 503 to the first call, then a routing table."""

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        self.server.calls += 1
        if self.server.calls == 1:
            self.send_response(503)
            self.end_headers()
            return
        body = b'{"/n/1/u/kx": {"target": "http+unix://x"}}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def flaky_proxy():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FlakyHandler)
    server.calls = 0
    server.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)

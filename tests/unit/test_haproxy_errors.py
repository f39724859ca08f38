"""HAProxy's own answers are the platform's French pages, with its Content-Security-Policy; an English
page gunicorn makes by itself never reaches a browser; and gunicorn lets through all HAProxy lets through."""
from __future__ import annotations

import html
import http.server
import shutil
import subprocess
import threading
import time
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest
import requests
from gunicorn import util as gunicorn_util
from gunicorn.config import Config
from gunicorn.http.errors import LimitRequestHeaders, LimitRequestLine
from gunicorn.http.parser import RequestParser

import capytale.gunicorn_conf
from capytale.stack import haproxy_errors
from capytale.stack.haproxy import BUFFER, MAX_REQUEST_HEAD, Layout, NotebookOrigin, compose_layout, render
from capytale.stack.processes import free_port
from capytale.web import content_security_policy

ROOT = Path(__file__).resolve().parents[2]
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
# what HAProxy answers itself: errorfile's list (200 is only for monitor-uri, which we do not use)
HAPROXY_STATUSES = (400, 401, 403, 404, 405, 407, 408, 410, 413, 425, 429, 500, 501, 502, 503, 504)


def split(raw: bytes) -> tuple[str, dict[str, str], str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    status, *fields = head.decode("ascii").split("\r\n")
    return status, {name.lower(): value for name, value in (field.split(": ", 1) for field in fields)}, body.decode()


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links, self.stylesheets, self.inline, self.lang = [], [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.lang = attrs.get("lang", self.lang) if tag == "html" else self.lang
        if tag == "a":
            self.links.append(attrs.get("href"))
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.stylesheets.append(attrs["href"])
        if tag in ("style", "script") or "style" in attrs or any(name.startswith("on") for name in attrs):
            self.inline.append(tag)

    def handle_data(self, data):
        if "Réessayer" in data:
            self.links.append(("retry", data))


def assert_french_page(status: int, headers, body: str) -> None:
    """One of our pages: French, the policy, never cached, nothing the policy would refuse."""
    assert headers["content-type"] == "text/html; charset=utf-8"
    assert headers["content-security-policy"] == haproxy_errors.POLICY
    assert headers["cache-control"] == "no-store"
    assert haproxy_errors.PAGES[status].message in html.unescape(body)
    page = _Page()
    page.feed(body)
    assert page.lang == "fr" and not page.inline
    assert page.stylesheets and all(href.startswith("/") and not href.startswith("//") for href in page.stylesheets)
    assert "/" in page.links, "a way forward: the home page"


def test_the_pages_policy_is_the_platforms_with_no_form_leading_elsewhere():
    platform = content_security_policy("http://{key}.nb.localhost:8080")
    assert haproxy_errors.POLICY == platform.replace(" http://*.nb.localhost:8080", "")
    assert "form-action 'self';" in haproxy_errors.POLICY and "<form" not in haproxy_errors.body(503)


@pytest.mark.parametrize("status", HAPROXY_STATUSES)
def test_every_status_haproxy_makes_has_a_french_page(status):
    line, headers, body = split(haproxy_errors.response(status))
    assert line.startswith(f"HTTP/1.1 {status} ")
    assert int(headers["content-length"]) == len(body.encode())
    assert_french_page(status, headers, body)
    if status in (408, 425, 429, 500, 502, 503, 504):  # it may work a moment later
        assert '<a class="button" href="">Réessayer</a>' in body  # the same address again


def test_compose_has_the_generated_pages(tmp_path):
    generated = haproxy_errors.write(tmp_path)
    committed = ROOT / "compose" / "haproxy-errors"
    names = sorted(path.name for path in generated.iterdir())
    assert names == sorted(path.name for path in committed.iterdir()), "python -m capytale.stack haproxy-errors compose/haproxy-errors"
    for name in names:
        assert (committed / name).read_bytes() == (generated / name).read_bytes(), (
            f"compose/haproxy-errors/{name} is stale: python -m capytale.stack haproxy-errors compose/haproxy-errors")


def test_the_compose_configuration_passes_haproxy_check(tmp_path):
    """compose/haproxy.cfg, with its error pages' folder here, as HAProxy's image would read it."""
    layout = replace(compose_layout(4), errors=str(haproxy_errors.write(tmp_path / "errors")))
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(layout))
    env = {"NOTEBOOK_HOST_SUFFIX": ".nb.example", "CAPYTALE_PUBLIC_URL": "https://example"}
    checked = subprocess.run([HAPROXY, "-c", "-f", str(config)], capture_output=True, text=True, env=env)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    warnings = [line for line in (checked.stdout + checked.stderr).splitlines()
                if "WARNING" in line and "could not resolve address" not in line]  # compose's names, not here
    assert not warnings, warnings


# --- gunicorn ---------------------------------------------------------------------------------


def parsed(raw: bytes, module=None):
    config = Config()
    for name in ("limit_request_line", "limit_request_field_size", "limit_request_fields"):
        if module is not None:
            config.set(name, getattr(module, name))
    return next(iter(RequestParser(config, iter([raw]), ("127.0.0.1", 1))))


HAPROXY_HEAD = BUFFER - 1024  # the longest request line and headers HAProxy takes: its buffer less tune.maxrewrite
AT_HAPROXY_LIMITS = {
    "a long address": (b"GET /" + b"a" * HAPROXY_HEAD + b" HTTP/1.1\r\nHost: x\r\n\r\n", LimitRequestLine),
    "a long cookie": (b"GET / HTTP/1.1\r\nHost: x\r\nCookie: " + b"a" * HAPROXY_HEAD + b"\r\n\r\n", LimitRequestHeaders),
    "102 headers": (b"GET / HTTP/1.1\r\n" + b"".join(b"X-%d: 1\r\n" % n for n in range(102)) + b"\r\n",
                    LimitRequestHeaders),
}


@pytest.mark.parametrize("raw, refused_by_default", AT_HAPROXY_LIMITS.values(), ids=AT_HAPROXY_LIMITS)
def test_gunicorn_takes_whatever_haproxy_lets_through(raw, refused_by_default):
    with pytest.raises(refused_by_default):  # gunicorn's defaults: its own English 414 or 431
        parsed(raw)
    assert parsed(raw, capytale.gunicorn_conf).method == "GET"


# --- a real HAProxy in front of services that answer like gunicorn and like Flask ------------


class _Service(http.server.BaseHTTPRequestHandler):
    """``/auth/…``: gunicorn's own English error page (its very function); ``/activities/…``: a page
    of the platform's (a 404 with the policy), to be passed as it is."""

    def do_GET(self):
        if self.path == "/_health":
            self._answer(200, "ok")
        elif self.path.startswith("/auth/"):
            gunicorn_util.write_error(self.connection, 431, "Request Header Fields Too Large", "Error parsing headers")
            self.close_connection = True
        else:
            self._answer(404, "<p>page de la plateforme</p>", {"Content-Security-Policy": haproxy_errors.POLICY})

    def _answer(self, status, text, headers=None):
        payload = text.encode()
        self.send_response(status)
        for name, value in {"Content-Type": "text/html; charset=utf-8", **(headers or {})}.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        try:
            self.wfile.write(payload)
        except ConnectionError:
            pass  # HAProxy's health check reads the status only

    def log_message(self, *args):
        pass


@pytest.fixture
def proxy(tmp_path):
    """HAProxy on a free port: auth and activities on the fake service, the router and node 1 on ports
    nothing listens to; stopped by its pid."""
    service = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Service)
    threading.Thread(target=service.serve_forever, daemon=True).start()
    port, nothing = free_port(), ("127.0.0.1", free_port())
    url = f"http://127.0.0.1:{port}"
    address = ("127.0.0.1", service.server_address[1])
    layout = Layout(bind=("127.0.0.1", port), services={"auth": [address], "activities": [address], "router": [nothing]},
                    nodes={1: nothing}, errors=str(haproxy_errors.write(tmp_path / "errors")),
                    notebooks=NotebookOrigin.of(f"http://{{key}}.nb.localhost:{port}", url))
    config = tmp_path / "haproxy.cfg"
    config.write_text(render(layout))
    log = tmp_path / "haproxy.log"
    with log.open("wb") as output:
        process = subprocess.Popen([HAPROXY, "-db", "-f", str(config)], stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(url + "/_", timeout=1)
                break
            except requests.ConnectionError:
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        yield url
    finally:
        process.terminate()
        process.wait(10)
        service.shutdown()
        service.server_close()


def assert_haproxy_page(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, answer.text
    assert_french_page(status, answer.headers, answer.text)


def test_haproxy_answers_its_own_errors_with_french_pages(proxy):
    assert_haproxy_page(requests.get(proxy + "/activities/", headers={"X-Long": "a" * 20_000}, timeout=5), 400)
    assert_haproxy_page(requests.get(proxy + "/activities/" + "a" * MAX_REQUEST_HEAD, timeout=5), 400)
    passed = requests.get(proxy + "/activities/", headers={"Cookie": "a" * (MAX_REQUEST_HEAD - 1024)}, timeout=5)
    assert passed.text == "<p>page de la plateforme</p>", "under the limit, the service answers"
    assert_haproxy_page(requests.get(proxy + "/n/1/u/abc/", timeout=5), 404)  # on the platform's host
    assert_haproxy_page(requests.get(proxy + "/s/ABCD", timeout=10), 503)  # the router: nothing there


def test_a_page_gunicorn_makes_itself_becomes_ours_and_the_services_own_pass(proxy):
    assert_haproxy_page(requests.get(proxy + "/auth/whoami", timeout=5), 400)
    own = requests.get(proxy + "/activities/nothing", timeout=5)
    assert own.status_code == 404 and own.text == "<p>page de la plateforme</p>"

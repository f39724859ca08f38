"""What HAProxy answers by itself, through the real platform: French pages with the platform's policy,
for a request too long, a student's path asked of the platform's host, and a service that is down."""
from __future__ import annotations

import time

import pytest
import requests

from capytale.stack import haproxy_errors
from capytale.stack.processes import Process

pytestmark = pytest.mark.e2e


def assert_french_page(answer: requests.Response, status: int) -> None:
    assert answer.status_code == status, answer.text[:300]
    assert answer.headers["Content-Type"] == "text/html; charset=utf-8"
    assert answer.headers["Content-Security-Policy"] == haproxy_errors.POLICY
    assert answer.headers["Cache-Control"] == "no-store"
    assert '<html lang="fr">' in answer.text and "Oups…" in answer.text
    assert haproxy_errors.PAGES[status].message.replace("'", "&#39;") in answer.text


def test_a_too_long_request_gets_the_french_page(platform):
    answer = requests.get(platform.url + "/activities/", headers={"X-Long": "a" * 20_000}, timeout=10)
    assert_french_page(answer, 400)
    assert "Revenir à l&#39;accueil" in answer.text


def test_a_long_header_under_the_limit_reaches_the_service_not_gunicorns_own_refusal(platform):
    """gunicorn's own limit (8 kB a header) would answer an English 431: the service answers instead."""
    answer = requests.get(platform.url + "/auth/whoami", headers={"X-Long": "a" * 10_000}, timeout=10)
    assert answer.status_code == 401 and answer.json()["reason"] == "login_required"


def test_a_students_path_on_the_platforms_host_is_the_french_404(platform):
    assert_french_page(requests.get(platform.url + "/n/1/", allow_redirects=False, timeout=10), 404)


def test_the_pages_stylesheets_are_served(platform):
    for href in haproxy_errors.STYLESHEETS:
        answer = requests.get(platform.url + href, timeout=10)
        assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/css")


def test_a_service_down_is_the_french_503_with_a_way_to_try_again(platform):
    router = platform.processes["router"]
    platform.supervisor.stop(router)
    try:
        answer = requests.get(platform.url + "/s/ABCDEF", allow_redirects=False, timeout=30)
        assert_french_page(answer, 503)
        assert '<a class="button" href="">Réessayer</a>' in answer.text
    finally:  # the same process again, so that the other tests find the platform whole
        again = Process(router.name, router.argv, router.env, ready=router.ready)
        platform.supervisor.start(again)
        platform.processes[router.name] = again
        platform.supervisor.wait_ready([again], 60)
    deadline = time.monotonic() + 20
    while requests.get(platform.url + "/s/_", allow_redirects=False, timeout=10).status_code == 503:
        assert time.monotonic() < deadline, "HAProxy did not see the router back"
        time.sleep(0.2)

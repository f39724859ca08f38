"""From the ENT to the notebook with no other step: the whole platform with a real CAS server."""
from __future__ import annotations

import html
import secrets
import urllib.parse

import pytest

from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import free_port
from tests.auth import cas_server as harness
from tests.e2e.browser import Browser

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    server = harness.start(tmp_path_factory.mktemp("cas"), free_port())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ent_platform(tmp_path_factory, cas):
    """The platform as an académie runs it: CAS, no development login (one node is enough here)."""
    var_dir = tmp_path_factory.mktemp("ent")
    env = {"CAPYTALE_AMQP_NAMESPACE": f"capytale-ent-{secrets.token_hex(4)}", "CAPYTALE_HEARTBEAT_INTERVAL": "1",
           "CAPYTALE_CAS_SERVER_URL": cas.url, "CAPYTALE_DEV_LOGIN": "false"}
    local = LocalPlatform(PlatformConfig(var_dir=var_dir, http_port=free_port(), nodes=1, workers=1, threads=8,
                                         env=env, log_dir=var_dir / "logs"))
    local.start(timeout=90)
    local.wait_nodes_routed()
    yield local
    local.stop(forget_messaging=True)


def through_cas(browser: Browser, start_path: str, username: str):
    """Follow redirects like a browser; fill the CAS form once; answer the first non-redirect."""
    url, logged_in = browser.url(start_path), False
    for _ in range(12):
        answer = browser.http.get(url, allow_redirects=False, timeout=30)
        if answer.status_code != 302:
            if not logged_in and "csrfmiddlewaretoken" in answer.text:
                answer = harness.submit_login(browser.http, answer, username, harness.PEOPLE[username]["password"])
                logged_in = True
            else:
                return answer, url
        location = answer.headers["Location"]
        url = location if location.startswith("http") else browser.url(location)
        if "/n/" in url and "grant=" in url:
            return answer, url
    raise AssertionError(f"too many redirects, last {url}")


def test_teacher_and_student_arrive_from_the_ent(ent_platform, cas, corpus):
    teacher = Browser.on(ent_platform)
    page, _ = through_cas(teacher, "/activities/", "prof.martin")
    assert page.status_code == 200 and "Mes activités" in html.unescape(page.text)
    created = teacher.upload(corpus / "python-notions.ipynb", "Notions de Python")
    assert created.status_code == 201, created.text
    share = urllib.parse.urlsplit(created.json()["share_url"]).path

    student = Browser.on(ent_platform)
    answer, notebook_url = through_cas(student, share, "eleve.nguyễn")
    while answer.status_code == 200 and "Ton carnet se prépare" in answer.text:  # the waiting page, if shown
        answer, notebook_url = through_cas(student, share, "eleve.nguyễn")
    assert "/n/1/u/" in notebook_url, (answer.status_code, answer.text[:300])
    opened = student.http.get(notebook_url, timeout=30)
    assert opened.status_code == 200

    copies = teacher.http.get(teacher.url(f"/activities/api/activities/{created.json()['id']}/copies")).json()
    assert [c["student"]["uid"] for c in copies] == ["eleve.nguyễn"]


def test_a_student_on_a_teacher_page_is_told_why(ent_platform):
    student = Browser.on(ent_platform)
    page, _ = through_cas(student, "/activities/", "eleve.dupont")
    assert page.status_code == 403
    assert "réservée aux enseignants" in html.unescape(page.text)

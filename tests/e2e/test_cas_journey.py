"""From the ENT to the notebook with no other step, and out again: the whole platform with a real CAS server."""
from __future__ import annotations

import html
import json
import secrets
import time
import urllib.parse
import uuid

import pytest
import requests

from capytale.stack.platform import LocalPlatform, PlatformConfig
from capytale.stack.processes import free_port
from tests.auth import cas_server as harness
from tests.e2e.browser import Browser, NotebookLink

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def cas(tmp_path_factory):
    server = harness.start(tmp_path_factory.mktemp("cas"), free_port())
    yield server
    server.stop()


@pytest.fixture(scope="module")
def ent_platform(tmp_path_factory, cas):
    """The platform as an académie runs it: CAS, no development login (one node is enough here), and
    students' servers that outlive their agent, for the next one to adopt, as in production."""
    var_dir = tmp_path_factory.mktemp("ent")
    env = {"CAPYTALE_AMQP_NAMESPACE": f"capytale-ent-{secrets.token_hex(4)}", "CAPYTALE_HEARTBEAT_INTERVAL": "1",
           "CAPYTALE_CAS_SERVER_URL": cas.url, "CAPYTALE_DEV_LOGIN": "false", "CAPYTALE_STOP_SERVERS_ON_EXIT": "false"}
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


# --- out again: the ENT's single logout and the logout button close the open notebook ----------------

NOT_YOURS = "Ce carnet appartient à quelqu'un d'autre, ou ton lien a expiré."
LOGOUT_WAIT = 5.0  # seconds within which an open notebook refuses a session that has ended (measured: well under 1)


@pytest.fixture(scope="module")
def shared(ent_platform, corpus):
    """An activity of prof.martin's, opened by the students of these tests."""
    teacher = Browser.on(ent_platform)
    through_cas(teacher, "/activities/", "prof.martin")
    created = teacher.upload(corpus / "python-notions.ipynb", "Déconnexions")
    assert created.status_code == 201, created.text
    return urllib.parse.urlsplit(created.json()["share_url"]).path


def open_notebook(platform, share: str, username: str, browser: Browser | None = None) -> tuple[Browser, NotebookLink]:
    """``username`` logs in through the ENT (their browser's CAS session, if any, lets them straight through)
    and opens their copy: the page (which spends the grant) and its contents answer."""
    browser = browser or Browser.on(platform, username)
    through_cas(browser, share, username)
    link = browser.open_share(share)
    assert browser.enter(link).status_code == 200
    assert browser.contents(link).status_code == 200
    return browser, link


def write_in(browser: Browser, link: NotebookLink) -> str:
    """The student's change: a cell of their own, saved; its text."""
    notebook = browser.contents(link).json()["content"]
    mark = f"print('à moi : {uuid.uuid4().hex[:8]}')"
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "source": mark, "outputs": [],
                              "execution_count": None, "id": uuid.uuid4().hex[:8]})
    assert browser.save(link, notebook).status_code == 200
    return mark


def refused(browser: Browser, link: NotebookLink) -> bool:
    api = browser.contents(link)
    if api.status_code != 403:
        return False
    assert api.headers["Content-Type"].startswith("application/json")
    page = browser.http.get(browser.url(link.location.split("?")[0]), allow_redirects=True, timeout=30)
    assert page.status_code == 403 and NOT_YOURS in html.unescape(page.text), (page.status_code, page.text[:300])
    return True


def wait_refused(browser: Browser, link: NotebookLink, timeout: float = LOGOUT_WAIT) -> float:
    began = time.monotonic()
    while not refused(browser, link):
        assert time.monotonic() - began < timeout, f"the notebook still opens {timeout}s after the logout"
        time.sleep(0.1)
    return time.monotonic() - began


def cas_logout(browser: Browser, cas) -> None:
    """The ENT's logout: the CAS server ends its session and POSTs a logoutRequest to auth for each ticket."""
    assert browser.http.get(cas.url + "/logout", timeout=30).status_code == 200


def test_the_ents_single_logout_closes_the_open_notebook_and_only_that_one(ent_platform, cas, shared):
    student, link = open_notebook(ent_platform, shared, "eleve.nguyễn")
    mark = write_in(student, link)
    neighbour, theirs = open_notebook(ent_platform, shared, "eleve.dupont")
    assert link.node == theirs.node == 1 and link.key != theirs.key  # two students on the same node

    cas_logout(student, cas)  # the pupil leaves the classroom's computer through the ENT
    took = wait_refused(student, link)
    print(f"\nthe open notebook refused the ended session {took:.2f}s after the ENT's logout")
    assert neighbour.contents(theirs).status_code == 200, "the other student's notebook is untouched"
    assert neighbour.enter(neighbour.open_share(shared)).status_code == 200

    back, again = open_notebook(ent_platform, shared, "eleve.nguyễn", browser=student)  # logs in again
    assert (again.key, again.path) == (link.key, link.path)
    assert mark in json.dumps(back.contents(again).json()["content"], ensure_ascii=False), "their same copy, with their change"


def test_the_logout_button_closes_the_open_notebook(ent_platform, cas, shared):
    student, link = open_notebook(ent_platform, shared, "eleve.dupont")
    mark = write_in(student, link)
    neighbour, theirs = open_notebook(ent_platform, shared, "eleve.nguyễn")

    button = student.http.get(student.url("/auth/logout"), allow_redirects=False, timeout=30)  # « Se déconnecter »
    assert button.status_code == 302 and button.headers["Location"].startswith(cas.url + "/logout")
    wait_refused(student, link)
    assert neighbour.contents(theirs).status_code == 200

    back, again = open_notebook(ent_platform, shared, "eleve.dupont", browser=student)
    assert again.key == link.key and mark in json.dumps(back.contents(again).json()["content"], ensure_ascii=False)


def test_a_router_that_was_down_during_the_single_logout_refuses_the_session(ent_platform, cas, shared):
    student, link = open_notebook(ent_platform, shared, "eleve.nguyễn")
    session = {"capytale_session": student.http.cookies.get("capytale_session", path="/s")}
    assert requests.get(ent_platform.url + shared, cookies=session, allow_redirects=False,
                        timeout=30).headers["Location"].split("?")[0].endswith(link.location.split("?")[0])

    ent_platform.supervisor.stop(ent_platform.processes["router"])
    try:
        cas_logout(student, cas)
        wait_refused(student, link)  # the nodes heard of it meanwhile
    finally:
        ent_platform.start_again("router", timeout=90)
    deadline = time.monotonic() + 20
    while (answer := requests.get(ent_platform.url + shared, cookies=session, allow_redirects=False,
                                  timeout=30)).status_code == 503:
        assert time.monotonic() < deadline, "HAProxy did not see the router back"
        time.sleep(0.2)
    assert answer.status_code == 302 and answer.headers["Location"].startswith("/auth/login?"), \
        "the router, started after the logout, learnt it from auth: the old cookie opens nothing"
    open_notebook(ent_platform, shared, "eleve.nguyễn", browser=student)


def test_a_node_agent_that_was_down_during_the_logout_closes_the_notebook_when_it_is_back(ent_platform, shared):
    student, link = open_notebook(ent_platform, shared, "eleve.dupont")
    neighbour, theirs = open_notebook(ent_platform, shared, "eleve.nguyễn")

    ent_platform.supervisor.stop(ent_platform.processes["spawner1"])  # the servers stay, for the next agent
    try:
        assert student.http.get(student.url("/auth/logout"), allow_redirects=False, timeout=30).status_code == 302
        time.sleep(1)
        assert student.contents(link).status_code == 200, "no agent: no one tells the server yet"
    finally:
        ent_platform.start_again("spawner1", timeout=90)
    wait_refused(student, link, timeout=30)  # the new agent asks auth what ended while it was away
    assert neighbour.contents(theirs).status_code == 200
    open_notebook(ent_platform, shared, "eleve.dupont", browser=student)

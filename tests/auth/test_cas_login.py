"""The whole login like a browser, against a real CAS server (django-cas-server) on loopback."""
import time
from pathlib import Path

import pytest
import requests

from capytale.tokens import SessionVerifier, load_public_key


def session_of(browser, auth_server):
    token = browser.cookies.get("capytale_session", path="/auth")
    settings = auth_server.app.config["CAPYTALE"]
    return SessionVerifier(load_public_key(Path(settings["SESSION_PUBLIC_KEY"]))).verify(token)


def test_a_teacher_logs_in_and_is_sent_to_the_teacher_pages(browser, auth_server, cas_login):
    answer = cas_login(browser, "prof.martin", "/activities/")
    assert answer.status_code == 302 and answer.headers["Location"] == "/activities/"
    who = browser.get(auth_server.url + "/auth/whoami", timeout=5).json()
    assert who == {"uid": "prof.martin", "name": "Claire Martin", "role": "teacher"}
    identity = session_of(browser, auth_server)
    assert identity.school == "0750001A" and identity.classes == ("2NDE3", "TG1")


def test_a_student_with_a_non_ascii_name_lands_on_the_share_url(browser, auth_server, cas_login):
    answer = cas_login(browser, "eleve.nguyễn", "/s/abc123")
    assert answer.status_code == 302 and answer.headers["Location"] == "/s/abc123"
    identity = session_of(browser, auth_server)
    assert identity.uid == "eleve.nguy\u1ec5n" and identity.role == "student"
    assert identity.classes == ("2NDE3", "G2-NSI") and identity.school == "0750001A"


def test_the_other_student_gets_their_own_profile(browser, auth_server, cas_login):
    cas_login(browser, "eleve.dupont", "/s/abc123")
    identity = session_of(browser, auth_server)
    assert (identity.name, identity.role, identity.classes) == ("Jules Dupont", "student", ("2NDE3",))


def test_a_guardian_is_refused_politely(browser, auth_server, cas_login):
    answer = cas_login(browser, "parent.dupont", "/activities/")
    assert answer.status_code == 403
    assert "réservé aux enseignants et aux élèves" in answer.text
    assert browser.cookies.get("capytale_session", path="/auth") is None


def test_a_replayed_ticket_is_refused(browser, auth_server, cas_login):
    first = cas_login(browser, "eleve.dupont", "/s/abc123")
    assert first.status_code == 302
    with requests.Session() as thief:
        again = thief.get(first.callback_url, allow_redirects=False, timeout=10)
    assert again.status_code == 403 and "Ta connexion a expiré, reconnecte-toi" in again.text
    assert "/auth/login?next=%2Fs%2Fabc123" in again.text


def test_a_forged_ticket_is_refused_by_the_cas_server(browser, auth_server):
    answer = browser.get(auth_server.url + "/auth/callback", params={"next": "/s/x", "ticket": "ST-forged-1234"},
                         allow_redirects=False, timeout=10)
    assert answer.status_code == 403 and "Ta connexion a expiré" in answer.text
    assert browser.cookies.get("capytale_session", path="/auth") is None


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/x", "/\\evil.example"])
def test_an_open_redirect_in_next_is_not_followed(browser, auth_server, cas_login, target):
    answer = cas_login(browser, "prof.martin", target)
    assert answer.status_code == 302 and answer.headers["Location"] == "/"


def test_a_cas_single_logout_ends_the_session(browser, auth_server, cas_server, cas_login):
    cas_login(browser, "eleve.nguyễn", "/s/abc123")
    assert browser.get(auth_server.url + "/auth/whoami", timeout=5).status_code == 200
    browser.get(cas_server.url + "/logout", timeout=10)  # the ENT's logout: the CAS server POSTs a logoutRequest
    deadline = time.monotonic() + 10
    while browser.get(auth_server.url + "/auth/whoami", timeout=5).status_code == 200:
        assert time.monotonic() < deadline, "the single logout did not end the session"
        time.sleep(0.2)
    again = browser.get(auth_server.url + "/auth/login", params={"next": "/s/abc123"}, allow_redirects=False,
                        timeout=5)
    assert again.status_code == 302 and again.headers["Location"].startswith(cas_server.url + "/login")


def test_logout_ends_the_session_and_goes_to_the_cas_logout(browser, auth_server, cas_server, cas_login):
    cas_login(browser, "prof.martin")
    token = browser.cookies.get("capytale_session", path="/auth")
    answer = browser.get(auth_server.url + "/auth/logout", allow_redirects=False, timeout=10)
    assert answer.status_code == 302 and answer.headers["Location"].startswith(cas_server.url + "/logout?service=")
    stolen = requests.get(auth_server.url + "/auth/whoami", cookies={"capytale_session": token}, timeout=5)
    assert stolen.status_code == 401  # a copy of the cookie opens nothing any more

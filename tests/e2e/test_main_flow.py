"""The student's way, end to end through HAProxy, with every part real.

A teacher shares a real notebook; two students each land in their own Jupyter
server on their own copy; code runs in a kernel through the websocket; a saved
change survives the culling of the server; nobody opens anybody else's notebook.
"""
from __future__ import annotations

import html
import json
import unicodedata
import urllib.parse

import pytest

pytestmark = pytest.mark.e2e


def share_path(activity: dict) -> str:
    return urllib.parse.urlsplit(activity["share_url"]).path


def server_id(platform, link) -> int | str:
    """What runs the student's server now: its pid (process backend) or container id (docker)."""
    state = json.loads((platform.var_dir / "run" / str(link.node) / f"{link.key}.json").read_text())
    return state["pid"] or state["container_id"]


def test_two_students_each_get_their_own_server_and_copy(platform, teacher, student, browser, operator, activity):
    alice, bob = student("alice"), student("bob")
    master = activity["source"].read_text()

    # each student is taken to their own server, on a copy equal to the master
    link_a, link_b = alice.open_share(share_path(activity)), bob.open_share(share_path(activity))
    assert link_a.prefix != link_b.prefix
    assert link_a.path.endswith("/" + unicodedata.normalize("NFC", activity["source"].name))
    for person, link in ((alice, link_a), (bob, link_b)):
        page = person.enter(link)
        assert page.status_code == 200, page.text[:300]
        raw = person.contents(link, raw=True)
        assert raw.status_code == 200
        assert raw.json()["content"] == master
    assert server_id(platform, link_a) != server_id(platform, link_b)

    # Notebook 7 speaks French by default
    language = alice.http.get(alice.url(f"{link_a.prefix}lab/api/settings/@jupyterlab/translation-extension:plugin"))
    assert language.json()["schema"]["properties"]["locale"]["default"] == "fr_FR"  # overrides set defaults
    assert "fr_FR" in alice.http.get(alice.url(f"{link_a.prefix}lab/api/translations/")).json()["data"]
    # and saves every 10 s (CAPYTALE_AUTOSAVE_INTERVAL), not every two minutes
    saving = alice.http.get(alice.url(f"{link_a.prefix}lab/api/settings/@jupyterlab/docmanager-extension:plugin"))
    assert saving.json()["schema"]["properties"]["autosaveInterval"]["default"] == 10
    # a setting a student changes is theirs: the other student's Notebook 7 keeps the default
    theme = "lab/api/settings/@jupyterlab/apputils-extension:themes"
    changed = alice.http.put(alice.url(link_a.prefix + theme), json={"raw": '{"theme": "JupyterLab Dark"}'},
                             headers=alice._xsrf(link_a), timeout=30)
    assert changed.status_code == 204, changed.text[:300]
    assert alice.http.get(alice.url(link_a.prefix + theme)).json()["settings"].get("theme") == "JupyterLab Dark"
    assert bob.http.get(bob.url(link_b.prefix + theme)).json()["settings"].get("theme") is None

    # a code cell runs in a kernel, through HAProxy -> CHP -> Unix socket
    assert alice.run_code(link_a, "print(6 * 7)").strip() == "42"
    # over Unix sockets, not TCP ports that a class's connections could take between pick and bind
    transport = "import json, ipykernel; print(json.load(open(ipykernel.get_connection_file()))['transport'])"
    assert alice.run_code(link_a, transport).strip() == "ipc"

    # Alice saves a change
    notebook = alice.contents(link_a).json()["content"]
    notebook["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                              "source": "reponse = 'changement d’Alice'"})
    assert alice.save(link_a, notebook).status_code == 200

    # Alice's server is culled; the next click opens the same copy, with the change
    first_server = server_id(platform, link_a)
    assert operator(link_a.node, "server.stop", user_key=link_a.key, reason="cull")["stopped"] is True
    gone = alice.enter(link_a)
    assert gone.status_code == 404 and "plus actif" in html.unescape(gone.text)
    assert f'href="{platform.url}{share_path(activity)}"' in gone.text  # "Rouvrir mon carnet", on the platform
    # the open page's save meanwhile gets what Jupyter shows in its own words, the edits kept in the page
    unsaved = alice.save(link_a, notebook)
    assert unsaved.status_code == 404 and "seront enregistrées" in unsaved.json()["message"]
    again = alice.open_share(share_path(activity))
    assert again.prefix == link_a.prefix  # sticky placement
    assert alice.enter(again).status_code == 200
    assert server_id(platform, again) != first_server
    sources = [cell["source"] for cell in alice.contents(again).json()["content"]["cells"]]
    assert "reponse = 'changement d’Alice'" in sources

    # Bob's copy is untouched
    assert bob.contents(link_b, raw=True).json()["content"] == master

    # Bob, with Alice's notebook URL, gets nothing of Alice's
    stolen = bob.http.get(bob.url(again.location))  # Jupyter sends strangers to its login page: a 403
    assert stolen.status_code == 403
    assert "appartient à quelqu'un d'autre" in html.unescape(stolen.text) and "changement" not in stolen.text
    assert bob.http.get(bob.url(f"{again.prefix}api/contents/{urllib.parse.quote(again.path)}")).status_code == 403

    # a grant reused later, or by another browser, opens nothing
    fresh = alice.open_share(share_path(activity))
    assert alice.enter(fresh).status_code == 200
    stranger = browser()
    reused = stranger.http.get(stranger.url(fresh.location))
    assert reused.status_code == 403
    assert "changement" not in reused.text
    later = browser()
    assert later.http.get(later.url(link_a.location)).status_code == 403

    # the teacher's JSON interface and page list both copies; Alice's shows her change
    copies = teacher.http.get(teacher.url(f"/activities/api/activities/{activity['id']}/copies")).json()
    assert sorted(c["student"]["name"] for c in copies) == sorted([alice.name, bob.name])
    uid_a = next(c["student"]["uid"] for c in copies if c["student"]["name"] == alice.name)
    copy_a = teacher.http.get(teacher.url(
        f"/activities/api/activities/{activity['id']}/copies/{urllib.parse.quote(uid_a)}/notebook"))
    assert copy_a.status_code == 200
    assert "changement d’Alice" in copy_a.content.decode()
    page = teacher.http.get(teacher.url(f"/activities/{activity['id']}"))
    assert alice.name in page.text and bob.name in page.text
    view = teacher.http.get(teacher.url(f"/activities/{activity['id']}/copies/{urllib.parse.quote(uid_a)}"))
    assert view.status_code == 200 and "changement d’Alice" in html.unescape(view.text)


def test_without_session_the_share_url_asks_to_log_in(browser, activity):
    anonymous = browser()
    answer = anonymous.http.get(anonymous.url(share_path(activity)), allow_redirects=False)
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/auth/login?" + urllib.parse.urlencode({"next": share_path(activity)})


def test_an_unknown_share_code_says_so(student):
    alice = student("alice")
    answer = alice.http.get(alice.url("/s/nexistepas"), allow_redirects=False)
    assert answer.status_code == 404
    assert "n'existe pas" in html.unescape(answer.text)


def test_the_platform_cookie_never_reaches_the_notebook_servers(student, activity):
    alice = student("alice")
    link = alice.open_share(share_path(activity))
    for cookie in alice.http.cookies:
        if cookie.name == "capytale_session":
            assert not link.prefix.startswith(cookie.path.rstrip("/") + "/"), cookie.path


def test_the_proxy_error_page_answers_only_what_a_proxy_sends(browser):
    visitor = browser()
    for asked, answered in ((503, 503), (404, 404), (0, 404), (200, 404), (999, 404)):
        page = visitor.http.get(visitor.url(f"/s/_proxy-error/{asked}"), timeout=10)
        assert page.status_code == answered, (asked, page.status_code)

"""Each student's server on an origin of its own, apart from the platform's; a hostile server can do nothing.

A student's kernel can replace its own server and serve any page at its URL. These tests show what
such a page can reach: the platform's pages and APIs give it no one's credentials, another student's
server is not served on its host, and in a real browser a teacher who opens it from the copy view
loses nothing: not their activities, not their Jupyter space.
"""
from __future__ import annotations

import json
import re
import urllib.parse

import pytest
import requests

from capytale.settings import notebook_url
from tests.e2e.chromium import SLOW, open_teacher_space
from tests.e2e.test_main_flow import share_path

pytestmark = pytest.mark.e2e


def test_each_students_server_has_an_origin_of_its_own(platform, student, activity):
    alice, bob = student("alice"), student("bob")
    link_a, link_b = alice.open_share(share_path(activity)), bob.open_share(share_path(activity))
    port = urllib.parse.urlsplit(platform.url).port
    assert alice.server_url(link_a) == f"http://{link_a.key}.nb.localhost:{port}"
    assert alice.server_url(link_a) != bob.server_url(link_b)
    assert alice.enter(link_a).status_code == 200

    # the platform's own address serves no student's server
    assert requests.get(platform.url + link_a.location, allow_redirects=False, timeout=10).status_code == 404
    # a student's host serves that student's server only, whatever the path asks
    elsewhere = alice.http.get(alice.server_url(link_a) + link_b.prefix + "api/status", timeout=10)
    assert elsewhere.status_code == 404
    # anything else asked there is the platform's, at its own address
    sent = requests.get(alice.server_url(link_a) + "/activities/?x=1", allow_redirects=False, timeout=10)
    assert sent.status_code == 302 and sent.headers["Location"] == platform.url + "/activities/?x=1"
    # and the platform's cookie was never set for a student's host
    assert not [c for c in alice.http.cookies if c.name == "capytale_session" and "nb.localhost" in c.domain]


def test_the_platform_gives_a_students_origin_no_credentials(platform, teacher):
    students_origin = notebook_url(platform.notebook_url, "k7eleve")
    before = teacher.http.get(teacher.url("/activities/api/activities"), timeout=10)
    assert before.status_code == 200

    # what a page there reads with the teacher's cookie: nothing
    for headers in ({"Origin": students_origin},
                    {"Sec-Fetch-Site": "same-site", "Sec-Fetch-Mode": "cors"},
                    {"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "no-cors"}):
        answer = teacher.http.get(teacher.url("/activities/api/activities"), headers=headers, timeout=10)
        assert answer.status_code == 401, (headers, answer.status_code)
    # what it changes: nothing either (refused as cross-site, and the session is not the teacher's)
    upload = teacher.http.post(teacher.url("/activities/api/activities"), headers={"Origin": students_origin},
                               data={"title": "Volée"}, files={"notebook": ("x.ipynb", b"{}")}, timeout=10)
    assert upload.status_code == 403 and upload.json()["reason"] == "cross_site"
    assert teacher.http.get(teacher.url("/activities/api/activities"), timeout=10).json() == before.json()
    # a link the teacher follows from there is a navigation: their own page, shown to them only
    followed = teacher.http.get(teacher.url("/activities/"), timeout=10, allow_redirects=False,
                                headers={"Sec-Fetch-Site": "cross-site", "Sec-Fetch-Mode": "navigate"})
    assert followed.status_code == 200


# The page a hostile kernel serves: it tries what would hurt the teacher who opens it, and says how it went.
HOSTILE_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>piège</title></head><body>
<h1>Mon travail</h1><pre id="results"></pre>
<iframe name="sink" style="display:none"></iframe>
<form id="steal" target="sink" method="post" enctype="multipart/form-data" action="__PLATFORM__/activities/api/activities">
  <input name="title" value="Volée par la page"></form>
<script>
const PLATFORM = "__PLATFORM__", SPACE = "__SPACE__";
const tried = {cookies: document.cookie};
async function attempt(name, call) {
  try { const answer = await call(); tried[name] = answer.type === "opaque" ? "opaque" : [answer.status, await answer.text()]; }
  catch (error) { tried[name] = "refused: " + error.name; }
}
(async () => {
  await attempt("read_activities", () => fetch(PLATFORM + "/activities/api/activities", {credentials: "include"}));
  await attempt("read_whoami", () => fetch(PLATFORM + "/auth/whoami", {credentials: "include"}));
  const upload = new FormData();
  upload.append("title", "Volée par fetch");
  upload.append("notebook", new Blob(['{"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}']), "v.ipynb");
  await attempt("create_activity", () => fetch(PLATFORM + "/activities/api/activities",
                                                {method: "POST", body: upload, credentials: "include", mode: "no-cors"}));
  document.getElementById("steal").submit();
  await attempt("read_space", () => fetch(SPACE + "api/contents/", {credentials: "include"}));
  await attempt("write_space", () => fetch(SPACE + "api/contents/", {method: "POST", credentials: "include",
      mode: "no-cors", body: JSON.stringify({type: "file", ext: ".txt"})}));
  await new Promise(done => setTimeout(done, 1500));  // the form's answer
  document.getElementById("results").textContent = JSON.stringify(tried);
  document.title = "fini";
})();
</script></body></html>"""

# Run in the student's kernel: its server's socket is replaced by a server of the kernel's own.
REPLACE_SERVER = """
import http.server, os, socketserver, threading
PAGE = {page!r}.encode()

class Page(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(PAGE)))
        self.end_headers()
        self.wfile.write(PAGE)
    do_POST = do_PUT = do_GET
    def log_message(self, *args):
        pass

class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

os.unlink({socket!r})
threading.Thread(target=Server({socket!r}, Page).serve_forever, daemon=True).start()
print("remplacé")
"""


def space_files(lab, space: str) -> list[str]:
    """The files of the teacher's space, asked by their JupyterLab page (its own origin: Chromium
    resolves names under localhost, this machine's resolver may not)."""
    listing = lab.evaluate("async (url) => (await fetch(url)).json()", space + "api/contents/")
    return sorted(item["name"] for item in listing["content"])


def test_a_page_a_students_kernel_serves_takes_nothing_from_the_teacher(people, platform, student, corpus):
    teacher = people.login("prof.prudente", "teacher", "/activities/")
    lab = open_teacher_space(teacher)  # the teacher holds a cookie of their own server, too
    space = re.search(r"^https?://[^/]+/n/\d+/u/[a-z0-9]+/", lab.url).group(0)
    files_before = space_files(lab, space)
    lab.close()
    made = teacher.request.post("/activities/api/activities", multipart={
        "title": "Une activité",
        "notebook": {"name": "dés.ipynb", "mimeType": "application/x-ipynb+json",
                     "buffer": (corpus / "Calcul d'une paire de dés un peu particuliers.ipynb").read_bytes()}})
    assert made.status == 201, made.text()
    activity = made.json()

    # the student's notebook links to a page of their server, then their kernel replaces that server
    eve = student("eve")
    link = eve.open_share(urllib.parse.urlsplit(activity["share_url"]).path)
    assert eve.enter(link).status_code == 200
    trap = f"{eve.server_url(link)}{link.prefix}travail"
    notebook = eve.contents(link).json()["content"]
    notebook["cells"].append({"cell_type": "markdown", "metadata": {}, "source": f"[Voir mon travail]({trap})"})
    assert eve.save(link, notebook).status_code == 200
    page = HOSTILE_PAGE.replace("__PLATFORM__", platform.url).replace("__SPACE__", space)
    socket_path = str(platform.var_dir / "run" / str(link.node) / f"{link.key}.sock")
    kernel = eve.kernel(link)
    assert kernel.execute(REPLACE_SERVER.format(page=page, socket=socket_path)).printed.strip() == "remplacé"
    kernel.conn.close()  # the kernel, and its server, live on
    teacher.wait_for_timeout(5000)  # the node's proxy drops idle connections to the real server

    # the teacher opens the copy and follows the student's link
    teacher.goto(f"/activities/{activity['id']}")
    teacher.get_by_role("link", name="Voir la copie").click()
    teacher.get_by_role("link", name="Voir mon travail").click()
    teacher.wait_for_url(trap, timeout=SLOW)
    teacher.wait_for_function("document.title === 'fini'", timeout=SLOW)
    tried = json.loads(teacher.inner_text("#results"))

    assert "capytale" not in tried["cookies"]
    for name in ("read_activities", "read_whoami", "read_space"):
        assert tried[name].startswith("refused"), (name, tried[name])  # the browser keeps the answers from it
    assert tried["create_activity"] == "opaque" and tried["write_space"] == "opaque"  # sent, blind
    # and nothing changed: the teacher's activities, and their space
    mine = teacher.request.get("/activities/api/activities").json()
    assert [a["title"] for a in mine] == ["Une activité"]
    teacher.goto("/activities/")
    lab = open_teacher_space(teacher)
    assert space_files(lab, space) == files_before

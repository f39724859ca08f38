"""The teacher's pages: the list and upload form, an activity, a student's copy read-only."""
from __future__ import annotations

import html
import json
import urllib.parse

from markupsafe import escape

from tests.activities.support import DICE, addresses, ensure_copy, stored, upload

FOLDER = "Dés particuliers ({code})"


def test_without_a_session_a_page_sends_to_the_login(app):
    answer = app.test_client().get("/activities/")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/auth/login?next=%2Factivities%2F"


def test_the_root_leads_to_the_activities(app):
    assert app.test_client().get("/").headers["Location"] == "/activities/"


def test_a_student_gets_a_french_403_page(app, student, activity):
    for path in ("/activities/", f"/activities/{activity['id']}"):
        answer = student.client.get(path)
        assert answer.status_code == 403
        assert "Cette page est réservée aux enseignants." in answer.get_data(as_text=True)


def test_the_teacher_uploads_from_the_page(app, teacher, corpus):
    page = teacher.client.get("/activities/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'name="annex"' in page and 'id="dropzone"' in page
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="Dés", path="/activities/new")
    assert answer.status_code == 303
    assert answer.headers["Location"].startswith("/activities/")
    listing = teacher.client.get("/activities/").get_data(as_text=True)
    assert "Dés" in listing and DICE.replace("'", "&#39;") in listing


def test_a_refused_upload_is_explained_on_the_page(app, teacher, data_root):
    answer = upload(teacher, "cours.ipynb", b'{"cells": [', title="Mon cours", path="/activities/new")
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert "n&#39;est pas un fichier JSON valide (erreur ligne 1, colonne 12)" in page
    assert 'value="Mon cours"' in page
    assert stored(app, data_root) == (0, [])


def test_an_oversized_upload_is_explained_on_the_page(app, teacher, corpus):
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), annexes=[("gros.bin", b"0" * (4 << 20))],
                    path="/activities/new")
    assert answer.status_code == 413
    assert "L&#39;envoi est trop gros" in answer.get_data(as_text=True)


def test_the_activity_page_shows_the_share_url_and_the_copies(app, teacher, student, activity):
    ensure_copy(app, student, activity["code"])
    page = teacher.client.get(f"/activities/{activity['id']}").get_data(as_text=True)
    assert activity["share_url"] in page
    assert "Copier le lien" in page
    assert "léa.moreau" in page
    assert f"/activities/{activity['id']}/copies/{urllib.parse.quote('léa.moreau')}" in page


def test_another_teacher_cannot_open_the_activity_page(app, other_teacher, activity):
    answer = other_teacher.client.get(f"/activities/{activity['id']}")
    assert answer.status_code == 403
    assert "un·e autre enseignant·e" in answer.get_data(as_text=True)
    assert other_teacher.client.get("/activities/424242").status_code == 404


HOSTILE = {
    "cells": [
        {"cell_type": "markdown", "metadata": {}, "source": "# Titre\n<script>alert('md')</script>"},
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "source": "print('<b>')",
         "outputs": [
             {"output_type": "stream", "name": "stdout", "text": "<script>alert('stream')</script>\n"},
             {"output_type": "execute_result", "execution_count": 1, "metadata": {},
              "data": {"text/plain": "<img src=x onerror=alert('plain')>",
                       "text/html": "<script>alert('html')</script>"}},
             {"output_type": "display_data", "metadata": {},
              "data": {"image/png": "iVBORw0KGgo=\n", "text/plain": "<Figure>"}},
             {"output_type": "display_data", "metadata": {},
              "data": {"image/png": "\"><img src=x onerror=alert('png')>"}},
             {"output_type": "display_data", "metadata": {}, "data": {"image/svg+xml": "<svg onload=alert(1)>"}},
             {"output_type": "error", "ename": "ZeroDivisionError", "evalue": "division by zero",
              "traceback": ["\u001b[0;31mZeroDivisionError\u001b[0m: division by zero <script>x</script>"]},
         ]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def test_a_copy_is_shown_read_only_with_everything_escaped(app, teacher, student, activity, data_root):
    ensure_copy(app, student, activity["code"])
    copy = data_root / "users" / student.identity.key / FOLDER.format(code=activity["code"]) / DICE
    for number, cell in enumerate(HOSTILE["cells"]):
        cell["id"] = f"cell-{number}"
    copy.write_text(json.dumps(HOSTILE))
    answer = teacher.client.get(f"/activities/{activity['id']}/copies/{urllib.parse.quote('léa.moreau')}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert "<script>alert" not in page and "<img src=x" not in page and "<svg" not in page
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
    assert "<h1>Titre</h1>" in page and "alert(&#39;md&#39;)" not in page and "alert('md')" not in page
    assert "alert('html')" not in page
    assert "&lt;script&gt;alert(&#39;stream&#39;)&lt;/script&gt;" in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert page.count("<img ") == 1
    assert "ZeroDivisionError: division by zero &lt;script&gt;x&lt;/script&gt;" in page
    assert "\x1b" not in page
    assert "sortie non affichée ici : image/svg+xml" in page


def test_a_copy_carries_no_data_nor_script_address_but_its_own_images(app, teacher, student, activity, data_root):
    ensure_copy(app, student, activity["code"])
    copy = data_root / "users" / student.identity.key / FOLDER.format(code=activity["code"]) / DICE
    page_payload = "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg=="
    svg = "data:image/svg+xml,<svg xmlns='http://www.w3.org/2000/svg' onload='alert(1)'/>"
    hostile = (f'[x]({page_payload})\n\n<a href="{page_payload}">a</a> <img src="{svg}"> '
               '<a href="javascript:alert(1)">j</a> [j](javascript:alert(1)) ![i](data:image/png;base64,iVBORw0KGgo=)')
    copy.write_text(json.dumps({"cells": [
        {"cell_type": "markdown", "id": "md", "metadata": {}, "source": hostile},
        {"cell_type": "code", "id": "code", "execution_count": 1, "metadata": {}, "source": "", "outputs": [
            {"output_type": "display_data", "metadata": {}, "data": {"text/html": hostile}},
            {"output_type": "display_data", "metadata": {}, "data": {"image/png": "iVBORw0KGgo="}},
        ]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    answer = teacher.client.get(f"/activities/{activity['id']}/copies/{urllib.parse.quote('léa.moreau')}")
    assert answer.status_code == 200
    found = addresses(answer.get_data(as_text=True))
    assert not [value for _tag, _name, value in found if value.strip().lower().startswith(("javascript:", "vbscript:"))]
    assert [(tag, value) for tag, _name, value in found if "data:" in value.lower()] == [
        ("img", "data:image/png;base64,iVBORw0KGgo=")]  # the output the platform draws, and nothing else


def test_a_real_notebook_copy_is_shown_in_order(app, teacher, student, activity, corpus):
    ensure_copy(app, student, activity["code"])
    page = teacher.client.get(f"/activities/{activity['id']}/copies/{urllib.parse.quote('léa.moreau')}")
    text = page.get_data(as_text=True)
    notebook = json.loads((corpus / DICE).read_bytes())
    code = [cell for cell in notebook["cells"] if cell["cell_type"] == "code" and cell["source"]]
    first, last = (str(escape("".join(cell["source"]).splitlines()[0])) for cell in (code[0], code[-1]))
    assert page.status_code == 200
    assert text.index("Copie de léa.moreau") < text.index(first) < text.rindex(last)


def test_an_id_beyond_what_a_database_holds_is_a_404_not_a_500(teacher):
    for activity_id in (2**63, 2**64, 10**30, 0):
        for path in (f"/activities/{activity_id}", f"/activities/api/activities/{activity_id}/copies"):
            answer = teacher.client.get(path)
            assert answer.status_code == 404, (path, answer.status_code)


def test_a_method_a_page_does_not_take_is_a_405_that_says_which_it_takes(teacher, activity):
    answer = teacher.client.delete(f"/activities/{activity['id']}/copies.csv",
                                   headers={"Origin": "http://localhost"})
    assert answer.status_code == 405
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "HEAD"}
    assert "Cette action n'est pas possible ici." in html.unescape(answer.get_data(as_text=True))

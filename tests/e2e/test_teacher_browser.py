"""The teacher's pages in a real browser (Debian's Chromium), through HAProxy, with every part real.

A teacher creates an activity from a corpus notebook and an annex file, sees the QR code; two students
open the link in their own browsers and edit; the teacher's page lists both, with their changes in the
read-only view; hostile HTML in a copy runs nothing in the teacher's page; a closed activity refuses a
newcomer; the ZIP holds every copy; protected cells cannot be edited in the student's notebook.
Screenshots of each main page are kept (``make screenshots`` puts them in docs/screenshots/).
"""
from __future__ import annotations

import io
import json
import re
import zipfile

import pytest
from playwright.sync_api import expect

from tests.e2e.chromium import SLOW, close_jupyter_dialogs, open_notebook, open_teacher_space, wait_for_saved_text

pytestmark = pytest.mark.e2e

DICE = "Calcul d'une paire de dés un peu particuliers.ipynb"
ANNEX = ("lancers.csv", b"de1;de2\n1;6\n2;5\n")


def create_activity(page, people, notebook, title: str, annex=None, instructions: str = "", protect: bool = False):
    """Through the new-activity page: the notebook by drag and drop, the annex by the file picker."""
    page.goto("/activities/new")
    drop_files(page, "#dropzone", [(notebook.name, notebook.read_bytes())])
    assert notebook.name in page.inner_text("#file-list")
    if annex:
        page.set_input_files("#annex", files=[{"name": annex[0], "mimeType": "text/csv", "buffer": annex[1]}])
    page.fill("#title", title)
    if instructions:
        page.fill("#instructions", instructions)
    if protect:
        page.check("input[name=protect_cells]")
    return page


def drop_files(page, selector: str, files: list[tuple[str, bytes]]) -> None:
    """Drop files on an element the way a browser does: a drop event carrying a DataTransfer."""
    payload = [{"name": name, "bytes": list(data)} for name, data in files]
    page.evaluate("""([selector, files]) => {
        const transfer = new DataTransfer();
        for (const f of files) { transfer.items.add(new File([new Uint8Array(f.bytes)], f.name)); }
        const zone = document.querySelector(selector);
        zone.dispatchEvent(new DragEvent("dragenter", {dataTransfer: transfer, bubbles: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: transfer, bubbles: true}));
    }""", [selector, payload])


def type_in_new_cell(page, text: str, saved: bool = True) -> None:
    """Add a code cell at the top of the notebook (always on screen), type ``text`` in it, save (Ctrl+S);
    with ``saved``, return once the server has taken the save (what the test does next may close the
    page or the copy), else right after the key (a save the test expects to be refused)."""
    close_jupyter_dialogs(page)
    cells = page.locator(".jp-Notebook .jp-Cell")
    count = cells.count()
    cells.first.click()
    page.keyboard.press("Escape")
    page.keyboard.press("a")  # command mode: a new cell above
    page.wait_for_function("n => document.querySelectorAll('.jp-Notebook .jp-Cell').length > n", arg=count)
    editor = cells.first.locator(".cm-content")
    editor.click()
    page.keyboard.type(text)
    page.wait_for_function("t => (document.querySelector('.jp-Notebook .jp-Cell .cm-content')?.textContent ?? '').includes(t)",
                           arg=text)
    page.keyboard.press("Escape")
    if not saved:
        page.keyboard.press("Control+s")
        return
    with page.expect_response(lambda r: r.request.method == "PUT" and "/api/contents/" in r.url, timeout=30_000) as save:
        page.keyboard.press("Control+s")
    assert save.value.status == 200, f"the save was refused: {save.value.status}"


def test_a_class_in_real_browsers(people, platform, corpus):
    teacher = people.login("prof.durand", "teacher", "/activities/")
    teacher.wait_for_selector("h1")
    create_activity(teacher, people, corpus / DICE, "Des dés particuliers", annex=ANNEX,
                    instructions="Lis l'énoncé, puis réponds dans les cellules prévues.")
    people.screenshot(teacher, "nouvelle-activite")
    teacher.click("#new-activity button[type=submit]")
    teacher.wait_for_url(re.compile(r"/activities/\d+\?created=1"))
    assert teacher.locator("svg.qr").is_visible()
    code = teacher.inner_text("#share-code").strip()
    share_url = teacher.inner_text("#share-url").strip()
    assert share_url.endswith("/s/" + code.lower())
    activity_url = teacher.url.split("?")[0]

    # two students, each in their own browser, each in their own notebook; they edit and save
    alice = people.login("alice.martin", "student", "/s/" + code.lower(), classes="2nde A")
    bob = people.login("bob.petit", "student", "/s/" + code.lower(), classes="2nde B")
    for student, words in ((alice, "réponse d'Alice"), (bob, "réponse de Bob")):
        open_notebook(student, share_url)
        student.wait_for_function(
            "() => (document.querySelector('.jp-Notebook .jp-Cell')?.textContent ?? '').includes('Consigne')")
        type_in_new_cell(student, f"print({words!r})")
    people.screenshot(alice, "carnet-eleve")

    # the teacher sees both, with their classes, and their changes in the read-only view
    teacher.goto(activity_url)
    for name, word in (("alice.martin", "réponse d'Alice"), ("bob.petit", "réponse de Bob")):
        row = teacher.locator(f"tr[data-uid='{name}']")
        row.wait_for()
        with teacher.expect_navigation():
            row.get_by_role("link", name="Voir la copie").click()
        wait_for_saved_text(teacher, word)
        if name == "alice.martin":
            people.screenshot(teacher, "copie-lecture-seule", full_page=False)  # a long notebook
        teacher.goto(activity_url)
    assert "2nde A" in teacher.inner_text("tr[data-uid='alice.martin']")
    teacher.select_option("#class-filter", "2nde B")
    teacher.wait_for_url(re.compile(r"class=2nde"))
    assert teacher.locator("tr[data-uid]").count() == 1 and teacher.locator("tr[data-uid='bob.petit']").count() == 1
    teacher.goto(activity_url)
    people.screenshot(teacher, "activite")

    # the ZIP holds every copy, with the annex file
    with teacher.expect_download() as download:
        teacher.click("text=Télécharger toutes les copies (ZIP)")
    names = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())).namelist()
    for folder in ("alice.martin (alice.martin)", "bob.petit (bob.petit)"):
        assert f"{folder}/{DICE}" in names and f"{folder}/lancers.csv" in names
    saved = zipfile.ZipFile(io.BytesIO(download.value.path().read_bytes())).read(f"alice.martin (alice.martin)/{DICE}")
    assert "réponse d'Alice" in saved.decode()

    # closed: a newcomer is told so, in plain words
    teacher.click("text=Fermer la distribution")
    teacher.wait_for_selector("text=distribution fermée")
    late = people.login("chloe.late", "student", "/s/" + code.lower())
    late.wait_for_selector("h1")
    assert "Activité fermée" in late.inner_text("h1")
    assert "ne la distribue plus" in late.inner_text("main")

    teacher.goto("/activities/")
    people.screenshot(teacher, "mes-activites")
    teacher.goto(activity_url + "/project")
    people.screenshot(teacher, "projection")


HOSTILE = {
    "cells": [
        {"id": "a", "cell_type": "markdown", "metadata": {},
         "source": "# Piège\n<script>window.__pwned = 'md-script'</script>\n"
                   "<img src=x onerror=\"window.__pwned='md-onerror'\">\n[lien](javascript:window.__pwned='link')"},
        {"id": "b", "cell_type": "code", "execution_count": 1, "metadata": {}, "source": "display(HTML(...))",
         "outputs": [
             {"output_type": "display_data", "metadata": {},
              "data": {"text/html": "<script>window.__pwned='html-script'</script>"
                                    "<img src=x onerror=\"window.__pwned='html-onerror'\"><b>gras</b>",
                       "text/plain": "<IPython.core.display.HTML object>"}},
             {"output_type": "stream", "name": "stdout", "text": "<script>window.__pwned='stream'</script>"},
             {"output_type": "display_data", "metadata": {},
              "data": {"image/svg+xml": "<svg onload=\"window.__pwned='svg'\"></svg>"}},
         ]},
    ],
    "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
}


def test_nothing_a_student_wrote_runs_in_the_teachers_page(people, platform, tmp_path):
    hostile = tmp_path / "piège.ipynb"
    hostile.write_text(json.dumps(HOSTILE))
    teacher = people.login("prof.vigilant", "teacher", "/activities/new")
    create_activity(teacher, people, hostile, "Piège")
    teacher.click("#new-activity button[type=submit]")
    teacher.wait_for_url(re.compile(r"/activities/\d+\?created=1"))
    code = teacher.inner_text("#share-code").strip().lower()
    activity_url = teacher.url.split("?")[0]

    student = people.login("eve.curieuse", "student", "/s/" + code)
    student.wait_for_url(re.compile(r"/n/\d+/u/"), timeout=SLOW)

    dialogs = []
    teacher.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    teacher.goto(activity_url)
    teacher.get_by_role("link", name="Voir la copie").click()
    teacher.wait_for_selector("text=Piège")
    teacher.wait_for_timeout(1000)  # time for an image's onerror to fire, were it there
    assert teacher.evaluate("window.__pwned") is None
    assert dialogs == []
    assert teacher.locator("main script").count() == 0
    assert teacher.locator("main [onerror]").count() == 0 and teacher.locator("main svg").count() == 0
    assert "gras" in teacher.inner_text("main")  # harmless HTML is still shown


def test_protected_cells_cannot_be_edited_in_the_students_notebook(people, platform, corpus):
    teacher = people.login("prof.prudent", "teacher", "/activities/new")
    create_activity(teacher, people, corpus / DICE, "Dés protégés", protect=True)
    teacher.click("#new-activity button[type=submit]")
    teacher.wait_for_url(re.compile(r"/activities/\d+\?created=1"))
    code = teacher.inner_text("#share-code").strip().lower()

    student = people.login("leo.sage", "student", "/s/" + code)
    open_notebook(student, f"/s/{code}")
    first_code = student.locator(".jp-Notebook .jp-CodeCell").first
    first_code.locator(".cm-content").wait_for()
    # wait for the text that is compared, through the locator that reads it: the rendered text (innerText)
    # of the first code cell's editor, which was once read empty after a wait on the DOM's text
    expect(first_code.locator(".cm-content")).to_have_text(re.compile(r"\S"), use_inner_text=True, timeout=SLOW)
    before = first_code.locator(".cm-content").inner_text()
    close_jupyter_dialogs(student)
    first_code.locator(".cm-content").click()
    student.keyboard.type("zzz")  # typing into the teacher's cell changes nothing
    assert first_code.locator(".cm-content").inner_text() == before
    type_in_new_cell(student, "print('ma cellule')")  # the student's own cell takes what is typed

    # what was saved: the student's cell, and the teacher's cells as they were
    activity_url = teacher.url.split("?")[0]
    teacher.goto(activity_url)
    teacher.get_by_role("link", name="Voir la copie").click()
    wait_for_saved_text(teacher, "print('ma cellule')")
    assert "zzz" not in teacher.inner_text("main")


def test_mon_espace_jupyter_opens_jupyterlab_in_french(people, platform):
    teacher = people.login("prof.curie", "teacher", "/activities/")
    lab = open_teacher_space(teacher)
    lab.wait_for_selector(".lm-MenuBar-itemLabel >> text=Fichier", timeout=SLOW)  # the menu bar speaks French
    people.screenshot(lab, "espace-jupyter")

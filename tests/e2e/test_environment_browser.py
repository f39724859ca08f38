"""What the students' environment shows in a real browser (Debian's Chromium), through HAProxy, on
teachers' notebooks of the corpus: a matplotlib plot, an ipywidgets slider that answers when moved, a
turtle drawing, the OCaml notebook with its results, a RISE slide show (in a student's Notebook 7 and
in the teacher's JupyterLab); a student writes in a text (markdown) cell of a protected notebook where
the notebook leaves an answer, and nowhere else.
``make screenshots`` puts the pictures in docs/screenshots/ for the README.

What the cells run, they run in the student's kernel of the process backend, which has the host's
network: every cell run here is one the test chose, and none fetches a URL or runs a shell escape.
"""
from __future__ import annotations

import json
import re
import urllib.parse

import nbformat
import pytest
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.e2e.chromium import (
    SLOW, close_jupyter_dialogs, jupyter_click, open_notebook, open_teacher_space, wait_for_saved_text,
)
from tests.e2e.test_teacher_browser import create_activity

pytestmark = pytest.mark.e2e

INTRODUCTION = "Introduction aux notebooks Jupyter.ipynb"  # slides, numpy, matplotlib, seaborn
RECURSION = "2_Exercices_recursivite_corr.ipynb"  # turtle, and a VS Code kernelspec name
OCAML = "Exemple de notebook dans un autre langage interprété OCaml.ipynb"
GRADED = "problem1.ipynb"  # nbgrader: a markdown answer cell


def share(people, teacher, notebook, title: str, protect: bool = False) -> str:
    """The teacher makes an activity of ``notebook`` through the new-activity page; its share path."""
    create_activity(teacher, people, notebook, title, protect=protect)
    teacher.click("#new-activity button[type=submit]")
    teacher.wait_for_url(re.compile(r"/activities/\d+\?created=1"))
    return "/s/" + teacher.inner_text("#share-code").strip().lower()


def cell(page, index: int):
    return page.locator(".jp-Notebook .jp-Cell").nth(index)


def run_cell(page, index: int, timeout: float = SLOW) -> None:
    """Run one code cell as a student does (click in it, Shift+Enter); wait until it has run.

    It has run when its prompt, having shown ``[*]``, shows a number again (the teacher's copy may
    already show one).  Should a dialog Jupyter opened on its own take the keys, the cell is run again."""
    target = cell(page, index)
    prompt = target.locator(".jp-InputPrompt")
    for _ in range(3):
        target.scroll_into_view_if_needed()
        target.locator(".cm-content").wait_for(timeout=SLOW)
        jupyter_click(page, target.locator(".cm-content"))
        prompt.evaluate("""p => { p.ran = false; new MutationObserver(() => { p.ran ||= p.textContent.includes('*'); })
                                   .observe(p, {childList: true, subtree: true, characterData: true}); }""")
        page.keyboard.press("Shift+Enter")
        try:
            page.wait_for_function("p => p.ran", arg=prompt.element_handle(), timeout=5_000)
            break
        except PlaywrightTimeout:
            close_jupyter_dialogs(page)
    page.wait_for_function("p => p.ran && /\\[\\d+\\]/.test(p.textContent)", arg=prompt.element_handle(),
                           timeout=timeout)


def cell_index(notebook, text: str) -> int:
    """The index of the first cell of ``notebook`` (the file shared) whose source holds ``text``: the
    page draws a cell's editor only once it is scrolled to, so the page cannot be searched."""
    cells = nbformat.read(notebook, as_version=4).cells
    return next(i for i, c in enumerate(cells) if text in c.source)


def test_plots_widgets_and_turtle_in_a_students_notebook(people, platform, corpus, tmp_path):
    teacher = people.login("prof.lovelace", "teacher", "/activities/")
    teacher.wait_for_selector("h1")

    # matplotlib (and seaborn's style) inline, from the corpus's introduction to notebooks
    introduction = share(people, teacher, corpus / INTRODUCTION, "Introduction aux notebooks")
    student = people.login("ada.eleve", "student", introduction)
    open_notebook(student, introduction)
    student.wait_for_selector(".lm-MenuBar-itemLabel >> text=Fichier", timeout=SLOW)  # in French
    for source in ("import numpy as np", "case_max = 12", "def histogramme", "n = 10\n"):
        run_cell(student, cell_index(corpus / INTRODUCTION, source))
    plotted = cell(student, cell_index(corpus / INTRODUCTION, "n = 10\n"))
    plotted.locator(".jp-OutputArea-output img").wait_for(timeout=SLOW)
    plotted.scroll_into_view_if_needed()
    people.screenshot(student, "graphique-matplotlib", full_page=False)

    # an ipywidgets slider, in a notebook the teacher wrote: moving it runs the function again
    slider = tmp_path / "curseur.ipynb"
    slider.write_text(nbformat.writes(nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("## Les carrés\nDéplace le curseur pour choisir combien de carrés afficher."),
        nbformat.v4.new_code_cell("from ipywidgets import interact\n\n"
                                  "@interact(n=(1, 12))\ndef carres(n=4):\n    print([k * k for k in range(1, n + 1)])"),
    ])))
    widgets = share(people, teacher, slider, "Curseur")
    student.goto(widgets)
    open_notebook(student, widgets)
    run_cell(student, 1)
    handle = cell(student, 1).locator(".widget-slider .noUi-handle, .widget-slider [role=slider]").first
    handle.wait_for(timeout=SLOW)
    output = cell(student, 1).locator(".jp-OutputArea-output").last
    student.wait_for_function("() => document.body.innerText.includes('[1, 4, 9, 16]')")
    close_jupyter_dialogs(student)
    box = handle.bounding_box()
    student.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    student.mouse.down()
    student.mouse.move(box["x"] + 120, box["y"] + box["height"] / 2, steps=8)  # to the right: more squares
    student.mouse.up()
    student.wait_for_function("() => document.body.innerText.includes('[1, 4, 9, 16, 25')", timeout=SLOW)
    assert "25" in output.inner_text()
    people.screenshot(student, "curseur-ipywidgets", full_page=False)

    # `from turtle import *`, as the corpus's recursion exercises have it: the drawing is in the page
    recursion = share(people, teacher, corpus / RECURSION, "Récursivité")
    student.goto(recursion)
    open_notebook(student, recursion)
    drawing = cell_index(corpus / RECURSION, "def carre(c)")
    run_cell(student, drawing)
    picture = cell(student, drawing).locator(".jp-RenderedSVG img")  # JupyterLab draws an SVG as an image
    picture.wait_for(timeout=SLOW)
    assert "polyline" in urllib.parse.unquote(picture.get_attribute("src"))  # the turtle's path
    cell(student, drawing).locator(".jp-OutputArea-output").scroll_into_view_if_needed()
    people.screenshot(student, "dessin-turtle", full_page=False)


def test_the_ocaml_notebook_and_a_slide_show(people, platform, corpus):
    teacher = people.login("prof.hopper", "teacher", "/activities/")
    teacher.wait_for_selector("h1")

    ocaml = share(people, teacher, corpus / OCAML, "OCaml")
    student = people.login("grace.eleve", "student", ocaml)
    open_notebook(student, ocaml)
    for source in ("let entier", "let rec fact", 'Printf.printf "fact'):
        run_cell(student, cell_index(corpus / OCAML, source))
    assert "val entier : int = 0" in cell(student, cell_index(corpus / OCAML, "let entier")).inner_text()
    printed = cell(student, cell_index(corpus / OCAML, 'Printf.printf "fact'))
    assert "fact(10) = 3628800" in printed.locator(".jp-OutputArea").inner_text()
    cell(student, cell_index(corpus / OCAML, "let rec fact")).scroll_into_view_if_needed()
    people.screenshot(student, "ocaml", full_page=False)

    # RISE: the toolbar's button opens the notebook's slides beside it (Notebook 7: in a new tab)
    introduction = share(people, teacher, corpus / INTRODUCTION, "Diaporama")
    student.goto(introduction)
    open_notebook(student, introduction)
    with student.context.expect_page() as opened:
        jupyter_click(student, student.locator("[data-command='RISE:preview']").first)
    slides = opened.value
    frame = slides.frame_locator("iframe[src*='/rise/']")
    frame.locator(".reveal .slides section.present").first.wait_for(timeout=SLOW)
    # the first cell is skipped (its slide type says so): the first slide is the title's
    frame.locator(".reveal .slides section.present h1").filter(has_text="Introduction aux notebooks Jupyter").wait_for(
        timeout=SLOW)
    slides.wait_for_timeout(1000)  # reveal.js's transition to the first slide
    people.screenshot(slides, "diaporama-rise", full_page=False)


def test_a_student_writes_in_text_cells_and_in_the_answer_cells_of_a_protected_notebook(people, platform, corpus):
    teacher = people.login("prof.noether", "teacher", "/activities/")
    teacher.wait_for_selector("h1")
    graded = share(people, teacher, corpus / GRADED, "Problème 1", protect=True)
    student = people.login("emmy.eleve", "student", graded)
    open_notebook(student, graded)

    # the teacher's text is protected: what is typed in it changes nothing. The cell stays in command mode,
    # where letters are shortcuts: these are none (z undoes cell actions; once, in a full suite run, the
    # cells were gone from the page for 30 s after "zzz")
    statement = cell(student, cell_index(corpus / GRADED, "Part A"))
    statement.scroll_into_view_if_needed()
    jupyter_click(student, statement, double=True)
    student.keyboard.type("qqq")
    assert "qqq" not in statement.inner_text()
    student.keyboard.press("Shift+Enter")

    # the LaTeX answer cell nbgrader leaves is a text cell the student writes in
    answer = cell(student, cell_index(corpus / GRADED, "sum_{i=1}^n i^2"))
    answer.scroll_into_view_if_needed()
    jupyter_click(student, answer, double=True)
    editor = answer.locator(".cm-content")
    editor.wait_for()
    jupyter_click(student, editor)
    student.keyboard.press("Control+End")
    student.keyboard.type(" = \\frac{n(n+1)(2n+1)}{6} (ma réponse)")
    student.keyboard.press("Shift+Enter")  # rendered again, as the student sees it
    student.keyboard.press("Control+s")

    # what was saved: the student's answer, and the teacher's statement as it was
    activity_url = teacher.url.split("?")[0]
    teacher.goto(activity_url)
    teacher.get_by_role("link", name="Voir la copie").click()
    wait_for_saved_text(teacher, "(ma réponse)")
    assert "qqq" not in teacher.inner_text("main") and "Part A (2 points)" in teacher.inner_text("main")


def test_rise_slides_in_the_teachers_jupyterlab(people, platform, corpus):
    teacher = people.login("prof.lamarr", "teacher", "/activities/")
    lab = open_teacher_space(teacher)
    prefix = re.search(r"^https?://[^/]+/n/\d+/u/[a-z0-9]+/", lab.url).group(0)  # on the server's own origin

    # the teacher puts the corpus's slides in their space (as a drop on the file browser would)
    body = {"type": "notebook", "format": "json", "content": json.loads((corpus / INTRODUCTION).read_text())}
    saved = lab.evaluate("""async ([url, body]) => {
        const xsrf = document.cookie.match(/_xsrf=([^;]+)/)[1];
        const answer = await fetch(url, {method: "PUT", body, headers: {"X-XSRFToken": xsrf, "Content-Type": "application/json"}});
        return [answer.status, await answer.text()];
    }""", [f"{prefix}api/contents/diaporama.ipynb", json.dumps(body)])  # from the page: its own origin
    assert saved[0] in (200, 201), saved

    lab.goto(f"{prefix}lab/tree/diaporama.ipynb")
    lab.wait_for_selector(".jp-NotebookPanel .jp-Cell", timeout=SLOW)
    jupyter_click(lab, lab.locator(".jp-NotebookPanel-toolbar [data-command='RISE:preview']").first)
    frame = lab.frame_locator("iframe[src*='/rise/']")  # JupyterLab shows the slides beside the notebook
    frame.locator(".reveal .slides section.present h1").filter(has_text="Introduction aux notebooks Jupyter").wait_for(
        timeout=SLOW)

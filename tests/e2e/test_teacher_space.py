"""The teacher's own Jupyter space, through the whole platform: JupyterLab in French, on the teacher's
own server, with the students' kernels and environment; a notebook written there becomes an activity
without a download; protected cells reach the students' copies as Jupyter's read-only metadata."""
from __future__ import annotations

import json
import urllib.parse

import nbformat
import pytest

pytestmark = pytest.mark.e2e

SPACE = "/s/_espace"


def put(person, link, path: str, body: dict):
    return person.http.put(person.url(f"{link.prefix}api/contents/{urllib.parse.quote(path)}"), json=body,
                           headers=person._xsrf(link), timeout=30)


def test_mon_espace_is_jupyterlab_in_french_and_a_notebook_there_becomes_an_activity(teacher, student):
    space = teacher.open_share(SPACE)
    assert space.location.startswith(space.prefix + "lab?grant=")
    lab = teacher.enter(space)
    assert lab.status_code == 200 and "JupyterLab" in lab.text
    assert "fr_FR" in teacher.http.get(teacher.url(f"{space.prefix}lab/api/translations/")).json()["data"]
    # the students' kernels, the same environment as the students' (numpy imports in the teacher's kernel)
    kernels = teacher.http.get(teacher.url(f"{space.prefix}api/kernelspecs"), timeout=30).json()
    assert sorted(kernels["kernelspecs"]) == ["ocaml", "python3", "sql"] and kernels["default"] == "python3"
    assert teacher.run_code(space, "import numpy, sympy; print(sympy.factorial(5))").strip() == "120"

    # the teacher writes a notebook and a data file in a folder of the space
    assert put(teacher, space, "cours", {"type": "directory"}).status_code in (200, 201)
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("open('mesures.csv').read()")])
    assert put(teacher, space, "cours/tp mesures.ipynb",
               {"type": "notebook", "format": "json", "content": json.loads(nbformat.writes(notebook))}
               ).status_code in (200, 201)
    assert put(teacher, space, "cours/mesures.csv", {"type": "file", "format": "text", "content": "t;x\n0;1\n"}
               ).status_code in (200, 201)

    # the new-activity page offers it; taking it with its folder makes the activity
    page = teacher.http.get(teacher.url("/activities/new"), timeout=10).text
    assert 'value="cours/tp mesures.ipynb"' in page
    made = teacher.http.post(teacher.url("/activities/new"), data={
        "source": "space", "space_notebook": "cours/tp mesures.ipynb", "with_folder": "on", "title": "TP mesures"},
        allow_redirects=False, timeout=30)
    assert made.status_code == 303, made.text[:500]
    [activity] = [a for a in teacher.http.get(teacher.url("/activities/api/activities")).json()
                  if a["title"] == "TP mesures"]

    # a student gets it, data file included, and runs it
    pupil = student("eleve")
    link = pupil.open_share(urllib.parse.urlsplit(activity["share_url"]).path)
    assert link.path.endswith("/tp mesures.ipynb")
    assert pupil.enter(link).status_code == 200
    folder = link.path.rsplit("/", 1)[0]
    assert pupil.run_code(link, f"import os; os.chdir({folder!r}); print(open('mesures.csv').read())") == "t;x\n0;1\n\n"


def test_a_student_has_no_teacher_space(student):
    pupil = student("eleve")
    answer = pupil.http.get(pupil.url(SPACE), allow_redirects=False, timeout=10)
    assert answer.status_code == 403
    assert "enseignant" in answer.text


def test_protected_cells_reach_the_copy_as_jupyter_metadata(teacher, student, corpus):
    source = corpus / "Calcul d'une paire de dés un peu particuliers.ipynb"
    created = teacher.http.post(teacher.url("/activities/api/activities"), data={
        "title": "Dés protégés", "protect_cells": "on"},
        files=[("notebook", (source.name, source.read_bytes(), "application/x-ipynb+json"))], timeout=30)
    assert created.status_code == 201 and created.json()["protect_cells"] is True
    pupil = student("eleve")
    link = pupil.open_share(urllib.parse.urlsplit(created.json()["share_url"]).path)
    assert pupil.enter(link).status_code == 200
    copy = pupil.contents(link).json()["content"]
    assert copy["cells"] and all(c["metadata"].get("editable") is False and c["metadata"].get("deletable") is False
                                 for c in copy["cells"])
    # the student still adds a cell of their own and saves
    copy["cells"].append({"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": None,
                          "source": "print('à moi')"})
    assert pupil.save(link, copy).status_code == 200

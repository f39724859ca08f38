"""Autograding through the whole platform: what the student's own server serves of a notebook with checks.

The teacher shares the corpus's nbgrader notebook (``problem1.ipynb``, read where it is, a hidden test
added in memory); the student's Jupyter server, reached through HAProxy as Notebook 7 reaches it, serves
a copy without the hidden test or the solutions: through its contents API and on disk.
"""
from __future__ import annotations

import json
import urllib.parse

import nbformat
import pytest

from tests.activities.grading_notebooks import PROBLEM1, problem1_teacher
from tests.activities.test_autograding import leaks

pytestmark = pytest.mark.e2e


def share(teacher, notebook: nbformat.NotebookNode, title: str) -> dict:
    files = [("notebook", (PROBLEM1.name, nbformat.writes(notebook).encode(), "application/x-ipynb+json"))]
    answer = teacher.http.post(teacher.url("/activities/api/activities"), data={"title": title}, files=files,
                               timeout=30)
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_the_students_server_serves_no_hidden_test_and_no_solution(platform, teacher, student):
    activity = share(teacher, problem1_teacher(), "Carrés")
    léa = student("lea")
    link = léa.open_share(urllib.parse.urlsplit(activity["share_url"]).path)
    assert léa.enter(link).status_code == 200

    model = léa.contents(link)
    assert model.status_code == 200, model.text[:300]
    assert leaks(json.dumps(model.json(), ensure_ascii=False)) == []
    raw = léa.contents(link, raw=True)
    assert raw.status_code == 200 and leaks(raw.json()["content"]) == []
    on_disk = platform.var_dir / "data" / "users" / link.key / link.path
    assert leaks(on_disk.read_text()) == []
    assert "squares(11)" in raw.json()["content"]  # the visible tests are there

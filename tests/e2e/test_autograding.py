"""Autograding through the whole platform: what the student's own server serves of a notebook with checks,
their seed in their kernel, "Vérifier" and the re-run at hand-in.

The teacher shares the corpus's nbgrader notebook (``problem1.ipynb``, read where it is, a hidden test
added in memory); the student's Jupyter server, reached through HAProxy as Notebook 7 reaches it, serves
a copy without the hidden test or the solutions (its contents API and the file on disk); its kernel's
``capytale_alea`` gives the seed the teacher sees; the student saves answers through their server, runs
"Vérifier", hands in, and the teacher's list gets the score of the re-run.
"""
from __future__ import annotations

import json
import time
import urllib.parse

import nbformat
import pytest

from tests.activities.grading_notebooks import (HIDDEN_MARK, PROBLEM1, SQUARES_RIGHT, SUM_RIGHT, cell_with,
                                                problem1_teacher)
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

    # the seed the teacher sees is what capytale_alea gives in the student's kernel (the notebook's folder)
    copies = teacher.http.get(teacher.url(f"/activities/api/activities/{activity['id']}/copies"), timeout=30)
    seed = copies.json()[0]["seed"]
    with léa.kernel(link, notebook_path=link.path) as kernel:
        assert kernel.execute("from capytale_alea import graine\nprint(graine())").printed.strip() == str(seed)

    # "Vérifier" on the copy as saved: nothing answered yet
    code = activity["code"]
    checked = léa.http.post(léa.url(f"/activities/api/share/{code}/check"), timeout=120)
    assert checked.status_code == 200, checked.text[:300]
    assert {item["error"] for item in checked.json()["checks"]} == {"NotImplementedError"}

    # the student answers through their server, checks again, hands in; the re-run scores it
    notebook = nbformat.from_dict(model.json()["content"])
    cell_with(notebook, grade_id="squares").source = SQUARES_RIGHT
    cell_with(notebook, grade_id="sum_of_squares").source = SUM_RIGHT
    assert léa.save(link, notebook).status_code == 200
    checked = léa.http.post(léa.url(f"/activities/api/share/{code}/check"), timeout=120)
    assert [item["passed"] for item in checked.json()["checks"]] == [True] * 4
    assert léa.http.post(léa.url(f"/activities/api/share/{code}/hand-in"), timeout=30).status_code == 200
    deadline = time.monotonic() + 120
    while True:
        line = teacher.http.get(teacher.url(f"/activities/api/activities/{activity['id']}/copies"), timeout=30).json()[0]
        if line["autograding"] in ("done", "failed"):
            break
        assert time.monotonic() < deadline, line
        time.sleep(0.5)
    assert (line["autograding"], line["score"], line["max_score"]) == ("done", 3.0, 3.0)
    teachers = teacher.http.get(teacher.url(f"/activities/api/activities/{activity['id']}/copies/"
                                            f"{line['student']['uid']}/report"), timeout=30).json()
    assert teachers["checks"][0]["hidden_tests"] is True and HIDDEN_MARK not in json.dumps(teachers)  # passed

    # nothing of the student's side holds the teacher's secrets
    for text in (léa.http.get(léa.url("/activities/api/me/copies"), timeout=30).text,
                 léa.http.get(léa.url(f"/activities/me/{code}"), timeout=30).text,
                 json.dumps(léa.contents(link).json(), ensure_ascii=False), checked.text, on_disk.read_text()):
        assert leaks(text) == []

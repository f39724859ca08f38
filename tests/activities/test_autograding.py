"""Autograding through the activities service: what a student's copy holds of the teacher's checks, their
seed, the re-run at hand-in and "Vérifier".

The teachers' notebooks are the corpus's, read where they are and changed in memory
(:mod:`tests.activities.grading_notebooks`); the kernels are real ones of the students' environment.
"""
from __future__ import annotations

import json
import subprocess

import nbformat
import pytest

from tests.activities.grading_notebooks import HIDDEN_MARK, PROBLEM1, problem1_teacher
from tests.activities.support import ensure_copy, upload

# what the teacher's problem1 holds and a student must never get: the hidden test, the solutions
SOLUTIONS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "n must be greater than or equal to 1",
             "i ** 2 for i in range", "return sum(squares(n))", "pyramidal_number", r"\sum_{i=1}^n i^2")
SECRETS = (HIDDEN_MARK, *SOLUTIONS)


def leaks(text: str) -> list[str]:
    """What of the teacher's secrets ``text`` holds."""
    return [secret for secret in SECRETS if secret in text]


def folder_of(data_root, who, answer) -> object:
    copy = answer.json["copy"]
    return data_root / "users" / who.identity.key / copy["folder"]


@pytest.fixture
def problem1(app, teacher) -> dict:
    """problem1 shared by ``teacher``, with a hidden test in its first check."""
    content = nbformat.writes(problem1_teacher()).encode()
    answer = upload(teacher, PROBLEM1.name, content, title="Carrés")
    assert answer.status_code == 201, answer.json
    return answer.json


# --- the student's copy ----------------------------------------------------------------------


def test_a_students_copy_has_no_hidden_test_and_no_solution(app, student, problem1, data_root):
    answer = ensure_copy(app, student, problem1["code"])
    assert answer.status_code == 200, answer.json
    path = folder_of(data_root, student, answer) / answer.json["copy"]["notebook"]
    text = path.read_text()
    assert leaks(text) == []
    notebook = nbformat.reads(text, as_version=4)
    checks = [cell for cell in notebook.cells if cell.metadata.get("capytale", {}).get("check")]
    assert [cell.metadata.capytale.check.id for cell in checks] == [
        "correct_squares", "squares_invalid_input", "correct_sum_of_squares", "sum_of_squares_uses_squares"]
    assert all(cell.metadata.editable is False and cell.metadata.deletable is False for cell in checks)
    assert "squares(11)" in checks[0].source  # the visible part stays
    master = data_root / "masters" / str(problem1["id"]) / "1" / PROBLEM1.name
    assert HIDDEN_MARK in master.read_text()  # the master keeps what the teacher sent


def test_a_notebook_without_checks_is_still_copied_byte_for_byte(app, student, activity, data_root, corpus):
    from tests.activities.support import DICE

    answer = ensure_copy(app, student, activity["code"])
    path = folder_of(data_root, student, answer) / DICE
    assert path.read_bytes() == (corpus / DICE).read_bytes()
    assert json.loads(path.read_text())  # still a notebook


# --- the student's seed ------------------------------------------------------------------------


def test_each_copy_gets_its_students_seed_which_capytale_alea_reads(app, person, teacher, problem1, data_root,
                                                                     students_env):
    from services.activities.grading import SEED_FILE, generator, seed_for

    léa, noé = person("léa.moreau", "student"), person("noé.bernard", "student")
    folders = {who.identity.uid: folder_of(data_root, who, ensure_copy(app, who, problem1["code"]))
               for who in (léa, noé)}
    with app.app_context():
        seeds = {who.identity.uid: seed_for(who.identity.key, problem1["id"]) for who in (léa, noé)}
    assert seeds["léa.moreau"] != seeds["noé.bernard"]
    listed = teacher.client.get(f"/activities/api/activities/{problem1['id']}/copies").json
    assert {copy["student"]["uid"]: copy["seed"] for copy in listed} == seeds

    for uid, folder in folders.items():
        assert (folder / SEED_FILE).read_text() == f"{seeds[uid]}\n"
        # the student's kernel runs in the activity's folder, on the students' environment
        printed = subprocess.run(
            [str(students_env / "bin" / "python"), "-c",
             "from capytale_alea import aleatoire, graine; print(graine(), aleatoire('exercice 1').randint(1, 10**6))"],
            cwd=folder, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True, check=True).stdout.split()
        assert printed == [str(seeds[uid]), str(generator(seeds[uid], "exercice 1").randint(1, 10**6))]

    page = teacher.client.get(f"/activities/{problem1['id']}/copies/léa.moreau")
    assert page.status_code == 200 and f"de cet élève : {seeds['léa.moreau']}" in page.text

    (folders["léa.moreau"] / SEED_FILE).unlink()  # deleted by mistake: the next visit puts it back
    assert ensure_copy(app, léa, problem1["code"]).json["copy"]["created"] is False
    assert (folders["léa.moreau"] / SEED_FILE).read_text() == f"{seeds['léa.moreau']}\n"

"""Autograding through the activities service: what a student's copy holds of the teacher's checks, their
seed, the re-run at hand-in and "Vérifier".

The teachers' notebooks are the corpus's, read where they are and changed in memory
(:mod:`tests.activities.grading_notebooks`); the kernels are real ones of the students' environment.
"""
from __future__ import annotations

import json
import subprocess
import time
from datetime import datetime, timedelta, timezone

import nbformat
import pytest

from services.activities.autograding import RUNNER
from services.activities.grading import Runner, RunnerError, RunResult
from services.activities.grading.runner import OK, CellRun
from tests.activities.grading_notebooks import (CURVE_EXERCISE, CURVE_RIGHT, CURVE_WRONG, DEMO02, HIDDEN_MARK, PROBLEM1,
                                                SQUARES_FOR_THE_VISIBLE_TESTS, SQUARES_RIGHT, SQUARES_WRONG,
                                                SUM_REIMPLEMENTED, SUM_RIGHT, cell_with, problem1_teacher, remove_cell)
from tests.activities.support import ensure_copy, upload

# the tests that run kernels run on SQLite only (the database's part is the same on both, and tested on both
# with a runner that answers at once)
SQLITE_ONLY = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
ENDED = ("done", "failed", "no_checks")

# what the teacher's problem1 holds and a student must never get: the hidden test, the solutions
SOLUTIONS = ("BEGIN SOLUTION", "BEGIN HIDDEN TESTS", "n must be greater than or equal to 1",
             "i ** 2 for i in range", "pyramidal_number", r"\sum_{i=1}^n i^2")
SECRETS = (HIDDEN_MARK, *SOLUTIONS)


def leaks(text: str) -> list[str]:
    """What of the teacher's secrets ``text`` holds."""
    return [secret for secret in SECRETS if secret in text]


def folder_of(data_root, who, answer) -> object:
    copy = answer.json["copy"]
    return data_root / "users" / who.identity.key / copy["folder"]


@pytest.fixture
def app_config(students_env) -> dict:
    """The students' environment's kernels for the re-runs (LocalRunner, as the settings make it)."""
    return {"STUDENTS_ENV": str(students_env), "GRADING_CELL_TIMEOUT": 10, "GRADING_TIMEOUT": 120,
            "GRADING_RETRY_DELAY": 0.2}


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


# --- the re-run at hand-in ---------------------------------------------------------------------------


def notebook_path(data_root, who, activity) -> object:
    answer = ensure_copy(app_of(who), who, activity["code"])
    assert answer.status_code == 200, answer.json
    return folder_of(data_root, who, answer) / answer.json["copy"]["notebook"]


def app_of(who):
    return who.client.application


def answer_problem1(data_root, who, activity, squares: str, sum_of_squares: str) -> nbformat.NotebookNode:
    """``who`` opens the link and writes their answers in their copy (as their server saves it); the notebook."""
    path = notebook_path(data_root, who, activity)
    notebook = nbformat.read(path, as_version=4)
    cell_with(notebook, grade_id="squares").source = squares
    cell_with(notebook, grade_id="sum_of_squares").source = sum_of_squares
    nbformat.write(notebook, path)
    return notebook


def save(data_root, who, activity, notebook) -> None:
    nbformat.write(notebook, notebook_path(data_root, who, activity))


def hand_in(who, activity):
    answer = who.client.post(f"/activities/api/share/{activity['code']}/hand-in")
    assert answer.status_code == 200, answer.json
    return answer


def listed(teacher, activity) -> dict:
    answer = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies")
    assert answer.status_code == 200, answer.json
    return {copy["student"]["uid"]: copy for copy in answer.json}


def graded(teacher, activity, who, timeout: float = 90) -> dict:
    """The copies list's line of ``who`` once the re-run of their hand-in has ended."""
    deadline = time.monotonic() + timeout
    while True:
        line = listed(teacher, activity)[who.identity.uid]
        if line["autograding"] in ENDED:
            return line
        assert time.monotonic() < deadline, f"not graded after {timeout} s: {line}"
        time.sleep(0.2)


def report(teacher, activity, who) -> dict:
    answer = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies/{who.identity.uid}/report")
    assert answer.status_code == 200, answer.json
    return answer.json


def passed(report_json) -> dict:
    return {check["id"]: check["passed"] for check in report_json["checks"]}


@SQLITE_ONLY
def test_a_right_and_a_wrong_nbgrader_solution_get_their_scores_at_hand_in(app, person, teacher, problem1, data_root):
    léa, noé = person("léa.moreau", "student"), person("noé.bernard", "student")
    answer_problem1(data_root, léa, problem1, SQUARES_RIGHT, SUM_RIGHT)
    answer_problem1(data_root, noé, problem1, SQUARES_WRONG, SUM_REIMPLEMENTED)
    handed = hand_in(léa, problem1)
    assert handed.json["state"] == "rendue"  # the answer does not wait for the re-run
    hand_in(noé, problem1)

    right, wrong = graded(teacher, problem1, léa), graded(teacher, problem1, noé)
    assert (right["autograding"], right["score"], right["max_score"]) == ("done", 3.0, 3.0)
    assert (wrong["score"], wrong["max_score"], wrong["grade"]) == (0.5, 3.0, None)  # the grade is the teacher's
    assert passed(report(teacher, problem1, noé)) == {"correct_squares": False, "squares_invalid_input": False,
                                                      "correct_sum_of_squares": True,
                                                      "sum_of_squares_uses_squares": False}
    errors = {check["id"]: check["error"] for check in report(teacher, problem1, noé)["checks"]}
    assert errors["sum_of_squares_uses_squares"] == "AssertionError: sum_of_squares does not use squares"
    assert report(teacher, problem1, noé)["manual_points"] == 7.0

    page = teacher.client.get(f"/activities/{problem1['id']}/copies/noé.bernard").text
    assert "Score proposé : 0,5 / 3 points" in page and "AssertionError: did not raise" in page
    assert 'data-check="correct_sum_of_squares" data-passed="true"' in page

    # the teacher still gives the grade they like; the proposal stays
    put = teacher.client.put(f"/activities/api/activities/{problem1['id']}/copies/noé.bernard/feedback",
                             json={"grade": 9})
    assert put.status_code == 200 and (put.json["grade"], put.json["score"]) == (9, 0.5)


@SQLITE_ONLY
def test_outputs_edited_to_fake_a_pass_earn_nothing(app, student, teacher, problem1, data_root):
    path = notebook_path(data_root, student, problem1)
    notebook = nbformat.read(path, as_version=4)  # nothing answered: every answer raises NotImplementedError
    for cell in notebook.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "True"}, execution_count=1)]
            cell.metadata.setdefault("nbgrader", {}).update(points=100, grade=True)
    nbformat.write(notebook, path)
    hand_in(student, problem1)
    line = graded(teacher, problem1, student)
    assert (line["score"], line["max_score"]) == (0.0, 3.0)
    assert {check["error"] for check in report(teacher, problem1, student)["checks"]} == {"NotImplementedError"}


@SQLITE_ONLY
def test_a_deleted_check_cell_is_shown_to_the_teacher(app, student, teacher, problem1, data_root):
    notebook = answer_problem1(data_root, student, problem1, SQUARES_WRONG, SUM_RIGHT)
    remove_cell(notebook, cell_with(notebook, grade_id="squares_invalid_input"))  # it would fail: deleted
    cell_with(notebook, grade_id="correct_squares").source = "assert True  # toujours juste"
    save(data_root, student, problem1, notebook)
    hand_in(student, problem1)
    line = graded(teacher, problem1, student)
    found = report(teacher, problem1, student)
    assert found["tampering"] == [{"check": "correct_squares", "change": "changed"},
                                  {"check": "squares_invalid_input", "change": "deleted"}]
    assert passed(found)["squares_invalid_input"] is False and passed(found)["correct_squares"] is False
    assert line["score"] == 0.5  # the teacher's checks ran in their place: only "uses squares" passes
    page = teacher.client.get(f"/activities/{problem1['id']}/copies/{student.identity.uid}").text
    assert "« squares_invalid_input » supprimée" in page and "« correct_squares » modifiée" in page


@SQLITE_ONLY
def test_hidden_tests_appear_nowhere_on_the_students_side(app, student, teacher, problem1, data_root):
    path = notebook_path(data_root, student, problem1)
    answer_problem1(data_root, student, problem1, SQUARES_FOR_THE_VISIBLE_TESTS, SUM_RIGHT)
    hand_in(student, problem1)
    assert graded(teacher, problem1, student)["score"] == 2.0  # the hidden test caught it
    errors = {check["id"]: check["error"] for check in report(teacher, problem1, student)["checks"]}
    assert errors["correct_squares"] == f"AssertionError: {HIDDEN_MARK}"  # the teacher sees why
    put = teacher.client.put(f"/activities/api/activities/{problem1['id']}/copies/{student.identity.uid}/feedback",
                             json={"grade": 12, "comment": "Relis la consigne.", "state": "corrigee"})
    assert put.status_code == 200, put.json

    mine = student.client.get("/activities/api/me/copies")
    assert mine.json[0]["autograding"] == {"score": 2.0, "max_score": 3.0, "checks": [
        {"id": "correct_squares", "points": 1.0, "earned": 0.0, "passed": False},
        {"id": "squares_invalid_input", "points": 1.0, "earned": 1.0, "passed": True},
        {"id": "correct_sum_of_squares", "points": 0.5, "earned": 0.5, "passed": True},
        {"id": "sum_of_squares_uses_squares", "points": 0.5, "earned": 0.5, "passed": True}]}
    page = student.client.get(f"/activities/me/{problem1['code']}")
    assert page.status_code == 200 and "2 / 3 points" in page.text
    for text in (mine.text, page.text, student.client.get("/activities/me/").text, path.read_text()):
        assert leaks(text) == []
    assert student.client.get(f"/activities/api/activities/{problem1['id']}/copies/{student.identity.uid}/report"
                              ).status_code == 403


@SQLITE_ONLY
def test_an_nbautoeval_solution_right_and_wrong(app, person, teacher, data_root):
    files = [("annex", "exercises/curve.py", CURVE_EXERCISE.encode())]
    from tests.activities.support import multipart

    created = teacher.client.post("/activities/api/activities", **multipart(
        {"title": "Courbe"}, [("notebook", DEMO02.name, DEMO02.read_bytes()), *files]))
    assert created.status_code == 201, created.json
    demo = created.json
    for name, curve, score in (("léa.moreau", CURVE_RIGHT, 1.0), ("noé.bernard", CURVE_WRONG, 0.0)):
        who = person(name, "student")
        path = notebook_path(data_root, who, demo)
        notebook = nbformat.read(path, as_version=4)
        cell_with(notebook, starts="# write your solution here").source = curve
        cell_with(notebook, starts="# the student's - broken - proposal").source = curve
        nbformat.write(notebook, path)
        hand_in(who, demo)
        line = graded(teacher, demo, who)
        assert (line["score"], line["max_score"]) == (score, 1.0), report(teacher, demo, who)
    assert report(teacher, demo, who)["checks"][0]["error"] == \
        "AssertionError: la correction nbautoeval a trouvé des résultats faux"


@SQLITE_ONLY
def test_the_closing_hands_in_and_the_copies_are_graded(app, student, teacher, problem1, data_root):
    answer_problem1(data_root, student, problem1, SQUARES_RIGHT, SUM_RIGHT)
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    closing = teacher.client.patch(f"/activities/api/activities/{problem1['id']}", json={"closes_at": past})
    assert closing.status_code == 200, closing.json
    line = graded(teacher, problem1, student)
    assert (line["state"], line["handed_in_by"], line["score"]) == ("rendue", "closing", 3.0)


# --- when no kernel can run ----------------------------------------------------------------------------


class FlakyRunner(Runner):
    """Finds no kernel ``failures`` times, then says every cell passed."""

    def __init__(self, failures: int):
        self.failures, self.runs = failures, 0

    def run(self, notebook, files=None, env=None) -> RunResult:
        self.runs += 1
        if self.runs <= self.failures:
            raise RunnerError("no kernel today")
        return RunResult(cells=tuple(CellRun(OK) for _ in notebook.cells))


@pytest.mark.parametrize("failures, status, score", [(1, "done", 3.0), (2, "failed", None), (5, "failed", None)])
def test_a_run_without_a_kernel_is_retried_once_then_left_to_the_teacher(app, student, teacher, problem1,
                                                                          data_root, failures, status, score):
    runner = app.extensions[RUNNER] = FlakyRunner(failures)
    answer_problem1(data_root, student, problem1, SQUARES_RIGHT, SUM_RIGHT)
    hand_in(student, problem1)
    line = graded(teacher, problem1, student)
    assert (line["autograding"], line["score"], runner.runs) == (status, score, 2)
    found = report(teacher, problem1, student)
    if status == "failed":
        assert found["note"].startswith("La correction automatique n'a pas pu se lancer (deux essais)")
        page = teacher.client.get(f"/activities/{problem1['id']}/copies/{student.identity.uid}").text
        assert "n&#39;a pas pu se lancer" in page and "Relancer la correction automatique" in page
        # the teacher runs it again, once a kernel is there
        app.extensions[RUNNER] = FlakyRunner(0)
        again = teacher.client.post(f"/activities/api/activities/{problem1['id']}/copies/"
                                    f"{student.identity.uid}/regrade")
        assert again.status_code == 202, again.json
        assert graded(teacher, problem1, student)["score"] == 3.0
    assert "note" not in json.dumps(student.client.get("/activities/api/me/copies").json)


# --- "Vérifier" ---------------------------------------------------------------------------------------


def verify(who, activity, **body):
    return who.client.post(f"/activities/api/share/{activity['code']}/check", json=body or None)


@pytest.fixture
def limited(app, teacher) -> dict:
    """problem1 shared with two "Vérifier" allowed per check (and its hidden test)."""
    notebook = problem1_teacher()
    for cell in notebook.cells:
        if cell.metadata.get("nbgrader", {}).get("grade") and not cell.metadata["nbgrader"].get("solution"):
            cell.metadata["capytale"] = {"check": {"attempts": 2}}
    answer = upload(teacher, PROBLEM1.name, nbformat.writes(notebook).encode(), title="Carrés")
    assert answer.status_code == 201, answer.json
    return answer.json


@SQLITE_ONLY
def test_verifier_runs_the_visible_checks_and_counts_the_attempts(app, student, limited, data_root):
    answer_problem1(data_root, student, limited, SQUARES_FOR_THE_VISIBLE_TESTS, SUM_REIMPLEMENTED)
    assert 'id="check"' in student.client.get(f"/activities/me/{limited['code']}").text  # the button
    first = verify(student, limited)
    assert first.status_code == 200, first.json
    assert {item["id"]: (item["passed"], item["attempts_left"]) for item in first.json["checks"]} == {
        "correct_squares": (True, 1), "squares_invalid_input": (True, 1), "correct_sum_of_squares": (True, 1),
        "sum_of_squares_uses_squares": (False, 1)}  # the hidden test is not run: it would fail
    assert (first.json["passed"], first.json["total"]) == (3, 4)
    failed = next(item for item in first.json["checks"] if not item["passed"])
    assert failed["error"] == "AssertionError: sum_of_squares does not use squares"  # a visible test's line
    assert leaks(first.text) == []

    page = student.client.post(f"/activities/me/{limited['code']}/check")  # the page's button: the 2nd attempt
    assert page.status_code == 200
    assert "Vérifications réussies : 3 sur 4" in page.text and "Essais restants : 0." in page.text
    assert "« sum_of_squares_uses_squares » : pas encore réussie." in page.text and leaks(page.text) == []

    spent = verify(student, limited)
    assert spent.status_code == 429 and spent.json["reason"] == "no_attempts_left"
    assert spent.json["error"] == "Tu as utilisé tous tes essais de « Vérifier » pour cette activité."
    page = student.client.post(f"/activities/me/{limited['code']}/check")
    assert page.status_code == 429 and "tous tes essais" in page.text


@SQLITE_ONLY
def test_verifier_on_the_nbautoeval_notebook(app, student, teacher, data_root):
    from tests.activities.support import multipart

    created = teacher.client.post("/activities/api/activities", **multipart(
        {"title": "Courbe"}, [("notebook", DEMO02.name, DEMO02.read_bytes()),
                              ("annex", "exercises/curve.py", CURVE_EXERCISE.encode())]))
    demo = created.json
    path = notebook_path(data_root, student, demo)
    notebook = nbformat.read(path, as_version=4)
    for start in ("# write your solution here", "# the student's - broken - proposal"):
        cell_with(notebook, starts=start).source = CURVE_WRONG
    nbformat.write(notebook, path)
    answer = verify(student, demo)
    assert answer.status_code == 200, answer.json
    assert [(item["id"], item["passed"], item["attempts_left"]) for item in answer.json["checks"]] == [
        ("exo_curve", False, None)]  # no limit set: as many as the student likes


def test_verifier_is_refused_after_hand_in_and_after_closing(app, student, person, teacher, limited, activity,
                                                            data_root):
    app.extensions[RUNNER] = FlakyRunner(0)
    answer_problem1(data_root, student, limited, SQUARES_RIGHT, SUM_RIGHT)
    assert verify(student, limited).status_code == 200
    hand_in(student, limited)
    after = verify(student, limited)
    assert (after.status_code, after.json["reason"]) == (409, "handed_in")
    assert after.json["error"].startswith("Ta copie est rendue : « Vérifier » n'est plus possible.")

    late = person("noé.bernard", "student")
    answer_problem1(data_root, late, limited, SQUARES_RIGHT, SUM_RIGHT)
    past = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
    assert teacher.client.patch(f"/activities/api/activities/{limited['id']}", json={"closes_at": past}).status_code == 200
    closed = verify(late, limited)
    assert (closed.status_code, closed.json["reason"]) == (403, "activity_ended")
    assert "« Vérifier » n'est plus possible" in closed.json["error"]

    ensure_copy(app, student, activity["code"])  # the dice notebook has no check
    none = verify(student, activity)
    assert (none.status_code, none.json["reason"]) == (409, "no_checks")
    assert verify(person("zoé.petit", "student"), limited).json["reason"] in ("no_copy", "activity_ended")
    assert app.test_client().post(f"/activities/api/share/{limited['code']}/check").status_code == 401
    with app.app_context():  # nothing refused was counted
        from services.activities.verifier import SqlAttemptStore
        from capytale import db

        assert SqlAttemptStore(db.session()).counts(late.identity.key, limited["id"]) == {}


def test_a_verifier_without_a_kernel_counts_nothing(app, student, limited, data_root):
    app.extensions[RUNNER] = FlakyRunner(1)
    answer_problem1(data_root, student, limited, SQUARES_RIGHT, SUM_RIGHT)
    refused = verify(student, limited)
    assert (refused.status_code, refused.json["reason"]) == (503, "grading_unavailable")
    assert [item["attempts_left"] for item in verify(student, limited).json["checks"]] == [1, 1, 1, 1]


def test_two_verifier_at_once_never_both_get_the_last_attempt(app, student):
    import threading

    from capytale import db
    from services.activities import models
    from services.activities.verifier import SqlAttemptStore

    with app.app_context():
        session = db.session()
        session.add(models.Activity(id=77, code="attempts", title="t", owner_uid="o", owner_name="o"))
        session.commit()
    granted, barrier = [], threading.Barrier(12)

    def click() -> None:
        with app.app_context():
            store = SqlAttemptStore(db.session())
            barrier.wait()
            granted.append(store.take("k1", 77, "ex1", 5))

    threads = [threading.Thread(target=click) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(n for n in granted if n is not None) == [1, 2, 3, 4, 5] and granted.count(None) == 7
    with app.app_context():
        store = SqlAttemptStore(db.session())
        store.give_back("k1", 77, "ex1")
        assert store.counts("k1", 77) == {"ex1": 4} and store.counts("k2", 77) == {}


class BrokenRunner(Runner):
    def run(self, notebook, files=None, env=None) -> RunResult:
        raise ValueError("a bug of ours")


def test_the_sweep_grades_what_no_worker_did(app, person, teacher, problem1, data_root):
    from capytale import db
    from services.activities import autograding, models

    app.extensions[RUNNER] = FlakyRunner(0)
    léa, noé = person("léa.moreau", "student"), person("noé.bernard", "student")
    for who in (léa, noé):
        answer_problem1(data_root, who, problem1, SQUARES_RIGHT, SUM_RIGHT)
        hand_in(who, problem1)
        assert graded(teacher, problem1, who)["score"] == 3.0
    with app.app_context():  # léa's copy handed in before gradings existed; noé's run left by a process that died
        session = db.session()
        copies = {copy.uid: copy for copy in session.query(models.Copy)}
        session.delete(session.get(models.Grading, copies["léa.moreau"].id))
        row = session.get(models.Grading, copies["noé.bernard"].id)
        row.status, row.started_at = "running", datetime.now(timezone.utc) - timedelta(hours=1)
        session.query(models.Copy).update({"score": None})
        session.commit()
        assert autograding.sweep(app) == 2
        assert autograding.sweep(app) in (0, 1, 2)  # what is still queued may be handed again: claimed once
    for who in (léa, noé):
        assert graded(teacher, problem1, who)["score"] == 3.0


def test_a_bug_in_a_run_ends_it_with_a_note(app, student, teacher, problem1, data_root):
    app.extensions[RUNNER] = BrokenRunner()
    answer_problem1(data_root, student, problem1, SQUARES_RIGHT, SUM_RIGHT)
    hand_in(student, problem1)
    assert graded(teacher, problem1, student)["autograding"] == "failed"
    assert report(teacher, problem1, student)["note"].startswith("La correction automatique s'est arrêtée sur une")

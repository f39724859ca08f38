"""The re-run at hand-in and "Vérifier", for real: the corpus's notebooks in a fresh kernel of the students' environment.

Each student's notebook is the student version of the teacher's, its answer cells filled with an
implementation written here (right or wrong); the kernel is the students' environment's, started
by :class:`LocalRunner` for each run.
"""
from __future__ import annotations

import json
import textwrap

import nbformat
import pytest

from services.activities.grading import (LocalRunner, MemoryAttemptStore, RunnerError, generator, regrade, seed_for,
                                         self_check, student_version)
from tests.activities.grading_notebooks import (CURVE_RIGHT, CURVE_WRONG, DEMO02, HIDDEN_MARK, SQUARES_FOR_THE_VISIBLE_TESTS,
                                                SQUARES_RIGHT, SQUARES_WRONG, SUM_REIMPLEMENTED, SUM_RIGHT, cell_with,
                                                demo02_files, demo02_student, problem1_student, problem1_teacher, read,
                                                remove_cell)


@pytest.fixture(scope="module")
def runner(students_env) -> LocalRunner:
    return LocalRunner(students_env, cell_timeout=10, timeout=120)


def results(report) -> dict[str, bool]:
    return {check.id: check.passed for check in report.checks}


def test_a_right_nbgrader_solution_gets_every_point(runner):
    teacher = problem1_teacher()
    report = regrade(teacher, problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT), runner)
    assert results(report) == {"correct_squares": True, "squares_invalid_input": True,
                               "correct_sum_of_squares": True, "sum_of_squares_uses_squares": True}
    assert (report.score, report.max_score, report.manual_points) == (3.0, 3.0, 7.0)
    assert report.tampering == ()


def test_a_wrong_nbgrader_solution_gets_the_points_of_what_it_does_right(runner):
    teacher = problem1_teacher()
    report = regrade(teacher, problem1_student(teacher, SQUARES_WRONG, SUM_REIMPLEMENTED), runner)
    assert results(report) == {"correct_squares": False, "squares_invalid_input": False,
                               "correct_sum_of_squares": True, "sum_of_squares_uses_squares": False}
    assert report.score == 0.5
    errors = {check.id: check.error for check in report.checks}
    assert errors["squares_invalid_input"] == "AssertionError: did not raise"
    assert errors["sum_of_squares_uses_squares"] == "AssertionError: sum_of_squares does not use squares"


def test_outputs_a_student_edits_to_fake_a_pass_earn_nothing(runner):
    teacher = problem1_teacher()
    student = student_version(teacher).notebook  # nothing written: every answer raises NotImplementedError
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.execution_count = 1
            cell.outputs = [nbformat.v4.new_output("execute_result", data={"text/plain": "True"}, execution_count=1)]
            cell.metadata.setdefault("nbgrader", {})["points"] = 100
    report = regrade(teacher, student, runner)
    assert report.score == 0 and report.max_score == 3.0
    assert {check.error for check in report.checks} == {"NotImplementedError"}


def test_only_the_hidden_tests_see_a_solution_made_for_the_visible_ones(runner):
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_FOR_THE_VISIBLE_TESTS, SUM_RIGHT)
    store = MemoryAttemptStore()
    checked = self_check(teacher, student, runner, store, student_key="k1", activity_id=1)
    assert {item["id"]: item["passed"] for item in checked.as_json()["checks"]}["correct_squares"] is True
    graded = regrade(teacher, student, runner)
    correct_squares = next(check for check in graded.checks if check.id == "correct_squares")
    assert not correct_squares.passed and correct_squares.error == f"AssertionError: {HIDDEN_MARK}"  # the teacher's view
    assert HIDDEN_MARK not in json.dumps(graded.for_student()) + json.dumps(checked.as_json())
    assert graded.for_student()["score"] == 2.0


def test_a_deleted_check_is_reported_and_the_teachers_is_run_all_the_same(runner):
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_WRONG, SUM_RIGHT)
    remove_cell(student, cell_with(student, grade_id="squares_invalid_input"))  # it would fail: deleted
    report = regrade(teacher, student, runner)
    assert [t.as_json() for t in report.tampering] == [{"check": "squares_invalid_input", "change": "deleted"}]
    assert results(report)["squares_invalid_input"] is False
    assert report.as_json()["tampering"] == [{"check": "squares_invalid_input", "change": "deleted"}]


def test_a_changed_check_is_reported_and_the_teachers_is_run_instead(runner):
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_WRONG, SUM_RIGHT)
    cell_with(student, grade_id="correct_squares").source = "assert True  # toujours juste"
    report = regrade(teacher, student, runner)
    assert [t.as_json() for t in report.tampering] == [{"check": "correct_squares", "change": "changed"}]
    assert results(report)["correct_squares"] is False


def test_a_right_nbautoeval_solution_passes_and_a_wrong_one_does_not(runner, tmp_path):
    files = demo02_files(tmp_path / "master")
    teacher = read(DEMO02)
    right = regrade(teacher, demo02_student(CURVE_RIGHT), runner, files=files)
    assert results(right) == {"exo_curve": True} and right.score == 1.0
    wrong = regrade(teacher, demo02_student(CURVE_WRONG), runner, files=files)
    assert results(wrong) == {"exo_curve": False} and wrong.score == 0.0
    assert wrong.checks[0].error == "AssertionError: la correction nbautoeval a trouvé des résultats faux"


def test_an_nbautoeval_check_the_student_deleted_is_run_at_the_end(runner, tmp_path):
    files = demo02_files(tmp_path / "master")
    student = demo02_student(CURVE_RIGHT)
    remove_cell(student, cell_with(student, check="exo_curve"))
    report = regrade(read(DEMO02), student, runner, files=files)
    assert results(report) == {"exo_curve": True}
    assert [t.change for t in report.tampering] == ["deleted"]


def test_a_cell_that_never_ends_fails_its_check_and_the_others_go_on(students_env):
    runner = LocalRunner(students_env, cell_timeout=3, timeout=120)
    teacher = problem1_teacher(hidden=False)
    endless = "def sum_of_squares(n):\n    while n == 11:\n        pass\n    return sum(squares(n))"
    report = regrade(teacher, problem1_student(teacher, SQUARES_RIGHT, endless), runner)
    by_id = {check.id: check for check in report.checks}
    assert by_id["correct_sum_of_squares"].status == "timeout"
    assert by_id["correct_sum_of_squares"].error == "TimeoutError: la cellule a duré plus de 3 s"
    assert by_id["correct_squares"].passed and by_id["sum_of_squares_uses_squares"].passed  # the run went on
    assert report.score == 2.5


def test_the_kernel_gets_the_students_seed_and_capytale_alea(runner):
    secret = b"a-secret-for-tests-only"
    teacher = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("from capytale_alea import aleatoire\nn = aleatoire('exercice 1').randint(1, 10**6)"),
        nbformat.v4.new_code_cell("reponse = None", metadata={"nbgrader": {"solution": True, "grade_id": "reponse"}}),
        nbformat.v4.new_code_cell("assert reponse == 2 * n", metadata={"capytale": {"check": {"id": "double"}}}),
        nbformat.v4.new_code_cell(textwrap.dedent("""\
            import os
            from capytale_alea import graine
            assert os.environ["CAPYTALE_SEED"] == str(graine())
            assert not [k for k in os.environ if k.startswith("CAPYTALE_") and k != "CAPYTALE_SEED"]"""),
            metadata={"capytale": {"check": {"id": "environnement"}}}),
    ])
    alice, bob = seed_for("alice-key", 7, secret), seed_for("bob-key", 7, secret)
    student = student_version(teacher).notebook
    # alice's answer, computed from her seed as the teacher's view does
    cell_with(student, grade_id="reponse").source = f"reponse = {2 * generator(alice, 'exercice 1').randint(1, 10**6)}"
    assert regrade(teacher, student, runner, seed=alice).score == 2.0
    assert results(regrade(teacher, student, runner, seed=bob)) == {"double": False, "environnement": True}


def test_the_annex_files_come_without_the_teachers_notebook(runner, tmp_path):
    files = tmp_path / "master"
    files.mkdir()
    (files / "donnees.txt").write_text("42")
    (files / "sujet.ipynb").write_text("{}")
    teacher = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "import os\nassert open('donnees.txt').read() == '42'\nassert not os.path.exists('sujet.ipynb')",
        metadata={"capytale": {"check": {"id": "fichiers"}}})])
    assert regrade(teacher, teacher, runner, files=files).score == 1.0


def test_a_run_that_takes_too_long_is_stopped_and_what_it_did_not_reach_fails(students_env):
    runner = LocalRunner(students_env, cell_timeout=60, timeout=10)
    teacher = problem1_teacher(hidden=False)
    endless = "def sum_of_squares(n):\n    while n == 11:\n        pass\n    return sum(squares(n))"
    report = regrade(teacher, problem1_student(teacher, SQUARES_RIGHT, endless), runner)
    by_id = {check.id: check for check in report.checks}
    assert report.stopped == "timeout"
    assert by_id["correct_squares"].passed and by_id["correct_sum_of_squares"].status == "timeout"
    assert by_id["sum_of_squares_uses_squares"].status == "not_run" and report.score == 2.0


def test_a_student_who_kills_the_kernel_only_loses_the_checks_after(runner):
    teacher = problem1_teacher(hidden=False)
    dying = "import os\n\ndef sum_of_squares(n):\n    os._exit(3)"
    report = regrade(teacher, problem1_student(teacher, SQUARES_RIGHT, dying), runner)
    by_id = {check.id: check for check in report.checks}
    assert report.stopped == "kernel_died" and by_id["correct_squares"].passed
    assert not by_id["correct_sum_of_squares"].passed and by_id["sum_of_squares_uses_squares"].status == "not_run"
    assert report.score == 2.0


def test_no_kernel_is_a_refusal_that_blames_nobody(tmp_path):
    teacher = problem1_teacher()
    with pytest.raises(RunnerError) as refused:
        regrade(teacher, teacher, LocalRunner(tmp_path / "no-environment"))
    assert refused.value.status == 503 and "Réessaie" in refused.value.user_message


def test_production_refuses_the_local_runner():
    with pytest.raises(RunnerError, match="refused in production"):
        LocalRunner.from_settings({"PRODUCTION": True, "STUDENTS_ENV": "/opt/students"})

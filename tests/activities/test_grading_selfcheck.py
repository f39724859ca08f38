""""Vérifier": the visible checks only, attempts counted per student and check (a runner that answers at once)."""
from __future__ import annotations

import json
import threading

import nbformat
import pytest

from services.activities.grading import MemoryAttemptStore, Runner, RunnerError, RunResult, self_check
from services.activities.grading.runner import OK, CellRun
from tests.activities.grading_notebooks import HIDDEN_MARK, SQUARES_RIGHT, SUM_RIGHT, problem1_student, problem1_teacher


class AnsweringRunner(Runner):
    """Says every cell passed, and keeps the notebooks it was given."""

    def __init__(self, fail: bool = False):
        self.notebooks, self.envs, self.fail = [], [], fail

    def run(self, notebook, files=None, env=None) -> RunResult:
        if self.fail:
            raise RunnerError("no kernel today")
        self.notebooks.append(notebook)
        self.envs.append(dict(env or {}))
        return RunResult(cells=tuple(CellRun(OK) for _ in notebook.cells))


def limited_teacher(attempts: int) -> nbformat.NotebookNode:
    teacher = problem1_teacher()
    for cell in teacher.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "correct_squares":
            cell.metadata["capytale"] = {"check": {"attempts": attempts}}
    return teacher


def test_verifier_never_gives_the_kernel_a_hidden_test():
    teacher = problem1_teacher()
    runner = AnsweringRunner()
    report = self_check(teacher, problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT), runner, MemoryAttemptStore(),
                        student_key="k1", activity_id=4, seed=99)
    assert HIDDEN_MARK not in json.dumps(runner.notebooks[0]) and "squares(11)" in json.dumps(runner.notebooks[0])
    assert runner.envs == [{"CAPYTALE_SEED": "99"}]
    assert [item["passed"] for item in report.as_json()["checks"]] == [True] * 4


def test_each_verifier_counts_an_attempt_per_check_and_a_limit_stops_it():
    teacher, store, runner = limited_teacher(2), MemoryAttemptStore(), AnsweringRunner()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    answers = [self_check(teacher, student, runner, store, student_key="k1", activity_id=4).as_json()
               for _ in range(3)]
    first = {item["id"]: item for item in answers[-1]["checks"]}
    assert [a["checks"][0]["attempts_left"] for a in answers] == [1, 0, 0]
    assert first["correct_squares"]["status"] == "no_attempts_left" and not first["correct_squares"]["passed"]
    assert first["squares_invalid_input"]["attempts"] == 3 and first["squares_invalid_input"]["max_attempts"] is None
    assert store.counts("k1", 4) == {"correct_squares": 2, "squares_invalid_input": 3, "correct_sum_of_squares": 3,
                                     "sum_of_squares_uses_squares": 3}
    assert store.counts("k2", 4) == {} and store.counts("k1", 5) == {}  # per student, per activity


def test_verifier_of_one_check_counts_only_it():
    teacher, store = problem1_teacher(), MemoryAttemptStore()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    report = self_check(teacher, student, AnsweringRunner(), store, student_key="k1", activity_id=4,
                        only=["squares_invalid_input", "no-such-check"])
    assert [item["id"] for item in report.as_json()["checks"]] == ["squares_invalid_input"]
    assert store.counts("k1", 4) == {"squares_invalid_input": 1}


def test_a_run_that_could_not_happen_gives_the_attempts_back():
    teacher, store = limited_teacher(1), MemoryAttemptStore()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    with pytest.raises(RunnerError):
        self_check(teacher, student, AnsweringRunner(fail=True), store, student_key="k1", activity_id=4)
    assert all(count == 0 for count in store.counts("k1", 4).values())
    report = self_check(teacher, student, AnsweringRunner(), store, student_key="k1", activity_id=4)
    assert report.as_json()["checks"][0]["passed"] is True


def test_two_clicks_at_once_never_both_get_the_last_attempt():
    store, granted = MemoryAttemptStore(), []
    threads = [threading.Thread(target=lambda: granted.append(store.take("k1", 4, "ex1", 5))) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(n for n in granted if n is not None) == [1, 2, 3, 4, 5] and granted.count(None) == 35

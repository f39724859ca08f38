"""Checks found in teachers' notebooks, the version students get, and the notebook that is graded (no kernel)."""
from __future__ import annotations

import json

import nbformat
import pytest

from services.activities.grading import find_checks, notebook_to_grade, student_version
from services.activities.grading.assembly import CHANGED, DELETED
from services.activities.grading.cells import without_hidden_tests
from services.activities.grading.reading import as_bytes
from tests.activities.grading_notebooks import (DEMO02, HIDDEN_MARK, PROBLEM1, SQUARES_RIGHT, SUM_RIGHT, cell_with,
                                                problem1_student, problem1_teacher, read, remove_cell)


def test_the_checks_of_the_nbgrader_notebook_are_its_autograder_cells_with_their_points():
    checks = find_checks(problem1_teacher())
    assert [(c.id, c.kind, c.points) for c in checks] == [
        ("correct_squares", "nbgrader", 1.0), ("squares_invalid_input", "nbgrader", 1.0),
        ("correct_sum_of_squares", "nbgrader", 0.5), ("sum_of_squares_uses_squares", "nbgrader", 0.5)]
    assert checks[0].has_hidden_tests and not checks[1].has_hidden_tests
    assert HIDDEN_MARK not in checks[0].visible_source and "squares(11)" in checks[0].visible_source


def test_the_cells_graded_by_hand_are_left_to_the_teacher():
    version = student_version(problem1_teacher())
    assert [(part.id, part.points) for part in version.manual] == [
        ("sum_of_squares_equation", 1.0), ("sum_of_squares_application", 2.0), ("cell-938593c4a215c6cc", 4.0)]


def test_the_check_of_the_nbautoeval_notebook_is_its_correction_call():
    checks = find_checks(read(DEMO02))
    assert [(c.id, c.kind, c.points, c.exercise) for c in checks] == [("exo_curve", "nbautoeval", 1.0, "exo_curve")]
    assert checks[0].source == "exo_curve.correction(curve)"  # exo_foo3.example() and the others are no checks


def test_a_teacher_marks_any_code_cell_as_a_check_with_points_and_attempts():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("x = 1"),
        nbformat.v4.new_code_cell("assert x == 1", metadata={"capytale": {"check": {"points": 2.5, "id": "ex1",
                                                                                   "attempts": 3}}}),
        nbformat.v4.new_code_cell("assert x > 0", metadata={"capytale": {"check": {}}}),
        nbformat.v4.new_markdown_cell("not code", metadata={"capytale": {"check": {"points": 9}}}),
        nbformat.v4.new_code_cell("assert x", metadata={"capytale": {"check": {"id": "ex1", "points": -4}}}),
    ])
    checks = find_checks(notebook)
    assert [(c.id, c.kind, c.points, c.max_attempts) for c in checks] == [
        ("ex1", "capytale", 2.5, 3), ("verification-3", "capytale", 1.0, None), ("ex1-2", "capytale", 1.0, None)]


@pytest.mark.parametrize("source, visible", [
    ("a\n### BEGIN HIDDEN TESTS\nb\n### END HIDDEN TESTS\nc", "a\nc"),
    ("a\n    # begin hidden tests\n    b\n    # end hidden tests", "a"),
    ("a\n### BEGIN HIDDEN TESTS\nb\nc", "a"),  # left open: hidden to the end
    ("a\nb", "a\nb"),
])
def test_hidden_tests_are_the_lines_between_the_markers(source, visible):
    assert without_hidden_tests(source) == visible


def test_hidden_tests_appear_nowhere_in_the_student_version():
    teacher = problem1_teacher()
    cell = cell_with(teacher, grade_id="correct_squares")
    # the teacher ran their notebook: the hidden test's failure, its source in the traceback, is in the output
    cell.outputs = [nbformat.v4.new_output("error", ename="AssertionError", evalue=HIDDEN_MARK,
                                           traceback=[f"assert squares(7) == [...], '{HIDDEN_MARK}'"])]
    cell.execution_count = 3
    cell_with(teacher, starts="Your function should print").source += "\n### BEGIN HIDDEN TESTS\nnote cachée\n### END HIDDEN TESTS"
    version = student_version(teacher)
    text = version.as_bytes().decode()
    for secret in (HIDDEN_MARK, "squares(7)", "HIDDEN TESTS", "note cachée"):
        assert secret not in text
    for check in version.checks:  # no fingerprint either: the server keeps them
        assert check.fingerprint not in text
    assert "squares(11)" in text  # the visible tests stay
    assert json.loads(text)["cells"][5]["outputs"] == []


def test_the_student_version_has_stubs_for_solutions_and_read_only_checks():
    version = student_version(problem1_teacher())
    notebook = version.notebook
    squares = cell_with(notebook, grade_id="squares")
    assert "raise NotImplementedError()" in squares.source and "ValueError" not in squares.source
    assert squares.source.startswith('def squares(n):\n    """Compute the squares')  # around the solution: kept
    assert "    # VOTRE CODE ICI\n    raise NotImplementedError()" in squares.source
    assert cell_with(notebook, grade_id="sum_of_squares_equation").source == "VOTRE RÉPONSE ICI"
    assert "pyramidal" not in cell_with(notebook, grade_id="sum_of_squares_application").source
    assert squares.metadata.get("editable") is not False  # the answers stay the student's to write
    for check in version.checks:
        cell = notebook.cells[check.index]
        assert cell.metadata["editable"] is False and cell.metadata["deletable"] is False
        assert cell.metadata["capytale"]["check"] == {"id": check.id, "points": check.points}
    assert cell_with(notebook, grade_id="jupyter").metadata["editable"] is False  # nbgrader's locked cell
    assert [m["id"] for m in version.manifest()] == [c.id for c in version.checks]
    assert all("source" not in m for m in version.manifest())


def test_the_nbautoeval_check_is_found_again_in_the_student_version():
    version = student_version(read(DEMO02))
    cell = version.notebook.cells[version.checks[0].index]
    assert cell.metadata["capytale"]["check"]["id"] == "exo_curve" and cell.metadata["deletable"] is False


def test_the_graded_notebook_has_the_teachers_checks_and_no_stored_output():
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    for cell in student.cells:
        if cell.cell_type == "code":
            cell.outputs = [nbformat.v4.new_output("stream", text="ok\n")]
            cell.execution_count = 1
    assembly = notebook_to_grade(teacher, student)
    assert assembly.tampering == []
    assert all(cell.outputs == [] and cell.execution_count is None and cell.metadata == {}
               for cell in assembly.notebook.cells)
    graded = [assembly.notebook.cells[i].source for i in assembly.cells_of["correct_squares"]]
    assert graded == [cell_with(teacher, grade_id="correct_squares").source]  # hidden test included
    assert len(assembly.notebook.cells) == 8  # markdown dropped, nothing after the last check

    visible = notebook_to_grade(teacher, student, hidden_tests=False)
    assert HIDDEN_MARK not in json.dumps(visible.notebook)


def test_a_deleted_and_a_changed_check_are_seen_and_the_teachers_run_in_their_place():
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    cell_with(student, grade_id="correct_squares").source = "assert True"
    remove_cell(student, cell_with(student, grade_id="squares_invalid_input"))
    assembly = notebook_to_grade(teacher, student)
    assert [(t.check_id, t.change) for t in assembly.tampering] == [
        ("correct_squares", CHANGED), ("squares_invalid_input", DELETED)]
    sources = [cell.source for cell in assembly.notebook.cells]
    restored = sources.index(cell_with(teacher, grade_id="squares_invalid_input").source)
    assert sources.index(SQUARES_RIGHT) < restored < sources.index(SUM_RIGHT)  # back where it was
    assert "assert True" not in sources


def test_a_check_whose_metadata_was_lost_is_found_by_its_source():
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    cell_with(student, grade_id="correct_sum_of_squares").metadata = {}
    assert notebook_to_grade(teacher, student).tampering == []


def test_a_student_cell_claiming_to_be_a_check_changes_nothing():
    teacher = problem1_teacher()
    student = problem1_student(teacher, SQUARES_RIGHT, SUM_RIGHT)
    student.cells.append(nbformat.v4.new_code_cell("pass", metadata={"capytale": {"check": {"id": "bonus",
                                                                                           "points": 100}}}))
    assembly = notebook_to_grade(teacher, as_bytes(student))
    assert [c.id for c in assembly.checks] == [c.id for c in find_checks(teacher)]


def test_a_notebook_with_nothing_to_hide_is_copied_as_the_teacher_sent_it():
    assert student_version(read(PROBLEM1)).changed and student_version(read(DEMO02)).changed
    plain = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("print(1)")])
    assert not student_version(plain).changed

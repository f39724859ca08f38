"""Teachers' and students' notebooks of the grading tests, made in memory from the corpus's.

The corpus notebooks are read where they are (never copied): ``problem1.ipynb`` (nbgrader, its
solutions in it) and ``demo02-moreargs.ipynb`` (nbautoeval).  A student's notebook is the student
version of the teacher's with its answer cells filled by the implementation a test writes.
"""
from __future__ import annotations

import textwrap
from pathlib import Path

import nbformat
from nbformat import NotebookNode

from services.activities.grading import student_version
from tests.conftest import CORPUS

PROBLEM1 = CORPUS / "problem1.ipynb"
DEMO02 = CORPUS / "demo02-moreargs.ipynb"

# A hidden test the teacher adds to problem1's first check (the corpus's file has none).
HIDDEN_MARK = "caché-sept"
HIDDEN_TESTS = textwrap.dedent(f"""\
    ### BEGIN HIDDEN TESTS
    assert squares(7) == [1, 4, 9, 16, 25, 36, 49], "{HIDDEN_MARK}"
    ### END HIDDEN TESTS""")

SQUARES_RIGHT = textwrap.dedent('''\
    def squares(n):
        """Squares from 1 to n."""
        if n < 1:
            raise ValueError("n must be at least 1")
        return [i * i for i in range(1, n + 1)]''')
SQUARES_WRONG = textwrap.dedent('''\
    def squares(n):
        return list(range(1, n + 1))  # forgets to square, never raises''')
# right on the four visible inputs, wrong elsewhere: what only a hidden test sees
SQUARES_FOR_THE_VISIBLE_TESTS = textwrap.dedent('''\
    def squares(n):
        if n < 1:
            raise ValueError(n)
        return {1: [1], 2: [1, 4], 10: [i * i for i in range(1, 11)], 11: [i * i for i in range(1, 12)]}.get(n, [])''')
SUM_RIGHT = textwrap.dedent('''\
    def sum_of_squares(n):
        return sum(squares(n))''')
SUM_REIMPLEMENTED = textwrap.dedent('''\
    def sum_of_squares(n):
        return sum(i * i for i in range(1, n + 1))  # right values, but does not call squares''')

CURVE_RIGHT = textwrap.dedent('''\
    def curve(a, b, c=12):
        return a ** 2 + 3 * a * b + c''')
CURVE_WRONG = textwrap.dedent('''\
    def curve(a, b, c=12):
        return a ** 2 + 3 * a * b  # forgets c''')

# exercises/curve.py, the exercise module of the nbautoeval demo (its repository keeps it beside the notebook)
CURVE_EXERCISE = textwrap.dedent('''\
    from nbautoeval.args import Args
    from nbautoeval.exercise_function import ExerciseFunction


    def curve(a, b, c=12):
        return a ** 2 + 3 * a * b + c


    exo_curve = ExerciseFunction(curve, [Args(1, 2), Args(2, 2), Args(3, 1, c=0), Args(0, 4)], nb_examples=2)
''')


def read(path: Path) -> NotebookNode:
    return nbformat.read(path, as_version=4)


def problem1_teacher(hidden: bool = True) -> NotebookNode:
    """problem1 as a teacher would upload it, with a hidden test in its first check."""
    notebook = read(PROBLEM1)
    if hidden:
        cell = cell_with(notebook, grade_id="correct_squares")
        cell.source = cell.source.rstrip("\n") + "\n" + HIDDEN_TESTS
    return notebook


def cell_with(notebook: NotebookNode, *, grade_id: str | None = None, check: str | None = None,
              starts: str | None = None) -> NotebookNode:
    for cell in notebook.cells:
        metadata = cell.get("metadata", {})
        if grade_id is not None and metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            return cell
        if check is not None and metadata.get("capytale", {}).get("check", {}).get("id") == check:
            return cell
        if starts is not None and cell.source.startswith(starts):
            return cell
    raise LookupError(grade_id or check or starts)


def problem1_student(teacher: NotebookNode, squares: str, sum_of_squares: str) -> NotebookNode:
    """The student's notebook: the student version with both answer cells filled."""
    notebook = student_version(teacher).notebook
    cell_with(notebook, grade_id="squares").source = squares
    cell_with(notebook, grade_id="sum_of_squares").source = sum_of_squares
    return notebook


def demo02_student(curve: str) -> NotebookNode:
    """The nbautoeval demo's student notebook: both cells that define ``curve`` (the stub and the demo's
    broken proposal) hold the student's implementation."""
    notebook = student_version(read(DEMO02)).notebook
    cell_with(notebook, starts="# write your solution here").source = curve
    cell_with(notebook, starts="# the student's - broken - proposal").source = curve
    return notebook


def remove_cell(notebook: NotebookNode, cell: NotebookNode) -> None:
    notebook.cells = [c for c in notebook.cells if c is not cell]


def demo02_files(folder: Path) -> Path:
    """The activity's annex files of the nbautoeval demo (the master version's folder)."""
    (folder / "exercises").mkdir(parents=True)
    (folder / "exercises" / "curve.py").write_text(CURVE_EXERCISE)
    return folder

"""The version of a teacher's notebook that students get: no hidden tests, no solutions, checks read-only.

:func:`student_version` takes the teacher's notebook (the master, as stored) and returns the
notebook to copy to each student, and the checks the server keeps (:class:`StudentVersion`).  In the
student's notebook:

- every hidden-tests block is gone, from every cell (its marker lines too), and the outputs and
  execution counts of the check cells are cleared (a teacher who ran the notebook has their hidden
  tests' tracebacks there);
- each solution region is a stub (``# VOTRE CODE ICI`` / ``raise NotImplementedError()``), an nbgrader
  solution cell without markers a stub as a whole (``VOTRE RÉPONSE ICI`` for text), their outputs
  cleared: what nbgrader releases;
- each check cell is read-only and cannot be deleted (``"editable": false, "deletable": false``, which
  Notebook 7 and JupyterLab honour), as are nbgrader's locked cells, and carries
  ``"capytale": {"check": {"id", "points"}}`` so that the grading finds it again;
- nothing else changes (the caller adds the instructions, the kernel, the other protections).

The read-only marks are a guard, not a lock: the file is the student's and its metadata can be
changed.  What makes the grading trustworthy is elsewhere: each check's fingerprint (a hash of its
visible source) is recomputed by the server from the teacher's notebook, never read from the
student's file, so a check cell changed or deleted is reported, and the grading runs the teacher's
checks whatever the student's file holds (:mod:`.assembly`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbformat import NotebookNode

from services.activities.grading.cells import (TEXT_STUB, Check, ManualPart, code_stub, find_checks, has_solution_region,
                                               is_answer, is_locked, language_of, manual_parts, source_of,
                                               without_hidden_tests, without_solution)
from services.activities.grading.reading import as_bytes, as_notebook


@dataclass(frozen=True)
class StudentVersion:
    """The notebook to give students, and what the server keeps of the teacher's checks."""

    notebook: NotebookNode
    checks: tuple[Check, ...]  # the teacher's: hidden tests included, never to be sent to a student
    manual: tuple[ManualPart, ...]
    changed: bool  # False: nothing to hide or protect, the teacher's file may be copied byte for byte

    def as_bytes(self) -> bytes:
        return as_bytes(self.notebook)

    def manifest(self) -> list[dict[str, Any]]:
        """Each check's id, kind, points, fingerprint, whether it has hidden tests (no source)."""
        return [check.manifest() for check in self.checks]


def student_version(teacher: bytes | str | dict | NotebookNode) -> StudentVersion:
    """What students get of the teacher's notebook (see the module's docstring)."""
    notebook = as_notebook(teacher)
    original = as_notebook(notebook)
    checks = find_checks(notebook)
    manual = manual_parts(notebook)
    stub = code_stub(language_of(notebook))
    by_index = {check.index: check for check in checks}
    for index, cell in enumerate(notebook.cells):
        source = without_hidden_tests(source_of(cell))
        if has_solution_region(source):
            source = without_solution(source, stub if cell.cell_type == "code" else TEXT_STUB)
            _clear_outputs(cell)
        elif is_answer(cell):
            source = stub if cell.cell_type == "code" else TEXT_STUB
            _clear_outputs(cell)
        cell.source = source
        check = by_index.get(index)
        if check is not None:
            _clear_outputs(cell)
            own = {"id": check.id, "points": check.points}
            if check.max_attempts is not None:
                own["attempts"] = check.max_attempts
            capytale = cell.metadata.get("capytale")
            cell.metadata["capytale"] = {**(capytale if isinstance(capytale, dict) else {}), "check": own}
        if check is not None or is_locked(cell):
            cell.metadata["editable"] = False
            cell.metadata["deletable"] = False
    return StudentVersion(notebook=notebook, checks=tuple(checks), manual=tuple(manual), changed=notebook != original)


def _clear_outputs(cell: NotebookNode) -> None:
    if cell.cell_type == "code":
        cell.outputs = []
        cell.execution_count = None

"""The notebook that is run to grade: the student's cells, the teacher's checks, no stored output.

:func:`notebook_to_grade` starts from the student's notebook (their answers, and any cell they
added, stay where they are) and:

- finds each of the teacher's checks in it: by the id its metadata names (``capytale.check.id``,
  nbgrader's ``grade_id``), else by its source; one the student changed is **changed**, one that
  cannot be found is **deleted** (both reported to the teacher, :class:`Tampering`);
- puts the teacher's check in its place, whatever the student's cell holds: with its hidden tests
  at hand-in, its visible part for "Vérifier" (the kernel then never sees a hidden test).  A deleted
  check goes back after the nearest cell before it in the teacher's notebook that is found in the
  student's (an answer cell by its id, a cell whose source is unchanged), else at the end;
- puts nbgrader's locked code cells back as the teacher wrote them;
- drops every output, execution count and cell metadata: nothing the student's file says about a
  run counts, only this run;
- stops after the last check to run (later cells cannot change a result);
- around an nbautoeval check, adds a cell before it that notes where nbautoeval's trace ends and one
  after it that fails unless the corrections of that cell were all right (nbautoeval shows its
  verdict as a table, it raises nothing).

Which cells decide each check is in :attr:`Assembly.cells_of`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

import nbformat
from nbformat import NotebookNode

from capytale import kernels
from services.activities.grading.cells import (NBAUTOEVAL, Check, cell_fingerprint, claimed_ids, find_checks,
                                               is_locked, nbgrader_of, normalised, source_of)
from services.activities.grading.reading import as_notebook

DELETED = "deleted"
CHANGED = "changed"

NBAUTOEVAL_BEFORE = """\
import nbautoeval.storage as _capytale_nbautoeval
_capytale_trace = _capytale_nbautoeval._log2_path()  # where nbautoeval writes its verdicts (NBAUTOEVAL_LOG)
_capytale_trace_start = _capytale_trace.stat().st_size if _capytale_trace.exists() else 0"""

NBAUTOEVAL_AFTER = """\
def _capytale_verdict(trace, start):
    import json
    verdicts = []
    if trace.exists():
        with trace.open() as lines:
            lines.seek(start)
            verdicts = [json.loads(line) for line in lines if line.strip()]
    verdicts = [v for v in verdicts if v.get("type") == "exercise"]
    if not verdicts:
        raise AssertionError("la correction nbautoeval ne s'est pas faite")
    if not all(v.get("success") is True for v in verdicts):
        raise AssertionError("la correction nbautoeval a trouvé des résultats faux")
_capytale_verdict(_capytale_trace, _capytale_trace_start)"""


@dataclass(frozen=True)
class Tampering:
    """A check cell the student deleted or changed (the teacher's was run in its place)."""

    check_id: str
    change: str  # deleted or changed

    def as_json(self) -> dict[str, str]:
        return {"check": self.check_id, "change": self.change}


@dataclass
class Assembly:
    """The notebook to run, and which of its cells decide each check."""

    notebook: NotebookNode
    checks: list[Check]  # the checks this run decides, in the teacher's order
    cells_of: dict[str, list[int]] = field(default_factory=dict)
    tampering: list[Tampering] = field(default_factory=list)


def find_in_student(checks: list[Check], student: NotebookNode) -> tuple[dict[str, int], list[Tampering]]:
    """Where each check is in the student's notebook (cell index), and those changed or deleted."""
    found: dict[str, int] = {}
    used: set[int] = set()
    for check in checks:  # by the id the cell's metadata names
        for index, cell in enumerate(student.cells):
            if index not in used and check.id in claimed_ids(cell):
                found[check.id] = index
                used.add(index)
                break
    for check in checks:  # else by its source: a cell whose metadata was lost
        if check.id in found:
            continue
        for index, cell in enumerate(student.cells):
            if index not in used and cell_fingerprint(cell) == check.fingerprint:
                found[check.id] = index
                used.add(index)
                break
    tampering = []
    for check in checks:
        if check.id not in found:
            tampering.append(Tampering(check.id, DELETED))
        elif cell_fingerprint(student.cells[found[check.id]]) != check.fingerprint:
            tampering.append(Tampering(check.id, CHANGED))
    return found, tampering


def _anchors(teacher: NotebookNode, student: NotebookNode, found: dict[str, int],
             checks: list[Check]) -> dict[int, int]:
    """Teacher's cell index → student's cell index, for the cells found again in the student's notebook."""
    anchors = {check.index: found[check.id] for check in checks if check.id in found}
    student_ids = {}
    for index, cell in enumerate(student.cells):
        for key in _keys(cell):
            student_ids.setdefault(key, index)
    teacher_sources = [normalised(source_of(cell)) for cell in teacher.cells]
    student_sources: dict[str, list[int]] = {}
    for index, cell in enumerate(student.cells):
        student_sources.setdefault(normalised(source_of(cell)), []).append(index)
    for index, cell in enumerate(teacher.cells):
        if index in anchors:
            continue
        by_key = next((student_ids[key] for key in _keys(cell) if key in student_ids), None)
        if by_key is not None:
            anchors[index] = by_key
            continue
        source = teacher_sources[index]
        if source and teacher_sources.count(source) == 1 and len(student_sources.get(source, [])) == 1:
            anchors[index] = student_sources[source][0]
    return anchors


def _keys(cell: NotebookNode) -> Iterable[str]:
    """What names a cell across the teacher's and the student's notebooks: nbgrader's id, the cell id."""
    grade_id = nbgrader_of(cell).get("grade_id")
    if isinstance(grade_id, str) and grade_id:
        yield f"nbgrader:{grade_id}"
    if isinstance(cell.get("id"), str):
        yield f"cell:{cell['id']}"


def _code_cell(source: str) -> NotebookNode:
    cell = nbformat.v4.new_code_cell(source)
    cell.pop("id", None)
    return cell


def notebook_to_grade(teacher: bytes | str | dict | NotebookNode, student: bytes | str | dict | NotebookNode,
                      hidden_tests: bool = True, only: Iterable[str] | None = None) -> Assembly:
    """The notebook to run for ``student``'s notebook (see the module's docstring).

    ``hidden_tests``: the checks with their hidden tests (hand-in) or only their visible part
    ("Vérifier"); ``only``: the ids of the checks to decide (default all)."""
    teacher, student = as_notebook(teacher), as_notebook(student)
    all_checks = find_checks(teacher)
    wanted = set(only) if only is not None else {check.id for check in all_checks}
    checks = [check for check in all_checks if check.id in wanted and (hidden_tests or check.visible_source.strip())]
    found, tampering = find_in_student(all_checks, student)
    anchors = _anchors(teacher, student, found, all_checks)
    locked = {index: cell for index, cell in enumerate(teacher.cells) if is_locked(cell) and cell.cell_type == "code"}

    # where each check missing from the student's notebook goes back: after the student's cell of the nearest
    # teacher's cell before it that was found, else before the first found cell after it, else at the end
    missing_after: dict[int, list[Check]] = {}
    for check in all_checks:
        if check.id in found:
            continue
        before = [anchors[i] for i in anchors if i < check.index]
        after = [anchors[i] for i in anchors if i > check.index]
        position = max(before) if before else (min(after) - 1 if after else len(student.cells) - 1)
        missing_after.setdefault(position, []).append(check)

    by_student_index = {index: check for check in all_checks if (index := found.get(check.id)) is not None}
    locked_at = {anchors[t]: cell for t, cell in locked.items() if t in anchors and anchors[t] not in by_student_index}
    assembly = Assembly(notebook=nbformat.v4.new_notebook(), checks=checks,
                        tampering=[t for t in tampering if t.check_id in wanted])
    assembly.notebook.metadata.update(_metadata(teacher))
    remaining = {check.id for check in checks}

    def emit_check(check: Check) -> None:
        source = check.source if hidden_tests else check.visible_source
        cells = assembly.notebook.cells
        if check.kind == NBAUTOEVAL:
            cells.append(_code_cell(NBAUTOEVAL_BEFORE))
        cells.append(_code_cell(source))
        decides = [len(cells) - 1]
        if check.kind == NBAUTOEVAL:
            cells.append(_code_cell(NBAUTOEVAL_AFTER))
            decides.append(len(cells) - 1)
        assembly.cells_of[check.id] = decides
        remaining.discard(check.id)

    for check in missing_after.get(-1, []):
        emit_check(check)
    # the student's code cells (no markdown: nothing to run), up to the last check asked for; the checks not
    # asked for before it are run too, since a later check may rely on what an earlier one set
    for index, cell in enumerate(student.cells):
        if not remaining:
            break
        check = by_student_index.get(index)
        if check is not None:
            emit_check(check)
        elif index in locked_at:
            assembly.notebook.cells.append(_code_cell(source_of(locked_at[index])))
        elif cell.get("cell_type") == "code":
            assembly.notebook.cells.append(_code_cell(source_of(cell)))
        for missing in missing_after.get(index, []):
            emit_check(missing)
    return assembly


def _metadata(teacher: NotebookNode) -> dict[str, Any]:
    """The students' kernel the teacher's notebook opens on: the student's file does not choose what runs it."""
    choice = kernels.resolve(teacher.metadata)
    return {"kernelspec": choice.kernelspec() or dict(teacher.metadata.get("kernelspec") or {})}


def check_fingerprints(teacher: bytes | str | dict | NotebookNode) -> dict[str, str]:
    """Each check's fingerprint, by id (what a server may store beside a master version)."""
    return {check.id: check.fingerprint for check in find_checks(as_notebook(teacher))}

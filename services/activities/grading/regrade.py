"""Grading a handed-in notebook: the teacher's checks re-run on the student's snapshot, a score proposed.

:func:`regrade` builds the notebook to grade (:mod:`.assembly`: the student's cells, the teacher's
checks with their hidden tests, no stored output), runs it in a fresh kernel (:class:`.Runner`) with
the student's seed, and returns a :class:`GradeReport`: each check passed or failed with its points,
the error's last line, the proposed score (the points of the checks passed; the teacher changes it
as they like), the points left to grade by hand, and the check cells the student deleted or changed.

Two views of it: :meth:`GradeReport.as_json` is the teacher's (errors included: a hidden test's
error may name what it tests); :meth:`GradeReport.for_student` gives only each check's points and
whether it passed, never an error line, since the student's own code ran in that kernel beside the
hidden tests and could have carried their text into an error of its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nbformat import NotebookNode

from services.activities.grading.assembly import Assembly, Tampering, notebook_to_grade
from services.activities.grading.cells import Check, ManualPart, manual_parts
from services.activities.grading.reading import as_notebook
from services.activities.grading.runner import NOT_RUN, OK, TIMEOUT, CellRun, RunResult, Runner
from services.activities.grading.seeds import kernel_environment

PASSED = "passed"
FAILED = "failed"
NOT_REACHED = "not_run"


@dataclass(frozen=True)
class CheckResult:
    """One check after a run."""

    id: str
    kind: str
    points: float
    passed: bool
    status: str  # passed, failed, timeout, not_run
    error: str  # the error's last line: for the teacher, or for the student after a visible-only run
    hidden_tests: bool

    @property
    def earned(self) -> float:
        return self.points if self.passed else 0.0

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind, "points": self.points, "earned": self.earned,
                "passed": self.passed, "status": self.status, "error": self.error,
                "hidden_tests": self.hidden_tests}


@dataclass(frozen=True)
class GradeReport:
    """What the re-run of one student's notebook found (see the module's docstring)."""

    checks: tuple[CheckResult, ...]
    tampering: tuple[Tampering, ...]
    manual: tuple[ManualPart, ...]
    stopped: str = ""  # why the run ended early: "", "timeout", "kernel_died"
    seconds: float = 0.0

    @property
    def score(self) -> float:
        return sum(check.earned for check in self.checks)

    @property
    def max_score(self) -> float:
        return sum(check.points for check in self.checks)

    @property
    def manual_points(self) -> float:
        return sum(part.points for part in self.manual)

    def as_json(self) -> dict[str, Any]:
        """The teacher's view."""
        return {"score": self.score, "max_score": self.max_score, "manual_points": self.manual_points,
                "checks": [check.as_json() for check in self.checks],
                "tampering": [t.as_json() for t in self.tampering],
                "manual": [{"id": part.id, "points": part.points} for part in self.manual],
                "stopped": self.stopped, "seconds": round(self.seconds, 2)}

    def for_student(self) -> dict[str, Any]:
        """What a student may see: points and passed or not, no error line."""
        return {"score": self.score, "max_score": self.max_score,
                "checks": [{"id": c.id, "points": c.points, "earned": c.earned, "passed": c.passed}
                           for c in self.checks]}


def check_results(assembly: Assembly, run: RunResult) -> list[CheckResult]:
    """Each check of ``assembly`` decided by the cells of ``run``: passed when every one of its cells
    ran without error; else the first cell that did not says why."""
    results = []
    for check in assembly.checks:
        cells = [run.cells[i] if i < len(run.cells) else CellRun(NOT_RUN) for i in assembly.cells_of.get(check.id, [])]
        failing = next((cell for cell in cells if cell.status != OK), None if cells else CellRun(NOT_RUN))
        results.append(_result(check, failing))
    return results


def _result(check: Check, failing: CellRun | None) -> CheckResult:
    if failing is None:
        return CheckResult(check.id, check.kind, check.points, True, PASSED, "", check.has_hidden_tests)
    status = {TIMEOUT: TIMEOUT, NOT_RUN: NOT_REACHED}.get(failing.status, FAILED)
    error = failing.error or ("Non exécutée : la correction s'est arrêtée avant" if status == NOT_REACHED else "")
    return CheckResult(check.id, check.kind, check.points, False, status, error, check.has_hidden_tests)


def regrade(teacher: bytes | str | dict | NotebookNode, student: bytes | str | dict | NotebookNode, runner: Runner,
            *, files: Path | None = None, seed: int = 0) -> GradeReport:
    """Re-run the teacher's checks, hidden tests included, on ``student``'s notebook (the snapshot
    handed in) in a fresh kernel of ``runner``.

    ``files``: the master version's folder (its annex files are copied for the run, its notebooks
    never); ``seed``: the one the student's kernel had, given to this one as ``CAPYTALE_SEED``:
    :func:`.seeds.seed_for` for a copy made with its seed file, 0 for one made without (its
    ``capytale_alea`` said 0).
    Raises :class:`.RunnerError` when no kernel could run (nothing is graded then)."""
    teacher = as_notebook(teacher)
    assembly = notebook_to_grade(teacher, student, hidden_tests=True)
    run = RunResult(cells=())
    if assembly.checks:
        run = runner.run(assembly.notebook, files, kernel_environment(seed))
    return GradeReport(checks=tuple(check_results(assembly, run)), tampering=tuple(assembly.tampering),
                       manual=tuple(manual_parts(teacher)), stopped=run.stopped, seconds=run.seconds)

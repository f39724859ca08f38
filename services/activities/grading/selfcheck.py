""""Vérifier": a student runs the visible checks on their notebook as it is now, attempts counted.

:func:`self_check` runs, in a fresh kernel (:class:`.Runner`, as at hand-in), the student's
current notebook with the teacher's checks **without their hidden tests**: the kernel never holds a
hidden test, so every error line may be shown to the student.  Each check run counts one attempt for
that student and check in an :class:`AttemptStore`; a check whose ``attempts`` limit
(``"capytale": {"check": {"attempts": 3}}``) is reached is not run and says so.  A run that could not
happen (:class:`.RunnerError`) gives its attempts back.

:class:`AttemptStore` is the small contract a store fulfils (``take`` must be atomic: two clicks at
once never both get the last attempt); :class:`MemoryAttemptStore` keeps counts in memory (one
process, tests); a database store implements the same three methods.
"""
from __future__ import annotations

import abc
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from nbformat import NotebookNode

from services.activities.grading.assembly import Tampering, notebook_to_grade
from services.activities.grading.cells import Check, find_checks
from services.activities.grading.reading import as_notebook
from services.activities.grading.regrade import CheckResult, check_results
from services.activities.grading.runner import Runner, RunnerError
from services.activities.grading.seeds import kernel_environment

NO_ATTEMPTS_LEFT = "no_attempts_left"


class AttemptStore(abc.ABC):
    """Counts each student's "Vérifier" per check of an activity.  Backends override the three methods."""

    @abc.abstractmethod
    def take(self, student_key: str, activity_id: int | str, check_id: str, limit: int | None) -> int | None:
        """Count one more attempt unless ``limit`` are counted already (None: no limit), atomically.
        Returns the new count, or None when refused."""
        raise NotImplementedError

    @abc.abstractmethod
    def give_back(self, student_key: str, activity_id: int | str, check_id: str) -> None:
        """Undo one :meth:`take` (the run could not happen)."""
        raise NotImplementedError

    @abc.abstractmethod
    def counts(self, student_key: str, activity_id: int | str) -> dict[str, int]:
        """The attempts counted so far for this student in this activity, by check id."""
        raise NotImplementedError


class MemoryAttemptStore(AttemptStore):
    """Counts in this process's memory (lost at restart): for tests and one machine."""

    def __init__(self) -> None:
        self._counts: dict[tuple[str, str, str], int] = {}
        self._lock = threading.Lock()

    def take(self, student_key: str, activity_id: int | str, check_id: str, limit: int | None) -> int | None:
        key = (student_key, str(activity_id), check_id)
        with self._lock:
            count = self._counts.get(key, 0)
            if limit is not None and count >= limit:
                return None
            self._counts[key] = count + 1
            return count + 1

    def give_back(self, student_key: str, activity_id: int | str, check_id: str) -> None:
        key = (student_key, str(activity_id), check_id)
        with self._lock:
            if self._counts.get(key, 0) > 0:
                self._counts[key] -= 1

    def counts(self, student_key: str, activity_id: int | str) -> dict[str, int]:
        with self._lock:
            return {check: n for (student, activity, check), n in self._counts.items()
                    if student == student_key and activity == str(activity_id)}


@dataclass(frozen=True)
class SelfCheckItem:
    """One check after "Vérifier": its result (None when refused) and the attempts counted."""

    check: Check
    result: CheckResult | None
    attempts: int

    def as_json(self) -> dict[str, Any]:
        limit = self.check.max_attempts
        answer: dict[str, Any] = {"id": self.check.id, "points": self.check.points, "attempts": self.attempts,
                                  "max_attempts": limit,
                                  "attempts_left": None if limit is None else max(0, limit - self.attempts)}
        if self.result is None:
            return {**answer, "passed": False, "status": NO_ATTEMPTS_LEFT,
                    "error": "Plus d'essai pour cette vérification."}
        return {**answer, "passed": self.result.passed, "status": self.result.status, "error": self.result.error}


@dataclass(frozen=True)
class SelfCheckReport:
    """What "Vérifier" answers; every part of it may be shown to the student."""

    items: tuple[SelfCheckItem, ...]
    tampering: tuple[Tampering, ...]

    def as_json(self) -> dict[str, Any]:
        return {"checks": [item.as_json() for item in self.items],
                "tampering": [t.as_json() for t in self.tampering]}


def visible_checks(teacher: bytes | str | dict | NotebookNode) -> list[Check]:
    """The checks a student can run with "Vérifier": those with something besides hidden tests."""
    return [check for check in find_checks(as_notebook(teacher)) if check.visible_source.strip()]


def self_check(teacher: bytes | str | dict | NotebookNode, student: bytes | str | dict | NotebookNode,
               runner: Runner, store: AttemptStore, *, student_key: str, activity_id: int | str,
               only: Iterable[str] | None = None, files: Path | None = None, seed: int = 0) -> SelfCheckReport:
    """Run the visible checks (``only``: these ids; unknown ones are ignored) on ``student``'s current
    notebook, counting an attempt per check run.  Raises :class:`.RunnerError` (attempts given back)
    when no kernel could run."""
    teacher = as_notebook(teacher)
    checks = visible_checks(teacher)
    if only is not None:
        wanted = set(only)
        checks = [check for check in checks if check.id in wanted]
    taken: dict[str, int] = {}
    for check in checks:
        count = store.take(student_key, activity_id, check.id, check.max_attempts)
        if count is not None:
            taken[check.id] = count
    results: dict[str, CheckResult] = {}
    tampering: list[Tampering] = []
    if taken:
        assembly = notebook_to_grade(teacher, student, hidden_tests=False, only=taken)
        try:
            run = runner.run(assembly.notebook, files, kernel_environment(seed))
        except RunnerError:
            for check_id in taken:
                store.give_back(student_key, activity_id, check_id)
            raise
        results = {result.id: result for result in check_results(assembly, run)}
        tampering = assembly.tampering
    counts = store.counts(student_key, activity_id)
    items = tuple(SelfCheckItem(check, results.get(check.id), taken.get(check.id, counts.get(check.id, 0)))
                  for check in checks)
    return SelfCheckReport(items=items, tampering=tuple(tampering))

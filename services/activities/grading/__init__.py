"""Self-check and autograding: checks found in a teacher's notebook, re-run on a student's, a score proposed.

What the hand-in and "Vérifier" endpoints call (every notebook argument may be the stored bytes, text,
a dict or a NotebookNode; none is changed):

- :func:`student_version` ``(teacher) -> StudentVersion``: ``.notebook`` / ``.as_bytes()`` is what a
  student's copy starts from (no hidden tests, no solutions, check cells read-only); ``.changed``
  False when there was nothing to hide or protect (the master may be copied byte for byte);
  ``.manifest()`` the checks' ids, points, fingerprints (no source), for the teacher's page.
- :func:`regrade` ``(teacher, snapshot, runner, *, files, seed) -> GradeReport``: at hand-in, the
  teacher's checks with their hidden tests re-run on the snapshot in a fresh kernel.
  ``.score`` (proposed), ``.max_score``, ``.manual_points``, ``.as_json()`` for the teacher (each
  check's result and error line, deleted or changed check cells), ``.for_student()`` for the student
  (points only).
- :func:`self_check` ``(teacher, current, runner, store, *, student_key, activity_id, only, files, seed)
  -> SelfCheckReport``: "Vérifier", the visible checks only, attempts counted in ``store``;
  ``.as_json()`` may be shown to the student as is.
- :func:`seed_for` ``(student_key, activity_id) -> int``: the student's seed (in a request: the app's
  secret), to pass as ``seed=`` and to write as :data:`SEED_FILE` (:func:`seed_file_text`) into the
  copy's folder; :func:`generator` ``(seed, nom)`` recomputes what ``capytale_alea.aleatoire(nom)``
  gave them.
- :class:`Runner` (the contract); ``runners.from_settings(settings)``, the runner ``GRADING_RUNNER``
  names: :class:`~.docker_runner.DockerRunner` (a container per run; production) or :class:`LocalRunner`
  (a local process; this machine and tests); :class:`RunnerError` (a :class:`~capytale.errors.PlatformError`,
  503: no kernel could run; nothing counted).
- :class:`AttemptStore` (the contract), :class:`MemoryAttemptStore`.

``docs/architecture.md`` (Autograding) says what the student never sees and where grading runs;
``docs/autocorrection.md`` is the teachers' page.
"""
from services.activities.grading.assembly import Assembly, Tampering, notebook_to_grade
from services.activities.grading.cells import Check, ManualPart, find_checks
from services.activities.grading.regrade import CheckResult, GradeReport, regrade
from services.activities.grading.runner import CellRun, LocalRunner, Runner, RunnerError, RunResult
from services.activities.grading.seeds import SEED_FILE, SEED_VARIABLE, generator, seed_file_text, seed_for
from services.activities.grading.selfcheck import (AttemptStore, MemoryAttemptStore, SelfCheckReport, self_check,
                                                   visible_checks)
from services.activities.grading.student_version import StudentVersion, student_version

__all__ = [
    "Assembly", "AttemptStore", "CellRun", "Check", "CheckResult", "GradeReport", "LocalRunner", "ManualPart",
    "MemoryAttemptStore", "RunResult", "Runner", "RunnerError", "SEED_FILE", "SEED_VARIABLE", "SelfCheckReport",
    "StudentVersion", "Tampering", "find_checks", "generator", "notebook_to_grade", "regrade", "seed_file_text",
    "seed_for", "self_check", "student_version", "visible_checks",
]

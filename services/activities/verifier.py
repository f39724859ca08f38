""""Vérifier": a student runs the visible checks on their copy as it is saved now, attempts counted.

:func:`check` reads the student's notebook from storage (as the teacher's views read it: what their
server last saved), and runs :func:`grading.self_check` with the teacher's notebook of the master
version the copy was made from (its hidden tests left out by the library: the kernel never holds
one, so every error line may be shown), that version's annex files and the student's seed.  Attempts
are counted in the database (:class:`SqlAttemptStore`, one row per student, activity and check).

The student waits for the answer, so it runs in the request, bounded: at most ``CHECK_CONCURRENCY``
runs at once in a process (a student who waits more than :data:`TURN_WAIT` seconds for a turn is
told to try again, nothing counted), each at most ``CHECK_TIMEOUT`` seconds (under HAProxy's
120 s).  Refused, each with its French 4xx and nothing counted: a copy handed in, an activity
closed, a notebook without visible checks, every check at its limit of attempts.
"""
from __future__ import annotations

import functools
import threading
from datetime import datetime
from pathlib import Path
from typing import Any, Iterable

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from capytale.errors import PlatformError
from services.activities import autograding
from services.activities.copies import notebook_path, read_notebook, seed_of
from services.activities.evaluation import EN_COURS
from services.activities.grading import AttemptStore, Check, Runner, runners, self_check, visible_checks
from services.activities.masters import version_of
from services.activities.models import Activity, CheckAttempt, Copy, iso
from services.activities.names import inside
from services.activities.storage import Storage, modified_at
from services.activities.times import when
from services.activities.window import is_closed

TURN_WAIT = 20.0  # seconds a "Vérifier" waits for a free kernel before the student is asked to try again
TURNS = "activities.verifier.turns"


class SqlAttemptStore(AttemptStore):
    """Attempts in ``check_attempts``: ``take`` is one conditional ``UPDATE … WHERE count < limit``, atomic on
    SQLite and PostgreSQL; each call commits."""

    def __init__(self, session: Session):
        self.session = session

    def _where(self, student_key: str, activity_id: int | str, check_id: str):
        return (CheckAttempt.student_key == student_key, CheckAttempt.activity_id == int(activity_id),
                CheckAttempt.check_id == check_id)

    def take(self, student_key: str, activity_id: int | str, check_id: str, limit: int | None) -> int | None:
        row = {"student_key": student_key, "activity_id": int(activity_id), "check_id": check_id, "count": 0}
        dialect = postgresql if self.session.get_bind().dialect.name == "postgresql" else sqlite
        self.session.execute(dialect.insert(CheckAttempt).values(row).on_conflict_do_nothing())
        where = self._where(student_key, activity_id, check_id)
        if limit is not None:
            where = (*where, CheckAttempt.count < limit)
        counted = self.session.execute(update(CheckAttempt).where(*where).values(count=CheckAttempt.count + 1)
                                       .execution_options(synchronize_session=False))
        count = self.session.scalar(select(CheckAttempt.count).where(*self._where(student_key, activity_id,
                                                                                    check_id)))
        self.session.commit()
        return count if counted.rowcount == 1 else None

    def give_back(self, student_key: str, activity_id: int | str, check_id: str) -> None:
        self.session.execute(update(CheckAttempt).where(*self._where(student_key, activity_id, check_id),
                                                        CheckAttempt.count > 0)
                             .values(count=CheckAttempt.count - 1).execution_options(synchronize_session=False))
        self.session.commit()

    def counts(self, student_key: str, activity_id: int | str) -> dict[str, int]:
        rows = self.session.execute(select(CheckAttempt.check_id, CheckAttempt.count).where(
            CheckAttempt.student_key == student_key, CheckAttempt.activity_id == int(activity_id)))
        return {check_id: count for check_id, count in rows if count}


# --- what "Vérifier" runs --------------------------------------------------------------------------


def checks_of(session: Session, storage: Storage, copy: Copy) -> list[Check]:
    """The checks a student can run on ``copy`` (empty when its master cannot be read: nothing to offer)."""
    try:
        version = version_of(session, session.get(Activity, copy.activity_id), copy.version)
        path = inside(storage.master_dir(copy.activity_id, version.number), version.notebook)
        info = path.stat()
    except (PlatformError, OSError):
        return []
    return list(_visible(str(path), info.st_mtime_ns, info.st_size))


@functools.lru_cache(maxsize=256)
def _visible(path: str, _mtime_ns: int, _size: int) -> tuple[Check, ...]:
    return tuple(visible_checks(Path(path).read_bytes()))


def refusal(activity: Activity, copy: Copy, moment: datetime) -> PlatformError | None:
    """Why ``copy`` cannot be checked now, if it cannot."""
    if is_closed(activity, moment):
        return PlatformError(
            _("L'activité est fermée depuis le %(when)s (heure de Paris) : « Vérifier » n'est plus possible.",
              when=when(activity.closes_at)), log_message=f"activity {activity.id} closed: no check for {copy.uid}",
            reason="activity_ended", status=403)
    if copy.state != EN_COURS:
        return PlatformError(
            _("Ta copie est rendue : « Vérifier » n'est plus possible. Si tu dois encore y travailler, demande à ton "
              "enseignant·e de te la rendre."), log_message=f"copy {copy.id} is {copy.state}: no check",
            reason="handed_in", status=409)
    return None


def check(session: Session, storage: Storage, activity: Activity, copy: Copy, moment: datetime,
          only: Iterable[str] | None = None) -> dict[str, Any]:
    """Run "Vérifier" on ``copy`` as saved now (see the module's docstring); what the student is shown."""
    refused = refusal(activity, copy, moment)
    if refused is not None:
        raise refused
    visible = checks_of(session, storage, copy)
    if only is not None:
        wanted = set(only)
        visible = [c for c in visible if c.id in wanted]
    if not visible:
        raise PlatformError(_("Ce carnet n'a pas de vérification à lancer."),
                            log_message=f"copy {copy.id}: no visible check", reason="no_checks", status=409)
    store = SqlAttemptStore(session)
    counts = store.counts(copy.user_key, activity.id)
    if all(c.max_attempts is not None and counts.get(c.id, 0) >= c.max_attempts for c in visible):
        raise PlatformError(_("Tu as utilisé tous tes essais de « Vérifier » pour cette activité."),
                            log_message=f"copy {copy.id}: no attempt left", reason="no_attempts_left", status=429)
    content = read_notebook(storage, copy)
    saved_at = modified_at(notebook_path(storage, copy))
    master, folder = autograding.teachers_notebook(session, storage, activity, copy)
    turns = _turns(current_app._get_current_object())
    if not turns.acquire(timeout=TURN_WAIT):
        raise PlatformError(_("Beaucoup d'élèves vérifient en même temps : réessaie dans un moment."),
                            log_message="no free Vérifier turn", reason="checks_busy", status=503)
    try:
        report = self_check(master, content, runner(current_app._get_current_object()), store,
                            student_key=copy.user_key, activity_id=activity.id, only=[c.id for c in visible],
                            files=folder, seed=seed_of(copy))
    finally:
        turns.release()
    answer = report.as_json()
    ran = [item for item in answer["checks"] if item["status"] != "no_attempts_left"]
    return {**answer, "passed": sum(1 for item in ran if item["passed"]), "total": len(answer["checks"]),
            "saved_at": iso(saved_at) if saved_at else None}


def _turns(app: Flask) -> threading.BoundedSemaphore:
    found = app.extensions.get(TURNS)
    if found is None:
        found = app.extensions.setdefault(TURNS, threading.BoundedSemaphore(
            max(1, app.config["CAPYTALE"]["CHECK_CONCURRENCY"])))
    return found


def runner(app: Flask) -> Runner:
    """A test's runner, else the settings' runner with Vérifier's shorter limit."""
    given = app.extensions.get(autograding.RUNNER)
    if given is not None:
        return given
    settings = app.config["CAPYTALE"]
    made = runners.from_settings(settings)  # RunnerError (503) when the settings allow none, as for hand-ins
    made.timeout = min(settings["GRADING_TIMEOUT"], settings["CHECK_TIMEOUT"])
    return made


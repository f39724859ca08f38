"""The re-run at hand-in: each handed-in copy's checks run again on its snapshot, in the background.

- **Queued with the hand-in**: :func:`queue` writes the copy's :class:`~models.Grading` row (``queued``,
  for that snapshot's SHA-256) in the hand-in's own transaction, so a hand-in is never left without
  its grading, whatever happens to the process after.  The copy's ``score`` is emptied: it was the
  previous snapshot's.
- **Run by a bounded worker, never in the request**: :func:`submit` hands the copy to this process's
  :class:`Worker`, a pool of ``GRADING_WORKERS`` threads (1 by default: each run is a kernel, and a
  closing hands in a whole class at once; the others wait their turn).  A run first *claims* its row
  (one conditional ``UPDATE … WHERE status = 'queued'``), so two processes, or a sweep and the
  hand-in's own process, never run one copy twice.
- **What it runs**: :func:`grading.regrade` on the snapshot (its SHA-256 checked), with the teacher's
  notebook of the master version the copy was made from, that version's folder for the annex files
  and the student's seed (:func:`copies.seed_of`).  The result is stored only if the copy still has
  that snapshot: ``score``, ``max_score``, the teacher's report (``GradeReport.as_json``: each check's
  result, points and error line), the student's (``GradeReport.for_student``: points only, the only
  part a student's page or answer ever reads), the deleted or changed check cells; ``Copy.score``
  gets the proposal.  A copy of a notebook without checks is ``no_checks`` at hand-in (nothing runs),
  its score stays empty.
- **A run that found no kernel** (:class:`grading.RunnerError`) is retried once after
  ``GRADING_RETRY_DELAY`` seconds; a second failure leaves the score empty with a French note for the
  teacher, who may run it again from the copy's page.
- **The sweep** (with the closings', every ``CLOSING_INTERVAL`` seconds) hands the worker what is due:
  rows queued whose retry time has come, rows left ``running`` by a process that died (older than
  ``GRADING_TIMEOUT`` and a minute), and handed-in copies without a row (handed in before this
  existed).  Hand-in events (``copy.handed_in``) are best effort: the row is what is never lost.

What the pages and the JSON interface show of it is :mod:`gradings`.
"""
from __future__ import annotations

import functools
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

from flask import Flask, current_app
from flask_babel import gettext as _
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capytale import db
from capytale.errors import PlatformError
from services.activities import snapshots, storage as storage_module
from services.activities.copies import seed_of
from services.activities.grading import Runner, RunnerError, find_checks, regrade, runners
from services.activities.grading.reading import as_notebook
from services.activities.masters import version_of
from services.activities.models import Activity, Copy, Grading, utcnow
from services.activities.names import inside
from services.activities.pages import N_
from services.activities.storage import Storage

log = logging.getLogger("capytale.activities.autograding")

QUEUED, RUNNING, DONE, NO_CHECKS, FAILED = "queued", "running", "done", "no_checks", "failed"
MAX_TRIES = 2  # the first run and one retry
# the teacher's notes, stored in French and shown in the teacher's language (gettext of the stored text)
NO_KERNEL_NOTE = N_("La correction automatique n'a pas pu se lancer (deux essais) : il n'y a pas de score proposé. "
                    "Tu peux la relancer plus tard, ou noter cette copie toi-même.")
UNREADABLE_NOTE = N_("La correction automatique n'a pas pu lire cette copie (sa version rendue ou les fichiers de "
                     "l'activité sont introuvables ou modifiés sur le serveur) : préviens les personnes qui gèrent "
                     "la plateforme.")
UNEXPECTED_NOTE = N_("La correction automatique s'est arrêtée sur une erreur inattendue de la plateforme : il n'y a "
                     "pas de score proposé. Tu peux la relancer ; si cela recommence, préviens les personnes qui "
                     "gèrent la plateforme.")
RUNNER = "activities.grading.runner"  # a test's runner, instead of the settings' one
WORKER = "activities.grading.worker"


# --- queueing --------------------------------------------------------------------------------


def queue(session: Session, storage: Storage, copy: Copy, sha256: str) -> str:
    """Mark ``copy``'s snapshot ``sha256`` to be graded (in the caller's transaction): anything known of an
    earlier snapshot goes.  A copy of a notebook without checks is ``no_checks`` at once (no run); the
    status it is left in."""
    row = session.get(Grading, copy.id)
    if row is None:
        row = Grading(copy_id=copy.id)
        session.add(row)
    row.snapshot_sha256, row.status, row.tries, row.not_before = sha256, QUEUED, 0, None
    row.started_at = row.graded_at = row.score = row.max_score = row.report = row.student_report = None
    row.tampering, row.note = [], ""
    if _without_checks(session, storage, copy):
        row.status, row.graded_at = NO_CHECKS, utcnow()
    return row.status


def _without_checks(session: Session, storage: Storage, copy: Copy) -> bool:
    """Whether the master ``copy`` was made from surely has no check (False when it cannot be read: the run
    will say why)."""
    try:
        version = version_of(session, session.get(Activity, copy.activity_id), copy.version)
        path = inside(storage.master_dir(copy.activity_id, version.number), version.notebook)
        info = path.stat()
        return not _has_checks(str(path), info.st_mtime_ns, info.st_size)
    except (PlatformError, OSError, ValueError) as exc:
        log.warning("copy %s: its master's checks not read at hand-in: %s", copy.id, exc)
        return False


@functools.lru_cache(maxsize=256)
def _has_checks(path: str, _mtime_ns: int, _size: int) -> bool:
    """Whether the master notebook at ``path`` has checks (a master version never changes: read once)."""
    return bool(find_checks(as_notebook(Path(path).read_bytes())))


def submit(app: Flask, copy_id: int, delay: float = 0.0) -> None:
    """Have this process's worker grade ``copy_id`` (after ``delay`` seconds); nothing if it is waiting already."""
    worker(app).submit(copy_id, delay)


def regrade_again(session: Session, copy: Copy) -> None:
    """The teacher's "relancer": the copy's latest snapshot queued again, tries counted from nothing."""
    if not copy.snapshot_sha256:
        raise PlatformError(_("Cette copie n'a pas été rendue : il n'y a rien à corriger automatiquement."),
                            log_message=f"copy {copy.id}: no snapshot to regrade", reason="not_handed_in",
                            status=409)
    status = queue(session, storage_module.current(), copy, copy.snapshot_sha256)
    copy.score = None
    session.commit()
    if status == QUEUED:
        submit(current_app._get_current_object(), copy.id)


# --- the worker --------------------------------------------------------------------------------


class Worker:
    """``GRADING_WORKERS`` threads of one process grading the copies it is given, one claim at a time."""

    def __init__(self, app: Flask):
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=max(1, app.config["CAPYTALE"]["GRADING_WORKERS"]),
                                       thread_name_prefix="activities-grading")
        self.waiting: set[int] = set()
        self.lock = threading.Lock()

    def submit(self, copy_id: int, delay: float = 0.0) -> None:
        if delay > 0:
            timer = threading.Timer(delay, self.submit, args=(copy_id,))
            timer.daemon = True
            timer.start()
            return
        with self.lock:
            if copy_id in self.waiting:
                return
            self.waiting.add(copy_id)
        self.pool.submit(self._run, copy_id)

    def _run(self, copy_id: int) -> None:
        with self.lock:
            self.waiting.discard(copy_id)
        try:
            with self.app.app_context():
                grade(db.session(), storage_module.current(), copy_id, runner_of(self.app))
        except Exception:  # noqa: BLE001 - logged; the row stays claimed and the sweep takes it back later
            log.exception("grading of copy %s failed", copy_id)


def worker(app: Flask) -> Worker:
    found = app.extensions.get(WORKER)
    if found is None:
        with _made:
            found = app.extensions.setdefault(WORKER, Worker(app))
    return found


_made = threading.Lock()


def runner_of(app: Flask) -> Runner | None:
    """What runs the kernels: a test's runner, else the settings' (``GRADING_RUNNER``; None when the settings
    allow none: the run then fails as when no kernel starts)."""
    given = app.extensions.get(RUNNER)
    if given is not None:
        return given
    try:
        return runners.from_settings(app.config["CAPYTALE"])
    except RunnerError as refusal:
        log.error("no grading runner: %s", refusal.log_message)
        return None


# --- one run ---------------------------------------------------------------------------------------


def _claim(session: Session, copy_id: int) -> bool:
    """Take ``copy_id``'s row for this run: queued and due, or left running by a process that died."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["CAPYTALE"]["GRADING_TIMEOUT"] + 60)
    claimed = session.execute(
        update(Grading).where(Grading.copy_id == copy_id, or_(
            and_(Grading.status == QUEUED, or_(Grading.not_before.is_(None), Grading.not_before <= now)),
            and_(Grading.status == RUNNING, Grading.started_at < stale)))
        .values(status=RUNNING, started_at=now).execution_options(synchronize_session=False))
    session.commit()
    return claimed.rowcount == 1


def teachers_notebook(session: Session, storage: Storage, activity: Activity, copy: Copy) -> tuple[bytes, object]:
    """The master notebook ``copy`` was made from, and that version's folder (its annex files)."""
    version = version_of(session, activity, copy.version)
    folder = storage.master_dir(activity.id, version.number)
    return inside(folder, version.notebook).read_bytes(), folder


def grade(session: Session, storage: Storage, copy_id: int, runner: Runner | None) -> str | None:
    """Grade ``copy_id``'s latest snapshot if its row can be claimed; the status it ends in (None: not
    claimed, someone else has it or it is not due)."""
    if not _claim(session, copy_id):
        return None
    row, copy = session.get(Grading, copy_id), session.get(Copy, copy_id)
    session.refresh(row)
    if copy is not None:
        session.refresh(copy)
    sha = row.snapshot_sha256
    try:
        if copy is None or copy.snapshot_sha256 != sha:
            return _finish(session, copy_id, sha, status=FAILED, note=UNREADABLE_NOTE)
        activity = session.get(Activity, copy.activity_id)
        master, folder = teachers_notebook(session, storage, activity, copy)
        if not find_checks(as_notebook(master)):
            return _finish(session, copy_id, sha, status=NO_CHECKS)
        if runner is None:
            raise RunnerError("no grading runner (refused by the settings)")
        report = regrade(master, snapshots.read_snapshot(storage, copy), runner, files=folder, seed=seed_of(copy))
    except RunnerError as refusal:
        return _no_kernel(session, row, refusal)
    except (PlatformError, OSError) as refusal:  # a snapshot altered, a master missing: said, not retried
        log.error("copy %s not graded: %s", copy_id, getattr(refusal, "log_message", refusal))
        return _finish(session, copy_id, sha, status=FAILED, note=UNREADABLE_NOTE)
    except Exception:  # noqa: BLE001 - a bug: logged, and the row ends (else every sweep would run it again)
        log.exception("copy %s: grading failed", copy_id)
        session.rollback()
        return _finish(session, copy_id, sha, status=FAILED, note=UNEXPECTED_NOTE)
    log.info("copy %s graded: %s/%s in %.1f s%s", copy_id, report.score, report.max_score, report.seconds,
             f" ({report.stopped})" if report.stopped else "")
    return _finish(session, copy_id, sha, status=DONE, score=report.score, max_score=report.max_score,
                   report=report.as_json(), student_report=report.for_student(),
                   tampering=[t.as_json() for t in report.tampering])


def _no_kernel(session: Session, row: Grading, refusal: RunnerError) -> str | None:
    tries = row.tries + 1
    log.warning("copy %s: grading run %d found no kernel: %s", row.copy_id, tries, refusal.log_message)
    if tries < MAX_TRIES:
        delay = current_app.config["CAPYTALE"]["GRADING_RETRY_DELAY"]
        done = session.execute(update(Grading).where(
            Grading.copy_id == row.copy_id, Grading.snapshot_sha256 == row.snapshot_sha256,
            Grading.status == RUNNING).values(status=QUEUED, tries=tries,
                                              not_before=utcnow() + timedelta(seconds=delay)))
        session.commit()
        if done.rowcount == 1:
            submit(current_app._get_current_object(), row.copy_id, delay)
        return QUEUED
    return _finish(session, row.copy_id, row.snapshot_sha256, status=FAILED, tries=tries, note=NO_KERNEL_NOTE)


def _finish(session: Session, copy_id: int, sha: str, *, status: str, **values) -> str | None:
    """Store the end of this run, if the row is still this run's (same snapshot, running)."""
    values.setdefault("score", None)
    done = session.execute(update(Grading).where(
        Grading.copy_id == copy_id, Grading.snapshot_sha256 == sha, Grading.status == RUNNING)
        .values(status=status, graded_at=utcnow(), **values).execution_options(synchronize_session=False))
    if done.rowcount == 1:
        session.execute(update(Copy).where(Copy.id == copy_id, Copy.snapshot_sha256 == sha)
                        .values(score=values["score"]).execution_options(synchronize_session=False))
    session.commit()
    return status if done.rowcount == 1 else None


# --- the sweep ----------------------------------------------------------------------------------------


def due(session: Session) -> list[int]:
    """The copies whose grading is due: queued and due, left running too long, handed in without a row."""
    now = utcnow()
    stale = now - timedelta(seconds=current_app.config["CAPYTALE"]["GRADING_TIMEOUT"] + 60)
    missing = list(session.scalars(
        select(Copy.id).join(Activity, Activity.id == Copy.activity_id)
        .outerjoin(Grading, Grading.copy_id == Copy.id)
        .where(Copy.snapshot_sha256.is_not(None), Grading.copy_id.is_(None), Activity.deleted_at.is_(None))))
    for copy_id in missing:
        copy = session.get(Copy, copy_id)
        try:
            queue(session, storage_module.current(), copy, copy.snapshot_sha256)
            session.commit()
        except IntegrityError:  # another process's sweep made it first
            session.rollback()
    return list(session.scalars(select(Grading.copy_id).where(or_(
        and_(Grading.status == QUEUED, or_(Grading.not_before.is_(None), Grading.not_before <= now)),
        and_(Grading.status == RUNNING, Grading.started_at < stale)))))


def sweep(app: Flask) -> int:
    """Hand this process's worker every grading that is due; how many (in an app context)."""
    copies = due(db.session())
    for copy_id in copies:
        submit(app, copy_id)
    return len(copies)

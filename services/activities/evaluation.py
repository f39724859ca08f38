"""A copy's states: ``en_cours`` → ``rendue`` → ``corrigee``, and given back; what each does to the files.

- **Handed in** (by the student, by the activity's closing, or collected by the
  teacher): the student's notebook is frozen as a snapshot (:mod:`snapshots`), the
  copy becomes ``rendue``, and the student's file is made read-only: its write
  permission bits are removed, which the student's server honours (its contents
  manager refuses to save, rename or delete a file without them, even as root:
  :mod:`services.spawner.jupyter.contents`), ``copy.handed_in`` is published, and
  the checks are re-run on the snapshot in the background (:mod:`autograding`).  One conditional update decides who
  handed a copy in: a second hand-in is refused (409), and a closing racing a
  student loses quietly.
- **Corrected** (by the teacher, from ``rendue``): ``corrigee``; the feedback is
  released: the student's notebook is rebuilt from the snapshot with the teacher's
  notes as read-only cells (:func:`feedback.with_feedback`) and stays read-only.
- **Given back** (by the teacher, or by reopening an activity the closing had
  collected): ``en_cours`` again, the file writable again, with the feedback cells in
  it when there is feedback.  The snapshot stays (the last one handed in).

The student's file is only a convenience for the student: what the teacher reads and
grades is the snapshot.  The student's own code could still change the file (it is
theirs); that changes nothing the teacher sees.
"""
from __future__ import annotations

import logging
import os
import stat
from datetime import datetime
from typing import Mapping

from flask import current_app
from flask_babel import gettext as _
from sqlalchemy import update
from sqlalchemy.orm import Session

from capytale.errors import PlatformError
from capytale.files import replacing
from capytale.messaging import Topology
from services.activities import autograding, events, feedback, snapshots
from services.activities.copies import notebook_path, read_notebook
from services.activities.models import Activity, Copy, iso
from services.activities.storage import Storage
from services.activities.times import when

log = logging.getLogger("capytale.activities")

EN_COURS, RENDUE, CORRIGEE = "en_cours", "rendue", "corrigee"
STATES = (EN_COURS, RENDUE, CORRIGEE)
BY_STUDENT, BY_CLOSING, BY_TEACHER = "student", "closing", "teacher"
FEEDBACK_FIELDS = frozenset({"comment", "grade", "cells", "state"})


# --- handing in --------------------------------------------------------------------------


def already_handed_in(copy: Copy) -> PlatformError:
    return PlatformError(
        _("Ta copie est déjà rendue (le %(when)s) : elle ne peut plus être modifiée. Si tu dois encore y travailler, "
          "demande à ton enseignant·e de te la rendre.", when=when(copy.handed_in_at)),
        heading=_("Copie déjà rendue"), log_message=f"copy {copy.id} is {copy.state} already",
        reason="already_handed_in", status=409)


def hand_in(session: Session, storage: Storage, copy: Copy, by: str, moment: datetime) -> bool:
    """Freeze ``copy`` as it is on storage now and make it ``rendue``; False when someone handed it in first
    (then nothing is left of this attempt)."""
    if copy.state != EN_COURS:
        return False
    content = read_notebook(storage, copy)  # a missing or spoiled notebook is refused, as to the teacher
    snapshot = snapshots.freeze(storage, copy, content, moment)
    result = session.execute(
        update(Copy).where(Copy.id == copy.id, Copy.state == EN_COURS)
        .values(state=RENDUE, handed_in_at=moment, handed_in_by=by, snapshot=snapshot.relative,
                snapshot_sha256=snapshot.sha256, feedback_released_at=None, score=None)
        .execution_options(synchronize_session=False))
    if result.rowcount != 1:
        session.rollback()
        snapshots.discard(storage, snapshot)
        session.refresh(copy)
        return False
    grading = autograding.queue(session, storage, copy, snapshot.sha256)  # in the hand-in's transaction: never lost
    session.commit()
    session.refresh(copy)
    set_read_only(storage, copy, True)
    log.info("copy %s of activity %s handed in by %s (%s)", copy.id, copy.activity_id, by, snapshot.sha256[:12])
    settings = current_app.config["CAPYTALE"]
    events.copy_handed_in(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"]), copy.activity_id, copy.uid,
                          copy.user_key, by, snapshot.sha256)
    if grading == autograding.QUEUED:
        autograding.submit(current_app._get_current_object(), copy.id)  # re-run in the background, never here
    return True


def hand_in_as_student(session: Session, storage: Storage, copy: Copy, moment: datetime) -> Copy:
    """The student's own hand-in: 409 when the copy is handed in already (twice, or by the closing)."""
    if not hand_in(session, storage, copy, BY_STUDENT, moment):
        raise already_handed_in(copy)
    return copy


# --- the teacher's side -------------------------------------------------------------------


def not_handed_in(copy: Copy) -> PlatformError:
    return PlatformError(_("La copie de %(name)s n'a pas été rendue : elle ne peut pas encore être marquée corrigée.",
                           name=copy.name),
                         log_message=f"copy {copy.id} is {copy.state}: not corrected", reason="not_handed_in",
                         status=409)


def set_state(session: Session, storage: Storage, activity: Activity, copy: Copy, state: str,
              moment: datetime) -> bool:
    """Move ``copy`` to ``state`` as its teacher asks; False when it is there already.  ``corrigee`` needs a
    handed-in copy (409); ``rendue`` from ``en_cours`` is the teacher collecting it."""
    if state == copy.state:
        return False
    if state == CORRIGEE:
        if copy.state != RENDUE:
            raise not_handed_in(copy)
        copy.state, copy.corrected_at, copy.feedback_released_at = CORRIGEE, moment, moment
        session.commit()
        _write_feedback(storage, activity, copy, read_only=True)
    elif state == RENDUE and copy.state == EN_COURS:
        return hand_in(session, storage, copy, BY_TEACHER, moment)
    elif state == RENDUE:  # corrected no more: the feedback goes back to the teacher's side
        copy.state, copy.corrected_at, copy.feedback_released_at = RENDUE, None, None
        session.commit()
        _write_feedback(storage, activity, copy, read_only=True)
    else:
        give_back(session, storage, activity, copy, moment)
    log.info("copy %s of activity %s is now %s", copy.id, activity.id, copy.state)
    return True


def give_back(session: Session, storage: Storage, activity: Activity, copy: Copy, moment: datetime) -> None:
    """``en_cours`` again and editable again, with the teacher's feedback in the notebook when there is some."""
    if has_feedback(copy):
        copy.feedback_released_at = moment
    copy.state = EN_COURS
    session.commit()
    _write_feedback(storage, activity, copy, read_only=False)
    set_read_only(storage, copy, False)


def has_feedback(copy: Copy) -> bool:
    return bool(copy.comment or copy.grade is not None or copy.cell_notes)


def reference_notebook(storage: Storage, copy: Copy) -> bytes:
    """What the teacher reads and notes: the snapshot of a handed-in copy, else the notebook as it is now."""
    if copy.state != EN_COURS and copy.snapshot:
        return snapshots.read_snapshot(storage, copy)
    return read_notebook(storage, copy)


def save_feedback(session: Session, storage: Storage, activity: Activity, copy: Copy, body: object,
                  moment: datetime) -> Copy:
    """The teacher's ``{"comment", "grade", "cells", "state"}`` (each optional): all checked before anything
    changes, then stored; a corrected copy's notebook gets the new feedback."""
    if not isinstance(body, Mapping):
        raise PlatformError(_("La demande doit être un objet JSON."), log_message=f"feedback body {body!r:.80}",
                            reason="bad_json", status=400)
    unknown = sorted(set(body) - FEEDBACK_FIELDS)
    if unknown:
        raise PlatformError(_("Champ inconnu : « %(field)s » (les champs sont comment, grade, cells et state).",
                              field=unknown[0]), log_message=f"feedback fields {unknown}", reason="unknown_field",
                            status=400)
    comment = feedback.read_comment(body["comment"]) if "comment" in body else copy.comment
    grade = feedback.read_grade(activity, body["grade"]) if "grade" in body else copy.grade
    notes = copy.cell_notes or {}
    if "cells" in body:
        notes = feedback.read_cell_notes(body["cells"], feedback.keys_of(reference_notebook(storage, copy)))
    state = body.get("state", copy.state)
    if state not in STATES:
        raise PlatformError(_("L'état doit être « en_cours », « rendue » ou « corrigee »."),
                            log_message=f"state {state!r}", reason="bad_state", status=400)
    if state == CORRIGEE and copy.state == EN_COURS:
        raise not_handed_in(copy)
    changed = (comment, grade, notes) != (copy.comment, copy.grade, copy.cell_notes or {})
    copy.comment, copy.grade, copy.cell_notes = comment, grade, notes
    session.commit()
    if not set_state(session, storage, activity, copy, state, moment) and changed and copy.feedback_released_at:
        _write_feedback(storage, activity, copy, read_only=copy.state != EN_COURS)  # the student sees the new one
    return copy


# --- the student's file ----------------------------------------------------------------------


def set_read_only(storage: Storage, copy: Copy, read_only: bool) -> None:
    """Remove (or give back to its owner) the write permission of the student's notebook.  Never follows a
    link; a file the platform cannot change is logged and left: the snapshot is what counts."""
    try:
        descriptor = os.open(notebook_path(storage, copy), os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (PlatformError, OSError) as exc:
        log.warning("copy %s: its notebook's write permission left as it is: %s", copy.id, exc)
        return
    try:
        info = os.fstat(descriptor)
        if stat.S_ISREG(info.st_mode):
            mode = stat.S_IMODE(info.st_mode)
            os.fchmod(descriptor, mode & ~0o222 if read_only else mode | 0o200)
    except OSError as exc:
        log.warning("copy %s: could not change its notebook's write permission: %s", copy.id, exc)
    finally:
        os.close(descriptor)


def _write_feedback(storage: Storage, activity: Activity, copy: Copy, read_only: bool) -> None:
    """The student's notebook made again from the snapshot, with the feedback when it is released; nothing
    is written for a copy never handed in, nor when there is no feedback to show or to remove."""
    if not copy.snapshot:
        return
    released = copy.feedback_released_at is not None
    try:
        base = snapshots.read_snapshot(storage, copy)
        if not released and not has_feedback(copy):
            return
        grade = feedback.grade_in_french(activity, copy.grade) if released else ""
        content = feedback.with_feedback(base, grade, copy.comment if released else "",
                                         (copy.cell_notes or {}) if released else {})
        _replace_file(storage, copy, content, read_only)
    except Exception as exc:  # noqa: BLE001 - the feedback is stored; the student's file is a convenience
        log.warning("copy %s: feedback not written into the student's notebook: %r", copy.id, exc)


def _replace_file(storage: Storage, copy: Copy, content: bytes, read_only: bool) -> None:
    """Write ``content`` as the student's notebook in one step (a new file renamed over it), its owner kept."""
    path = notebook_path(storage, copy)
    info = os.lstat(path)
    mode = stat.S_IMODE(info.st_mode) | 0o444
    with replacing(path, mode=mode & ~0o222 if read_only else mode | 0o200,
                   owner=(info.st_uid, info.st_gid)) as out:  # the student's uid (docker backend)
        out.write(content)


# --- what the JSON interface says -------------------------------------------------------------


def evaluation_json(activity: Activity, copy: Copy) -> dict:
    """A copy's state and feedback, as its teacher sees them."""
    return {
        "state": copy.state, "handed_in_at": iso(copy.handed_in_at) if copy.handed_in_at else None,
        "handed_in_by": copy.handed_in_by, "sha256": copy.snapshot_sha256,
        "grade": copy.grade, "score": copy.score, "comment": copy.comment, "cells": copy.cell_notes or {},
        "corrected_at": iso(copy.corrected_at) if copy.corrected_at else None,
    }

"""What the interface shows of a copy's re-run at hand-in (:mod:`autograding`): to its teacher, everything
(each check's result and error line, the tampering, the note); to its student, only the points and
passed or not (``GradeReport.for_student``), once the feedback is released."""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from services.activities.autograding import DONE
from services.activities.models import Copy, Grading, iso


def grading_of(session: Session, copy: Copy) -> Grading | None:
    """``copy``'s grading, if it is of its latest snapshot."""
    return gradings_of(session, [copy]).get(copy.id)


def gradings_of(session: Session, copies: list[Copy]) -> dict[int, Grading]:
    """The gradings of ``copies``' latest snapshots, by copy id (one query)."""
    if not copies:
        return {}
    return of_latest_snapshots(session.scalars(select(Grading).where(Grading.copy_id.in_([c.id for c in copies]))),
                               copies)


def activity_gradings(session: Session, activity_id: int) -> list[Grading]:
    """Every grading row of the activity's copies (one query).  Read before the copies, so that a row read
    as ended comes with its copy's score: a re-run's end commits both, and a copy read first could miss
    the score its row then shows."""
    return list(session.scalars(select(Grading).join(Copy, Copy.id == Grading.copy_id)
                                .where(Copy.activity_id == activity_id)))


def of_latest_snapshots(rows, copies: list[Copy]) -> dict[int, Grading]:
    """Of ``rows``, those of ``copies``' latest snapshots, by copy id."""
    shas = {copy.id: copy.snapshot_sha256 for copy in copies}
    return {row.copy_id: row for row in rows if row.copy_id in shas and row.snapshot_sha256 == shas[row.copy_id]}


def teacher_json(row: Grading | None) -> dict:
    """The teacher's view of a copy's grading: each check, the tampering, the note."""
    if row is None:
        return {"status": None}
    report = row.report or {}
    return {"status": row.status, "sha256": row.snapshot_sha256, "score": row.score, "max_score": row.max_score,
            "graded_at": iso(row.graded_at) if row.graded_at else None, "note": _(row.note) if row.note else "",
            "checks": report.get("checks", []), "tampering": row.tampering or [],
            "manual": report.get("manual", []), "manual_points": report.get("manual_points", 0),
            "stopped": report.get("stopped", "")}


def list_json(row: Grading | None) -> dict:
    """What the copies list adds to ``score``."""
    if row is None:
        return {"autograding": None, "max_score": None, "graded_at": None}
    return {"autograding": row.status, "max_score": row.max_score,
            "graded_at": iso(row.graded_at) if row.graded_at else None}


def student_json(row: Grading | None) -> dict | None:
    """All a student is ever given of their grading: points and passed or not (never an error line)."""
    return row.student_report if row is not None and row.status == DONE else None

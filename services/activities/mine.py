"""A person's own copies, across activities: what "Mes activités" and ``GET /api/me/copies`` show.

The teacher's feedback (grade, appréciation, notes on cells, and the points of the re-run of the
checks at hand-in: ``GradeReport.for_student``, never an error line) is shown to the student
once it is released: when the copy is marked corrected, or given back with feedback
(:mod:`evaluation`).  Until then the student sees their copy's state only.  The due
closings of these activities are applied first, so a deadline passed is said at once.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from services.activities import gradings, window
from services.activities.feedback import grade_text
from services.activities.masters import share_url
from services.activities.models import Activity, Copy, iso
from services.activities.storage import Storage


@dataclass(frozen=True)
class MyCopy:
    """One of a person's copies, with what they may see of it now."""

    activity: Activity
    copy: Copy
    moment: datetime
    grading: Any = None  # the copy's Grading row; only its student's part is ever read here

    @property
    def released(self) -> bool:
        return self.copy.feedback_released_at is not None

    @property
    def hidden(self) -> bool:
        return window.is_hidden(self.activity, self.moment) and self.copy.uid != self.activity.owner_uid

    @property
    def not_open_yet(self) -> bool:
        return window.not_open_yet(self.activity, self.moment) and self.copy.uid != self.activity.owner_uid

    @property
    def autograding(self) -> dict | None:
        """The re-run's points and passed or not (``GradeReport.for_student``), once the feedback is released."""
        return gradings.student_json(self.grading) if self.released else None

    @property
    def grade(self) -> str:
        return grade_text(self.activity, self.copy.grade) if self.released else ""

    def as_json(self, public_url: str) -> dict:
        released = self.released
        return {
            "activity": {"id": self.activity.id, "title": self.activity.title, "code": self.activity.code,
                         "share_url": share_url(public_url, self.activity.code),
                         "teacher": self.activity.owner_name, **window.window_json(self.activity)},
            "state": self.copy.state,
            "handed_in_at": iso(self.copy.handed_in_at) if self.copy.handed_in_at else None,
            "hidden": self.hidden,
            "grade": self.copy.grade if released else None,
            "comment": self.copy.comment if released else None,
            "cells": (self.copy.cell_notes or {}) if released else None,
            "corrected_at": iso(self.copy.corrected_at) if released and self.copy.corrected_at else None,
            "autograding": self.autograding,
        }


def my_copies(session: Session, storage: Storage, uid: str, moment: datetime) -> list[MyCopy]:
    """``uid``'s copies of activities not deleted, the newest first, their due closings applied."""
    rows = list(session.execute(
        select(Activity, Copy).join(Copy, Copy.activity_id == Activity.id)
        .where(Copy.uid == uid, Activity.deleted_at.is_(None))
        .order_by(Copy.created_at.desc(), Copy.id.desc())))
    for activity, _copy in rows:
        window.close_if_due(session, storage, activity, moment)
    for _activity, copy in rows:
        session.refresh(copy)
    graded = gradings.gradings_of(session, [copy for _activity, copy in rows])
    return [MyCopy(activity, copy, moment, graded.get(copy.id)) for activity, copy in rows]

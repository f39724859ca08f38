"""What a request may reach: the teacher's own activity, a copy of it (flaskr's ``get_post`` pattern).

Every teacher view starts with one of these: look the thing up for the person of
this request, or stop with the platform's plain French refusal (404 for what does
not exist or was deleted, 403 for another teacher's), on a page or in JSON.
"""
from __future__ import annotations

from capytale import db
from capytale.web import current_identity
from services.activities.copies import copy_of
from services.activities.masters import find_activity
from services.activities.models import Activity, Copy


def teachers_activity(activity_id: int) -> Activity:
    """The activity ``activity_id`` of this request's teacher: 404 when unknown or deleted, 403 someone else's."""
    return find_activity(db.session(), activity_id, current_identity())


def teachers_copy(activity_id: int, uid: str) -> tuple[Activity, Copy]:
    """The copy of student ``uid`` of this request's teacher's activity (404 when that student has none)."""
    activity = teachers_activity(activity_id)
    return activity, copy_of(db.session(), activity, uid)

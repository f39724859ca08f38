"""What a request may reach: the teacher's own activity, a copy of it (flaskr's ``get_post`` pattern).

Every teacher view starts with one of these: look the thing up for the person of
this request, or stop with the platform's plain French refusal (404 for what does
not exist or was deleted, 403 for another teacher's), on a page or in JSON.  A
student's view reaches their own copy by the share code, through the activity's
time window.
"""
from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import select

from capytale import db
from capytale.errors import PlatformError
from capytale.web import current_identity
from services.activities import clock, storage, window
from services.activities.copies import activity_by_code, copy_of
from services.activities.masters import find_activity
from services.activities.models import Activity, Copy


def teachers_activity(activity_id: int) -> Activity:
    """The activity ``activity_id`` of this request's teacher: 404 when unknown or deleted, 403 someone else's."""
    return find_activity(db.session(), activity_id, current_identity())


def teachers_copy(activity_id: int, uid: str) -> tuple[Activity, Copy]:
    """The copy of student ``uid`` of this request's teacher's activity (404 when that student has none)."""
    activity = teachers_activity(activity_id)
    return activity, copy_of(db.session(), activity, uid)


def students_copy(code: str) -> tuple[Activity, Copy]:
    """This request's person's copy of the activity shared as ``code``, once its window lets them in (see
    :func:`window.admit`): 404 for an unknown code or when they have no copy, 410 for a deleted activity."""
    activity, copy = reachable_activity(code)
    if copy is None:
        raise PlatformError(_("Tu n'as pas de copie de cette activité : ouvre d'abord le lien que ton enseignant·e "
                              "t'a donné."), log_message=f"{current_identity().uid} has no copy of {activity.id}",
                            reason="no_copy", status=404)
    return activity, copy


def reachable_activity(code: str) -> tuple[Activity, Copy | None]:
    """The activity shared as ``code`` with its closing applied when due, and the person's copy if any, once
    its window lets this request's person in (403 saying when otherwise)."""
    session, person = db.session(), current_identity()
    activity = activity_by_code(session, code)
    moment = clock.now()
    window.close_if_due(session, storage.current(), activity, moment)
    copy = session.scalar(select(Copy).where(Copy.activity_id == activity.id, Copy.uid == person.uid))
    window.admit(activity, person, copy is not None, moment)
    return activity, copy

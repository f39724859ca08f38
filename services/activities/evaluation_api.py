"""The evaluation loop's JSON interface, under ``/activities/api``.

For students (their own copies only): hand in, "Vérifier", list my copies.  For the
activity's teacher: the time window and grading scale, the feedback on a copy,
a state for many copies at once.  Refusals are ``{"error", "reason"}`` with a 4xx
status, in the person's language, and change nothing.
"""
from __future__ import annotations

import logging

from flask import Blueprint, jsonify, request
from flask_babel import gettext as _

from capytale import db, web
from capytale.errors import PlatformError
from capytale.web import current_identity, login_required
from services.activities import clock, storage, verifier, window
from services.activities.access import students_copy, teachers_activity, teachers_copy
from services.activities.copies import copy_of
from services.activities.evaluation import STATES, evaluation_json, hand_in_as_student, save_feedback, set_state
from services.activities.masters import activity_json, current_version
from services.activities.mine import my_copies
from services.activities.models import iso

log = logging.getLogger("capytale.activities")

bp = Blueprint("evaluation", __name__)
MAX_BULK = 2000


def _json_body() -> object:
    body = request.get_json(silent=True)
    if body is None:
        raise PlatformError(_("La demande doit être un objet JSON (Content-Type: application/json)."),
                            log_message="body is not JSON", reason="bad_json", status=400)
    return body


# --- students -------------------------------------------------------------------------------


@bp.post("/share/<code>/hand-in")
@login_required()
def hand_in(code: str):
    """Hand in the caller's copy of the activity shared as ``code``: frozen, read-only from now on."""
    activity, copy = students_copy(code)
    hand_in_as_student(db.session(), storage.current(), copy, clock.now())
    return {"state": copy.state, "handed_in_at": iso(copy.handed_in_at), "sha256": copy.snapshot_sha256,
            "activity": {"id": activity.id, "title": activity.title, "code": activity.code}}


@bp.post("/share/<code>/check")
@login_required()
def check(code: str):
    """"Vérifier": the visible checks run on the caller's copy as saved now (``{"checks": [ids]}`` to run only
    these), each check's result and the attempts left."""
    activity, copy = students_copy(code)
    body = request.get_json(silent=True) if request.content_length else None
    only = body.get("checks") if isinstance(body, dict) else None
    if only is not None and (not isinstance(only, list) or not all(isinstance(item, str) for item in only)):
        raise PlatformError(_("« checks » doit être une liste d'identifiants de vérifications."),
                            log_message=f"check body {body!r:.120}", reason="bad_checks", status=400)
    answer = verifier.check(db.session(), storage.current(), activity, copy, clock.now(), only)
    log.info("copy %s of activity %s checked: %s/%s", copy.id, activity.id, answer["passed"], answer["total"])
    return answer


@bp.get("/me/copies")
@login_required()
def list_my_copies():
    """The caller's copies with their state, deadline and (once released) grade and appréciation."""
    mine = my_copies(db.session(), storage.current(), current_identity().uid, clock.now())
    public_url = web.settings()["PUBLIC_URL"]
    return jsonify([item.as_json(public_url) for item in mine])


# --- the activity's teacher --------------------------------------------------------------------


@bp.patch("/activities/<id:activity_id>")
@login_required("teacher")
def change_activity(activity_id: int):
    """Set the time window (``opens_at``, ``closes_at``, ``after_close``) and the ``grading`` scale."""
    activity = teachers_activity(activity_id)
    window.set_window(db.session(), storage.current(), activity, _json_body(), clock.now())
    log.info("activity %s window %s-%s %s, grading %s/%s", activity.id, activity.opens_at, activity.closes_at,
             activity.after_close, activity.grading, activity.grade_max)
    notebook = current_version(db.session(), activity).notebook
    return activity_json(activity, notebook, web.settings()["PUBLIC_URL"]) | window.window_json(activity)


@bp.put("/activities/<id:activity_id>/copies/<uid>/feedback")
@login_required("teacher")
def put_feedback(activity_id: int, uid: str):
    """The teacher's ``comment``, ``grade``, ``cells`` notes and ``state`` for one copy."""
    activity, copy = teachers_copy(activity_id, uid)
    save_feedback(db.session(), storage.current(), activity, copy, _json_body(), clock.now())
    return {"student": {"uid": copy.uid, "name": copy.name}, **evaluation_json(activity, copy)}


@bp.post("/activities/<id:activity_id>/copies/state")
@login_required("teacher")
def bulk_state(activity_id: int):
    """``{"uids": [...], "state": ...}``: give back, hand in or mark corrected many copies; each copy that cannot
    (a copy not handed in cannot be corrected) is named in ``refused``, the others are done."""
    activity = teachers_activity(activity_id)
    body = _json_body()
    uids, state = (body.get("uids"), body.get("state")) if isinstance(body, dict) else (None, None)
    if not isinstance(uids, list) or not all(isinstance(uid, str) for uid in uids) or len(uids) > MAX_BULK \
            or state not in STATES:
        raise PlatformError(_("La demande doit être {\"uids\": [identifiants des élèves], \"state\": \"en_cours\", "
                              "\"rendue\" ou \"corrigee\"}."), log_message=f"bulk body {body!r:.120}",
                            reason="bad_bulk", status=400)
    copies = [copy_of(db.session(), activity, uid) for uid in dict.fromkeys(uids)]  # 404 before any change
    return bulk(activity, copies, state)


def bulk(activity, copies, state: str) -> dict:
    """Move each of ``copies`` to ``state``: what changed, what was already there, what was refused and why."""
    changed, unchanged, refused = [], [], {}
    for copy in copies:
        try:
            done = set_state(db.session(), storage.current(), activity, copy, state, clock.now())
        except PlatformError as refusal:
            refused[copy.uid] = {"error": refusal.user_message, "reason": refusal.reason}
            continue
        (changed if done else unchanged).append(copy.uid)
    log.info("activity %s: %d copies now %s (%d already, %d refused)", activity.id, len(changed), state,
             len(unchanged), len(refused))
    return {"state": state, "changed": changed, "unchanged": unchanged, "refused": refused}

"""The JSON interface, under ``/activities/api``.

For teachers (and scripts acting for them): create an activity, list one's
activities, list the students' copies of one's activity (with their state and
grade), fetch a copy's notebook as it is on storage or as it was handed in.
The evaluation loop's calls are in :mod:`evaluation_api`.  For the router, acting for a student with the
student's own session token: ensure the student's copy of a shared activity.
"""
from __future__ import annotations

import logging

from flask import Blueprint, Response, jsonify, request
from flask_babel import gettext as _

from capytale import db, web
from capytale.errors import PlatformError
from capytale.messaging import Topology
from capytale.web import current_identity, login_required
from services.activities import autograding, clock, events, gradings, kernels, presence, storage, window
from services.activities.access import reachable_activity, teachers_activity, teachers_copy
from services.activities.copies import copies_of, ensure_copy, read_notebook
from services.activities.evaluation import evaluation_json
from services.activities.snapshots import read_snapshot
from services.activities.masters import activity_json, create_activity, owned_activities
from services.activities.uploads import read_switch, read_upload

log = logging.getLogger("capytale.activities")

bp = Blueprint("api", __name__)

NOTEBOOK_MIMETYPE = "application/x-ipynb+json"


@bp.post("/activities")
@login_required("teacher")
def create():
    """Create an activity from ``notebook``, ``title``, ``instructions``, ``protect_cells`` and ``annex`` files:
    201 with the kernel the students' copies open on (``missing`` when the environment has none), or 400
    saying why not."""
    teacher = current_identity()
    upload = read_upload(request, web.settings())
    activity = create_activity(db.session(), storage.current(), teacher, upload,
                               protect_cells=read_switch(request.form, "protect_cells"))
    log.info("%s created activity %s (%s) from %r", teacher.uid, activity.id, activity.code, upload.notebook.name)
    kernel = kernels.current().resolve(upload.notebook.metadata)
    if kernel.missing:
        log.info("activity %s asks for kernel %r, missing from the students' environment", activity.id, kernel.asked)
    answer = activity_json(activity, upload.notebook.name, web.settings()["PUBLIC_URL"])
    return answer | {"kernel": kernel.as_json()}, 201


@bp.get("/activities")
@login_required("teacher")
def list_activities():
    """The caller's activities, newest first, each with how many students have a copy."""
    public_url = web.settings()["PUBLIC_URL"]
    summaries = owned_activities(db.session(), current_identity().uid)
    return jsonify([activity_json(s.activity, s.notebook, public_url) | window.window_json(s.activity)
                    | {"copies": s.copies} for s in summaries])


@bp.get("/activities/<id:activity_id>/copies")
@login_required("teacher")
def list_copies(activity_id: int):
    """The students' copies of the caller's activity, with when each was last saved, its state and grade."""
    activity = teachers_activity(activity_id)
    rows = gradings.activity_gradings(db.session(), activity.id)  # first: see activity_gradings
    window.close_if_due(db.session(), storage.current(), activity, clock.now())
    views = copies_of(db.session(), storage.current(), activity, presence.working_now())
    graded = gradings.of_latest_snapshots(rows, [view.copy for view in views])
    return jsonify([view.as_json() | evaluation_json(activity, view.copy)
                    | gradings.list_json(graded.get(view.copy.id)) for view in views])


@bp.get("/activities/<id:activity_id>/copies/<uid>/report")
@login_required("teacher")
def copy_report(activity_id: int, uid: str):
    """The re-run of the copy's checks at hand-in, as its teacher sees it: each check's result, points and
    error line, the check cells deleted or changed, the score proposed; ``{"status": null}`` before any."""
    copy = teachers_copy(activity_id, uid)[1]
    return gradings.teacher_json(gradings.grading_of(db.session(), copy))


@bp.post("/activities/<id:activity_id>/copies/<uid>/regrade")
@login_required("teacher")
def regrade_copy(activity_id: int, uid: str):
    """Run the copy's checks again on its latest snapshot (after a failure, say): 202, in the background."""
    copy = teachers_copy(activity_id, uid)[1]
    autograding.regrade_again(db.session(), copy)
    log.info("copy %s of activity %s queued for grading again", copy.id, activity_id)
    return gradings.teacher_json(gradings.grading_of(db.session(), copy)), 202


@bp.get("/activities/<id:activity_id>/copies/<uid>/notebook")
@login_required("teacher")
def copy_notebook(activity_id: int, uid: str):
    """A student's notebook, the bytes on storage now; ``?version=handed_in``: the snapshot handed in."""
    copy = teachers_copy(activity_id, uid)[1]
    version = request.args.get("version", "current")
    if version not in ("current", "handed_in"):
        raise PlatformError(_("« version » doit être « current » ou « handed_in »."),
                            log_message=f"version {version!r}", reason="bad_version", status=400)
    content = read_snapshot(storage.current(), copy) if version == "handed_in" else read_notebook(storage.current(), copy)
    return Response(content, mimetype=NOTEBOOK_MIMETYPE, headers={"Cache-Control": "no-store"})


@bp.put("/share/<code>/copy")
@login_required()
def ensure_student_copy(code: str):
    """Ensure the caller's copy of the activity shared as ``code`` (the router calls this), once the activity's
    time window lets them in (403 saying when otherwise)."""
    student = current_identity()
    reachable_activity(code)
    ensured = ensure_copy(db.session(), storage.current(), code, student)
    if ensured.created:
        log.info("copy of activity %s made for %s in %r", ensured.activity.id, student.uid, ensured.copy.folder)
        settings = web.settings()
        events.copy_created(settings["AMQP_URL"], Topology(settings["AMQP_NAMESPACE"]),
                            ensured.activity.id, student.uid, student.key)
    return ensured.as_json()

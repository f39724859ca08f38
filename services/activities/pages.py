"""The teacher's pages, in French: my activities (with the upload form), one activity, one copy."""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Blueprint, redirect, render_template, request, url_for

from capytale import db, web
from capytale.errors import PlatformError
from capytale.web import current_identity, login_required
from services.activities import storage
from services.activities.copies import copies_of, copy_of, notebook_path, read_notebook
from services.activities.masters import create_activity, current_version, find_activity, owned_activities, share_url
from services.activities.models import as_utc
from services.activities.rendering import render_cells
from services.activities.storage import modified_at
from services.activities.uploads import read_upload

log = logging.getLogger("capytale.activities")

bp = Blueprint("pages", __name__, template_folder="templates")

try:
    TEACHERS_TIME = ZoneInfo("Europe/Paris")
except ZoneInfoNotFoundError:  # a system without time zone data: say the times are UTC
    TEACHERS_TIME = timezone.utc


@bp.app_template_filter("when")
def when(moment: datetime | None) -> str:
    """A date and time the French way (``12/03/2025 à 14:05``), in the teachers' time zone."""
    if moment is None:
        return "—"
    local = as_utc(moment).astimezone(TEACHERS_TIME)
    return local.strftime("%d/%m/%Y à %H:%M") + (" UTC" if TEACHERS_TIME is timezone.utc else "")


@bp.context_processor
def identity() -> dict:
    return {"identity": current_identity()}


@bp.route("/", methods=["GET", "POST"])
@login_required("teacher")
def index():
    """My activities, and the form that creates one (errors shown on the page)."""
    error, title, status = None, "", 200
    if request.method == "POST":
        try:
            upload = read_upload(request, web.settings())
            activity = create_activity(db.session(), storage.current(), current_identity(), upload)
            return redirect(url_for(".activity", activity_id=activity.id), 303)
        except PlatformError as refusal:
            if refusal.status >= 500:
                raise
            log.info("upload refused on the page: %s %s", refusal.reason, refusal.log_message)
            error, status = refusal.user_message, refusal.status
            title = "" if status == 413 else request.form.get("title", "")
    activities = owned_activities(db.session(), current_identity().uid)
    return render_template("activities/index.html", activities=activities, error=error, title=title), status


@bp.get("/<int:activity_id>")
@login_required("teacher")
def activity(activity_id: int):
    """One activity: its share URL, big, and the students' copies."""
    session = db.session()
    found = find_activity(session, activity_id, current_identity())
    return render_template(
        "activities/activity.html", activity=found, notebook=current_version(session, found).notebook,
        share_url=share_url(web.settings()["PUBLIC_URL"], found.code),
        copies=copies_of(session, storage.current(), found),
    )


@bp.get("/<int:activity_id>/copies/<uid>")
@login_required("teacher")
def copy(activity_id: int, uid: str):
    """A student's copy, read-only, as it is on storage now."""
    session = db.session()
    found = find_activity(session, activity_id, current_identity())
    student_copy = copy_of(session, found, uid)
    content = read_notebook(storage.current(), student_copy)
    return render_template(
        "activities/copy.html", activity=found, copy=student_copy,
        updated_at=modified_at(notebook_path(storage.current(), student_copy)),
        cells=render_cells(content.decode("utf-8", errors="replace")),
    )

"""The student's pages: "Mes activités" (every copy, its state, deadline, grade) and one activity's page,
where the checks are run ("Vérifier"), a copy is handed in and the teacher's correction is read beside
the cells."""
from __future__ import annotations

from datetime import datetime

from flask import Blueprint, redirect, render_template, request, url_for

from capytale import db, web
from capytale.errors import PlatformError
from capytale.web import current_identity, login_required
from services.activities import clock, gradings, storage, verifier
from services.activities.access import students_copy
from services.activities.evaluation import EN_COURS, hand_in_as_student
from services.activities.feedback import grade_text, number_text
from services.activities.masters import share_url
from services.activities.mine import MyCopy, my_copies
from services.activities.pages import log, refused
from services.activities.rendering import render_cells
from services.activities.snapshots import read_snapshot
from services.activities.window import is_closed

bp = Blueprint("student", __name__)


@bp.get("/me/")
@login_required()
def mine():
    """Mes activités: the person's copies, newest first."""
    copies = my_copies(db.session(), storage.current(), current_identity().uid, clock.now())
    return render_template("activities/mine.html", copies=copies)


def my_copy_page(code: str, error: str | None = None, status: int = 200, checked: dict | None = None):
    activity, copy = students_copy(code)
    moment = clock.now()
    mine = MyCopy(activity, copy, moment, gradings.grading_of(db.session(), copy))
    cells = []
    if mine.released and copy.snapshot:
        try:
            cells = render_cells(read_snapshot(storage.current(), copy).decode("utf-8", errors="replace"))
        except PlatformError as refusal:
            log.warning("copy %s: its feedback shown without its cells: %s", copy.id, refusal.log_message)
    return render_template(
        "activities/my_copy.html", mine=mine, activity=activity, copy=copy, cells=cells, error=error,
        can_hand_in=copy.state == EN_COURS, closed=is_closed(activity, moment),
        grade=grade_text(activity, copy.grade) if mine.released else "",
        notebook_url=share_url(web.settings()["PUBLIC_URL"], activity.code), handed=request.args.get("rendue"),
        number=lambda value: number_text(value, ","), checked=checked,
        saved_at=datetime.fromisoformat(checked["saved_at"]) if checked and checked.get("saved_at") else None,
        can_check=copy.state == EN_COURS and not is_closed(activity, moment)
        and bool(verifier.checks_of(db.session(), storage.current(), copy)),
    ), status


@bp.get("/me/<code>")
@login_required()
def my_copy(code: str):
    """One of my activities: its state and deadline, the hand-in button, the correction once released."""
    return my_copy_page(code)


@bp.post("/me/<code>/hand-in")
@login_required()
def hand_in(code: str):
    """"Rendre ma copie": frozen, read-only from now on."""
    activity, copy = students_copy(code)
    try:
        hand_in_as_student(db.session(), storage.current(), copy, clock.now())
    except PlatformError as refusal:
        return my_copy_page(code, *refused(refusal))
    return redirect(url_for(".my_copy", code=activity.code, rendue=1), 303)


@bp.post("/me/<code>/check")
@login_required()
def check(code: str):
    """"Vérifier": the visible checks on my copy as saved now; the result on my page, in plain French."""
    activity, copy = students_copy(code)
    try:
        checked = verifier.check(db.session(), storage.current(), activity, copy, clock.now())
    except PlatformError as refusal:
        if refusal.reason in ("grading_unavailable", "checks_busy"):  # no kernel now: said on the page too
            return my_copy_page(code, refusal.user_message, refusal.status)
        return my_copy_page(code, *refused(refusal))
    return my_copy_page(code, checked=checked)

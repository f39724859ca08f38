"""The students' copies as their teacher sees them: one copy read-only with its correction, actions on many."""
from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _, ngettext

from capytale import db
from capytale.errors import PlatformError
from capytale.web import login_required
from services.activities import autograding, clock, gradings, storage
from services.activities.access import teachers_activity, teachers_copy
from services.activities.copies import copy_of, notebook_path, seed_of
from services.activities.evaluation import CORRIGEE, EN_COURS, RENDUE, reference_notebook, save_feedback, set_state
from services.activities.feedback import LEVEL_LABELS, LEVELS, number_text
from services.activities.models import Activity, Copy
from services.activities.pages import log, refused
from services.activities.rendering import render_cells
from services.activities.storage import modified_at

bp = Blueprint("copies", __name__)

NOTE_FIELD = "note:"  # the form's field of the note on a cell: note:<cell key>
BULK_STATES = {"give_back": EN_COURS, "collect": RENDUE, "correct": CORRIGEE}


def copy_page(activity: Activity, copy: Copy, error: str | None = None, status: int = 200, form=None):
    """The copy as the teacher reads and grades it: the snapshot once handed in, else the notebook now."""
    content = reference_notebook(storage.current(), copy)
    typed = form if form is not None else {}
    notes = {key[len(NOTE_FIELD):]: value for key, value in typed.items() if key.startswith(NOTE_FIELD)} \
        if form is not None else dict(copy.cell_notes or {})
    return render_template(
        "activities/copy.html", activity=activity, copy=copy,
        updated_at=modified_at(notebook_path(storage.current(), copy)),
        cells=render_cells(content.decode("utf-8", errors="replace")),
        frozen=copy.state != EN_COURS and bool(copy.snapshot), notes=notes, error=error,
        comment=typed.get("comment", copy.comment), grade=typed.get("grade", number_text(copy.grade, ",")),
        levels=LEVEL_LABELS, by_levels=activity.grading == LEVELS, saved=request.args.get("saved"),
        seed=seed_of(copy), grading=gradings.teacher_json(gradings.grading_of(db.session(), copy)),
        number=lambda value: number_text(value, ","),
    ), status


@bp.get("/<id:activity_id>/copies/<uid>")
@login_required("teacher")
def copy(activity_id: int, uid: str):
    """A student's copy, read-only: as it was handed in, or as it is on storage now; and its correction."""
    return copy_page(*teachers_copy(activity_id, uid))


@bp.post("/<id:activity_id>/copies/<uid>")
@login_required("teacher")
def correct(activity_id: int, uid: str):
    """The correction form: appréciation, grade, notes on cells; and maybe a new state."""
    activity, student_copy = teachers_copy(activity_id, uid)
    form = request.form
    body: dict = {"comment": form.get("comment", ""), "grade": form.get("grade", ""),
                  "cells": {key[len(NOTE_FIELD):]: value for key, value in form.items() if key.startswith(NOTE_FIELD)}}
    if form.get("state"):
        body["state"] = form["state"]
    try:
        save_feedback(db.session(), storage.current(), activity, student_copy, body, clock.now())
    except PlatformError as refusal:
        return copy_page(activity, student_copy, *refused(refusal), form=form)
    log.info("copy %s of activity %s: feedback saved, %s", student_copy.id, activity.id, student_copy.state)
    return redirect(url_for(".copy", activity_id=activity.id, uid=student_copy.uid, saved=1), 303)


@bp.post("/<id:activity_id>/copies/<uid>/regrade")
@login_required("teacher")
def regrade(activity_id: int, uid: str):
    """"Relancer la correction automatique": the copy's checks run again on its latest snapshot."""
    activity, student_copy = teachers_copy(activity_id, uid)
    try:
        autograding.regrade_again(db.session(), student_copy)
    except PlatformError as refusal:
        return copy_page(activity, student_copy, *refused(refusal))
    return redirect(url_for(".copy", activity_id=activity.id, uid=student_copy.uid, _anchor="autograding"), 303)


@bp.post("/<id:activity_id>/bulk")
@login_required("teacher")
def bulk(activity_id: int):
    """The list's actions on the copies ticked: give back, collect, mark corrected; the exports go to downloads."""
    from services.activities.pages import downloads
    from services.activities.pages.teacher import activity_page

    activity = teachers_activity(activity_id)
    uids = request.form.getlist("uid")
    action = request.form.get("action", "")
    if action in downloads.BULK_EXPORTS:
        return downloads.BULK_EXPORTS[action](activity, uids)
    if action not in BULK_STATES or not uids:
        return activity_page(activity, _("Coche au moins une copie, puis choisis une action."), 400)
    copies = [copy_of(db.session(), activity, uid) for uid in dict.fromkeys(uids)]
    done, refusals = 0, []
    for student_copy in copies:
        try:
            done += set_state(db.session(), storage.current(), activity, student_copy, BULK_STATES[action],
                              clock.now())
        except PlatformError as refusal:
            refusals.append(refusal.user_message)
    log.info("activity %s: %s on %d copies, %d refused", activity.id, action, done, len(refusals))
    if refusals:
        return activity_page(activity, " ".join(refusals), 409)
    return redirect(url_for("pages.activity", activity_id=activity.id, done=action, count=done), 303)


def done_message(action: str, count: int) -> str:
    """What the list says after a bulk action."""
    if action == "give_back":
        return ngettext("%(num)s copie rendue à son élève.", "%(num)s copies rendues à leurs élèves.", count)
    if action == "collect":
        return ngettext("%(num)s copie ramassée.", "%(num)s copies ramassées.", count)
    return ngettext("%(num)s copie marquée corrigée.", "%(num)s copies marquées corrigées.", count)

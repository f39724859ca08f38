"""The teacher's pages: my activities, a new activity, one activity with its options and versions."""
from __future__ import annotations

from datetime import datetime, timezone

from flask import Blueprint, redirect, render_template, request, url_for
from flask_babel import gettext as _

from capytale import db, web
from capytale.errors import PlatformError
from capytale.web import current_identity, login_required
from services.activities import clock, kernels, presence, storage, window
from services.activities.access import teachers_activity
from services.activities.archive import delete_activity
from services.activities.copies import CopyView, copies_of
from services.activities.masters import (
    add_version, clone_activity, create_activity, current_version, owned_activities, set_options, share_url,
    versions_of,
)
from services.activities.feedback import LEVELS, POINTS, grade_text
from services.activities.models import Activity, as_utc
from services.activities.pages import log, refused
from services.activities.qrcodes import qr_svg
from services.activities.uploads import instructions_from, read_switch, read_upload, sent_form
from services.activities.workspace import notebooks_in, upload_from_space

# the templates and the script of every page of the service
bp = Blueprint("pages", __name__, template_folder="../templates", static_folder="../static")

SORTS = {
    "name": lambda view: (view.copy.name.casefold(), view.copy.uid),
    "class": lambda view: (view.copy.class_name.casefold(), view.copy.name.casefold()),
    "opened": lambda view: as_utc(view.copy.created_at),
    "saved": lambda view: view.updated_at or datetime.min.replace(tzinfo=timezone.utc),
    "working": lambda view: (not view.working, view.copy.name.casefold()),
    "version": lambda view: (view.copy.version, view.copy.name.casefold()),
    "state": lambda view: (("en_cours", "rendue", "corrigee").index(view.copy.state), view.copy.name.casefold()),
}


# --- my activities ------------------------------------------------------------------------


@bp.get("/")
@login_required()
def index():
    """My activities (a student is shown the way to theirs)."""
    if current_identity().role != "teacher":
        raise PlatformError(_("Cette page est réservée aux enseignants."), reason="wrong_role", status=403,
                            log_message=f"{current_identity().uid} ({current_identity().role}) refused a teacher page",
                            link=url_for("student.mine"), link_label=_("Mes activités"))
    activities = owned_activities(db.session(), current_identity().uid)
    return render_template("activities/index.html", activities=activities)


@bp.route("/new", methods=["GET", "POST"])
@login_required("teacher")
def new():
    """A new activity: a notebook sent from the computer, or taken from "Mon espace Jupyter"."""
    teacher, settings = current_identity(), web.settings()
    space = storage.current().user_dir(teacher.key)
    error, status, form = None, 200, {}
    if request.method == "POST":
        try:
            form = sent_form(request, settings)[1]
            if form.get("source") == "space":
                upload = upload_from_space(
                    space, form.get("space_notebook", ""), form.get("title", ""), form.get("instructions", ""),
                    read_switch(form, "with_folder"), settings["MAX_NOTEBOOK_MB"] * 1024 * 1024,
                    settings["MAX_UPLOAD_MB"] * 1024 * 1024)
            else:
                upload = read_upload(request, settings)
            try:
                activity = create_activity(db.session(), storage.current(), teacher, upload,
                                           protect_cells=read_switch(form, "protect_cells"))
            finally:
                for _name, annex in upload.annexes:
                    annex.close()
            log.info("%s created activity %s (%s)", teacher.uid, activity.id, activity.code)
            return redirect(url_for(".activity", activity_id=activity.id, created=1), 303)
        except PlatformError as refusal:
            error, status = refused(refusal)
    shown = {} if status == 413 else form  # a refused upload keeps what was typed, except after a too big one
    return render_template("activities/new.html", error=error, form=shown, space_notebooks=notebooks_in(space),
                           max_upload_mb=settings["MAX_UPLOAD_MB"]), status


# --- one activity ---------------------------------------------------------------------------


def _sorted_copies(views: list[CopyView]) -> tuple[list[CopyView], dict]:
    """The copies as the page's sort and class filter ask; and what the page needs to show them."""
    classes = sorted({view.copy.class_name for view in views if view.copy.class_name}, key=str.casefold)
    chosen = request.args.get("class", "")
    shown = [view for view in views if not chosen or view.copy.class_name == chosen]
    sort = request.args.get("sort", "name")
    sort = sort if sort in SORTS else "name"
    descending = request.args.get("order") == "desc"
    shown.sort(key=SORTS[sort], reverse=descending)
    return shown, {"classes": classes, "chosen": chosen, "sort": sort, "descending": descending}


def activity_page(activity: Activity, error: str | None = None, status: int = 200, form=None):
    """The activity's page, with ``error`` said on it when a form of the page was refused (``form``: what the
    window's form held, kept)."""
    from services.activities.pages.copies import done_message

    session = db.session()
    window.close_if_due(session, storage.current(), activity, clock.now())
    views = copies_of(session, storage.current(), activity, presence.working_now())
    shown, listing = _sorted_copies(views)
    url = share_url(web.settings()["PUBLIC_URL"], activity.code)
    version = current_version(session, activity)
    kernel = kernels.kernel_of_master(storage.current(), version)
    return render_template(
        "activities/activity.html", activity=activity, version=version, kernel=kernel,
        versions=versions_of(session, activity), share_url=url, qr=qr_svg(url, _("Code QR du lien de l'activité")),
        copies=shown, total=len(views), working=sum(view.working for view in views), listing=listing,
        error=error, created=request.args.get("created") == "1", form=form,
        grade_of=lambda copy: grade_text(activity, copy.grade),
        done=done_message(request.args["done"], request.args.get("count", 0, type=int))
        if request.args.get("done") in ("give_back", "collect", "correct") else None,
    ), status


@bp.get("/<id:activity_id>")
@login_required("teacher")
def activity(activity_id: int):
    """One activity: how to share it, its options, the students' copies."""
    return activity_page(teachers_activity(activity_id))


@bp.get("/<id:activity_id>/project")
@login_required("teacher")
def project(activity_id: int):
    """The share link as big as a projector needs: QR code, short code, address."""
    found = teachers_activity(activity_id)
    url = share_url(web.settings()["PUBLIC_URL"], found.code)
    return render_template("activities/project.html", activity=found, share_url=url,
                           qr=qr_svg(url, _("Code QR du lien de l'activité")))


@bp.post("/<id:activity_id>/options")
@login_required("teacher")
def options(activity_id: int):
    """Open or close the distribution, protect the teacher's cells, change the instructions."""
    found = teachers_activity(activity_id)
    form = request.form
    try:
        set_options(db.session(), found, is_open=read_switch(form, "is_open", found.is_open),
                    protect_cells=read_switch(form, "protect_cells", found.protect_cells),
                    instructions=instructions_from(form["instructions"]) if "instructions" in form else None)
    except PlatformError as refusal:
        return activity_page(found, *refused(refusal))
    log.info("activity %s options: open=%s protect=%s", found.id, found.is_open, found.protect_cells)
    return redirect(url_for(".activity", activity_id=found.id), 303)


@bp.post("/<id:activity_id>/window")
@login_required("teacher")
def window_form(activity_id: int):
    """The calendar (opening, closing, what the closing does) and the grading scale, in Paris time."""
    found = teachers_activity(activity_id)
    form = request.form
    body = {"opens_at": form.get("opens_at", ""), "closes_at": form.get("closes_at", ""),
            "after_close": form.get("after_close", found.after_close)}
    scheme = form.get("grading", found.grading)
    max_text = form.get("grade_max", "").strip()
    body["grading"] = {"scheme": scheme} if scheme == LEVELS else \
        {"scheme": POINTS, "max": int(max_text) if max_text.isdigit() else max_text or found.grade_max}
    try:
        window.set_window(db.session(), storage.current(), found, body, clock.now())
    except PlatformError as refusal:
        return activity_page(found, *refused(refusal), form=form)
    log.info("activity %s window %s-%s %s, grading %s/%s", found.id, found.opens_at, found.closes_at,
             found.after_close, found.grading, found.grade_max)
    return redirect(url_for(".activity", activity_id=found.id), 303)


@bp.post("/<id:activity_id>/versions")
@login_required("teacher")
def new_version(activity_id: int):
    """A new version of the master: for the students who come from now on."""
    found = teachers_activity(activity_id)
    try:
        version = add_version(db.session(), storage.current(), found, read_upload(request, web.settings()))
    except PlatformError as refusal:
        return activity_page(found, *refused(refusal))
    log.info("activity %s: version %s from %r", found.id, version.number, version.notebook)
    return redirect(url_for(".activity", activity_id=found.id), 303)


@bp.post("/<id:activity_id>/clone")
@login_required("teacher")
def clone(activity_id: int):
    """A new activity from this one's current version: new link, no copies."""
    found = teachers_activity(activity_id)
    made = clone_activity(db.session(), storage.current(), found, current_identity())
    log.info("activity %s cloned as %s", found.id, made.id)
    return redirect(url_for(".activity", activity_id=made.id, created=1), 303)


@bp.route("/<id:activity_id>/delete", methods=["GET", "POST"])
@login_required("teacher")
def delete(activity_id: int):
    """Ask, then delete: the students keep their copies, an archive of everything is kept."""
    found = teachers_activity(activity_id)
    if request.method == "GET" or request.form.get("confirm", "").strip().lower() != found.code:
        copies = len(copies_of(db.session(), storage.current(), found))
        mistyped = request.method == "POST"
        return render_template("activities/delete.html", activity=found, copies=copies,
                               mistyped=mistyped), 400 if mistyped else 200
    delete_activity(db.session(), storage.current(), found)
    return redirect(url_for(".index", deleted=found.title), 303)

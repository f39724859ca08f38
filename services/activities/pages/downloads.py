"""What a teacher takes away: every copy as a ZIP, the list of copies as CSV; the grades as CSV and the
handed-in copies with their feedback as a ZIP (all, or the copies ticked in the list)."""
from __future__ import annotations

import tempfile

from flask import Blueprint, Response, send_file
from flask_babel import gettext as _

from capytale import db
from capytale.errors import PlatformError
from capytale.web import login_required
from services.activities import clock, presence, storage, window
from services.activities.access import teachers_activity
from services.activities.copies import CopyView, copies_of
from services.activities.exports import (
    SPOOL_BYTES, copies_csv, copies_zip, download_name, grades_csv, write_handed_in_zip,
)
from services.activities.feedback import LEVELS, grade_text, number_text
from services.activities.models import Activity
from services.activities.pages import N_, attachment, log
from services.activities.snapshots import read_snapshot
from services.activities.times import when

bp = Blueprint("downloads", __name__)

CSV_HEADERS = (N_("Élève"), N_("Identifiant"), N_("Classe"), N_("Première ouverture"), N_("Dernier enregistrement"),
               N_("Version"), N_("En ce moment"))


@bp.get("/<id:activity_id>/copies.zip")
@login_required("teacher")
def copies_zip_download(activity_id: int):
    """Every copy, one folder per student."""
    found = teachers_activity(activity_id)
    views = copies_of(db.session(), storage.current(), found)
    return send_file(copies_zip(storage.current(), views), mimetype="application/zip", as_attachment=True,
                     download_name=download_name(found, " - copies.zip"), max_age=0)


@bp.get("/<id:activity_id>/copies.csv")
@login_required("teacher")
def copies_csv_download(activity_id: int):
    """The list of copies, for a spreadsheet."""
    found = teachers_activity(activity_id)
    views = copies_of(db.session(), storage.current(), found, presence.working_now())
    text = copies_csv(views, [_(header) for header in CSV_HEADERS], _("oui"), _("non"))
    return csv_response(text, download_name(found, " - copies.csv"))


def csv_response(text: str, name: str) -> Response:
    """``text`` as a CSV download a French spreadsheet opens: UTF-8 with a byte-order mark."""
    return Response("\ufeff" + text, mimetype="text/csv; charset=utf-8",
                    headers={"Content-Disposition": attachment(name), "Cache-Control": "no-store"})


STATE_NAMES = {"en_cours": N_("pas encore rendue"), "rendue": N_("rendue"), "corrigee": N_("corrigée")}
GRADES_HEADERS = (N_("Élève"), N_("Identifiant"), N_("Classe"), N_("État"), N_("Rendue le"), N_("Note"),
                  N_("Score proposé"), N_("Appréciation"))


def _chosen(activity: Activity, uids: list[str] | None) -> list[CopyView]:
    """The activity's copies (its due closing applied), or only those of ``uids``."""
    window.close_if_due(db.session(), storage.current(), activity, clock.now())
    views = copies_of(db.session(), storage.current(), activity)
    return views if uids is None else [view for view in views if view.copy.uid in set(uids)]


def _grades_text(activity: Activity, views: list[CopyView]) -> str:
    headers = [_(header) for header in GRADES_HEADERS]
    if activity.grading != LEVELS:
        headers[5] = _("Note (sur %(max)s)", max=activity.grade_max)
    rows = [[view.copy.name, view.copy.uid, view.copy.class_name, _(STATE_NAMES[view.copy.state]),
             when(view.copy.handed_in_at) if view.copy.handed_in_at else "", number_text(view.copy.grade),
             number_text(view.copy.score), view.copy.comment] for view in views]
    return grades_csv(rows, headers)


def grades_download(activity: Activity, uids: list[str] | None = None) -> Response:
    return csv_response(_grades_text(activity, _chosen(activity, uids)), download_name(activity, " - notes.csv"))


def handed_in_download(activity: Activity, uids: list[str] | None = None):
    """The handed-in copies, as frozen, each with its feedback; the grades CSV beside them."""
    views = [view for view in _chosen(activity, uids) if view.copy.snapshot]
    items = []
    for view in views:
        try:
            items.append((view, read_snapshot(storage.current(), view.copy), _correction(activity, view)))
        except PlatformError as refusal:  # one snapshot lost leaves the others downloadable
            log.error("ZIP of activity %s: %s", activity.id, refusal.log_message)
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    write_handed_in_zip(items, spool, listing=_grades_text(activity, [item[0] for item in items]))
    spool.seek(0)
    return send_file(spool, mimetype="application/zip", as_attachment=True,
                     download_name=download_name(activity, " - copies rendues.zip"), max_age=0)


def _correction(activity: Activity, view: CopyView) -> str:
    """The feedback of one copy, as a short markdown file."""
    copy = view.copy
    lines = [f"# {copy.name} — {activity.title}", "",
             _("Rendue le %(when)s", when=when(copy.handed_in_at)) + f" · {_(STATE_NAMES[copy.state])}", ""]
    if copy.grade is not None:
        lines += [_("Note : %(grade)s", grade=grade_text(activity, copy.grade)), ""]
    if copy.comment:
        lines += [_("Appréciation :"), "", copy.comment, ""]
    for key, note in (copy.cell_notes or {}).items():
        lines += [_("Cellule %(cell)s : %(note)s", cell=key, note=note), ""]
    lines.append(f"SHA-256 : {copy.snapshot_sha256}")
    return "\n".join(lines) + "\n"


@bp.get("/<id:activity_id>/notes.csv")
@login_required("teacher")
def grades_csv_download(activity_id: int):
    """Names, states, grades and appréciations, for a French spreadsheet."""
    return grades_download(teachers_activity(activity_id))


@bp.get("/<id:activity_id>/copies-rendues.zip")
@login_required("teacher")
def handed_in_zip_download(activity_id: int):
    """The handed-in copies as they were frozen, with their feedback."""
    return handed_in_download(teachers_activity(activity_id))


BULK_EXPORTS = {"export_csv": grades_download, "export_zip": handed_in_download}  # the list's ticked copies

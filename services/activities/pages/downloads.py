"""What a teacher takes away: every copy as a ZIP, the list of copies as CSV."""
from __future__ import annotations

from flask import Blueprint, Response, send_file
from flask_babel import gettext as _

from capytale import db
from capytale.web import login_required
from services.activities import presence, storage
from services.activities.access import teachers_activity
from services.activities.copies import copies_of
from services.activities.exports import copies_csv, copies_zip, download_name
from services.activities.pages import N_, attachment

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

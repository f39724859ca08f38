"""Deleting an activity: nothing a student wrote is destroyed, and an archive is kept.

Deleting hides the activity from its teacher and stops its share link (students
are told it was deleted); the rows stay (``deleted_at`` is set), the master
versions stay on storage, the students' copies stay in their own spaces where
they can still open them, and a ZIP of everything (master, every copy, the list)
is written to ``<data root>/archive/`` first: if that fails (a full disk: 507), nothing is
deleted and no partial archive is left.
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from capytale.files import replacing
from services.activities.copies import copies_of
from services.activities.exports import copies_csv, write_copies_zip
from services.activities.masters import current_version
from services.activities.models import Activity, utcnow
from services.activities.storage import Storage, refused_when_full

log = logging.getLogger("capytale.activities")

ARCHIVE_HEADERS = ["name", "uid", "class", "first_opened", "last_saved", "version", "working"]


def archive_path(storage: Storage, activity: Activity, moment: datetime) -> Path:
    return storage.root / "archive" / f"{activity.id}-{activity.code}-{moment:%Y%m%d-%H%M%S}.zip"


def delete_activity(session: Session, storage: Storage, activity: Activity) -> Path:
    """Archive ``activity`` (master and copies), then mark it deleted; the archive's path."""
    moment = utcnow()
    views = copies_of(session, storage, activity)
    version = current_version(session, activity)
    target = archive_path(storage, activity, moment)
    target.parent.mkdir(parents=True, exist_ok=True)
    with refused_when_full(_("Le stockage de la plateforme est plein : l'archive de l'activité n'a pas pu être "
                             "écrite, donc rien n'a été supprimé. Réessaie plus tard."),
                           f"archiving activity {activity.id}"):
        with replacing(target) as out:
            write_copies_zip(storage, views, out,
                             master=(storage.master_dir(activity.id, version.number), f"_master v{version.number}"),
                             listing=copies_csv(views, ARCHIVE_HEADERS, "yes", "no"))
    activity.deleted_at = moment
    session.commit()
    log.info("activity %s (%s) deleted by its owner; %d copies archived in %s", activity.id, activity.code,
             len(views), target)
    return target

"""Activities and their master files: create one, add a version, clone, change options, find one's own.

A master version is stored in one piece or not at all: its files are written in
a staging folder, its rows added, the folder renamed to ``masters/<id>/<n>/``,
and only then is the transaction committed; any failure removes what was
written (a full disk is then said to the teacher: 507, ``disk_full``).  Students
who already have a copy keep it whatever happens to the master; a new version
only reaches the students who come after it.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capytale.errors import PlatformError
from capytale.tokens import Identity
from services.activities.codes import new_code
from services.activities.models import Activity, Copy, MasterVersion, iso
from services.activities.storage import Storage, refused_when_full
from services.activities.uploads import Upload


def create_activity(session: Session, storage: Storage, owner: Identity, upload: Upload,
                    protect_cells: bool = False) -> Activity:
    """Store ``upload`` as version 1 of a new activity owned by ``owner`` (open to students)."""
    activity = Activity(code=_unused_code(session), title=upload.title, owner_uid=owner.uid, owner_name=owner.name,
                        current_version=1, instructions=upload.instructions, protect_cells=protect_cells,
                        is_open=True)
    return _store_version(session, storage, activity, 1, upload.notebook.name, upload.names,
                          lambda staged: _write_files(storage, staged, upload))


def add_version(session: Session, storage: Storage, activity: Activity, upload: Upload) -> MasterVersion:
    """Store ``upload`` as the next version of ``activity``: the one new students get from now on."""
    number = activity.current_version + 1
    _store_version(session, storage, activity, number, upload.notebook.name, upload.names,
                   lambda staged: _write_files(storage, staged, upload))
    return current_version(session, activity)


def clone_activity(session: Session, storage: Storage, source: Activity, owner: Identity) -> Activity:
    """A new activity (new code, no copies) from the current version of ``source``, with its options."""
    version = current_version(session, source)
    clone = Activity(code=_unused_code(session), title=_clone_title(source.title), owner_uid=owner.uid,
                     owner_name=owner.name, current_version=1, instructions=source.instructions,
                     protect_cells=source.protect_cells, is_open=True, cloned_from=source.id)
    master = storage.master_dir(source.id, version.number)
    return _store_version(session, storage, clone, 1, version.notebook, list(version.files),
                          lambda staged: storage.copy_missing(master, version.files, staged))


def _clone_title(title: str) -> str:
    return f"{title} (copie)"[:200]


def _store_version(session: Session, storage: Storage, activity: Activity, number: int, notebook: str,
                   files: list[str], write: Callable[[Path], None]) -> Activity:
    """Write a master version with ``write`` into staging, record it, publish it, commit: all or nothing
    (a full disk too: a 507 once the staged files are gone and the rows rolled back)."""
    published = False
    with refused_when_full(_("Le stockage de la plateforme est plein : rien n'a été enregistré. Réessaie plus "
                             "tard ; si cela dure, préviens les personnes qui gèrent la plateforme."),
                           f"storing version {number} of {activity.title!r}"):
        try:
            with storage.staging() as staged:
                write(staged)
                session.add(activity)
                session.flush()
                session.add(MasterVersion(activity_id=activity.id, number=number, notebook=notebook, files=files))
                activity.current_version = number
                session.flush()
                storage.publish(staged, activity.id, number)
                published = True
                session.commit()
        except BaseException:
            session.rollback()
            if published:
                storage.remove_version(activity.id, number)
            raise
    return activity


def _write_files(storage: Storage, staged: Path, upload: Upload) -> None:
    storage.new_file(staged, upload.notebook.name).write_bytes(upload.notebook.content)
    for name, annex in upload.annexes:
        annex.save(storage.new_file(staged, name))


def set_options(session: Session, activity: Activity, *, is_open: bool | None = None,
                protect_cells: bool | None = None, instructions: str | None = None) -> None:
    """Change what is given; ``protect_cells`` and the instructions reach the copies made from now on."""
    if is_open is not None:
        activity.is_open = is_open
    if protect_cells is not None:
        activity.protect_cells = protect_cells
    if instructions is not None:
        activity.instructions = instructions
    session.commit()


def _unused_code(session: Session) -> str:
    while True:
        code = new_code()
        if session.scalar(select(Activity.id).where(Activity.code == code)) is None:
            return code


def find_activity(session: Session, activity_id: int, identity: Identity) -> Activity:
    """The activity ``activity_id`` if ``identity`` owns it: 404 when unknown, 403 for anyone else."""
    activity = session.get(Activity, activity_id)
    if activity is None or activity.deleted_at is not None:
        raise PlatformError(_("Cette activité n'existe pas (ou plus)."), log_message=f"no activity {activity_id}",
                            reason="unknown_activity", status=404)
    if activity.owner_uid != identity.uid:
        raise PlatformError(_("Cette activité appartient à un·e autre enseignant·e : tu ne peux pas voir ses copies."),
                            log_message=f"{identity.uid} is not the owner of activity {activity_id}",
                            reason="not_owner", status=403)
    return activity


def current_version(session: Session, activity: Activity) -> MasterVersion:
    return version_of(session, activity, activity.current_version)


def version_of(session: Session, activity: Activity, number: int) -> MasterVersion:
    version = session.get(MasterVersion, (activity.id, number))
    if version is None:
        raise PlatformError(_("Les fichiers de cette activité sont introuvables."),
                            log_message=f"activity {activity.id} has no version {number}",
                            reason="missing_version", status=500)
    return version


@dataclass(frozen=True)
class ActivitySummary:
    """An activity as the teacher's list shows it."""

    activity: Activity
    notebook: str
    copies: int


def owned_activities(session: Session, owner_uid: str) -> list[ActivitySummary]:
    """The teacher's activities, newest first, with their notebook and how many students have a copy."""
    copies = (select(Copy.activity_id, func.count().label("copies")).group_by(Copy.activity_id).subquery())
    rows = session.execute(
        select(Activity, MasterVersion.notebook, func.coalesce(copies.c.copies, 0))
        .join(MasterVersion, (MasterVersion.activity_id == Activity.id)
              & (MasterVersion.number == Activity.current_version))
        .outerjoin(copies, copies.c.activity_id == Activity.id)
        .where(Activity.owner_uid == owner_uid, Activity.deleted_at.is_(None))
        .order_by(Activity.created_at.desc(), Activity.id.desc())
    )
    return [ActivitySummary(activity, notebook, count) for activity, notebook, count in rows]


def share_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/s/{code}"


def versions_of(session: Session, activity: Activity) -> list[MasterVersion]:
    """Every master version of ``activity``, newest first."""
    return list(session.scalars(select(MasterVersion).where(MasterVersion.activity_id == activity.id)
                                .order_by(MasterVersion.number.desc())))


def activity_json(activity: Activity, notebook: str, public_url: str) -> dict:
    """The JSON interface's view of an activity."""
    return {"id": activity.id, "code": activity.code, "share_url": share_url(public_url, activity.code),
            "title": activity.title, "notebook": notebook, "created_at": iso(activity.created_at),
            "version": activity.current_version, "open": activity.is_open, "protect_cells": activity.protect_cells,
            "instructions": activity.instructions}

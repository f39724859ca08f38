"""Activities and their master files: creating one from an upload, finding the teacher's own.

An activity is created in one piece or not at all: its files are written in a
staging folder, its rows added, the folder renamed to ``masters/<id>/1/``, and
only then is the transaction committed; any failure removes what was written.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from capytale.errors import PlatformError
from capytale.tokens import Identity
from services.activities.codes import new_code
from services.activities.models import Activity, Copy, MasterVersion, iso
from services.activities.storage import Storage
from services.activities.uploads import Upload


def create_activity(session: Session, storage: Storage, owner: Identity, upload: Upload) -> Activity:
    """Store ``upload`` as version 1 of a new activity owned by ``owner``."""
    published: int | None = None
    try:
        with storage.staging() as staged:
            _write_files(storage, staged, upload)
            activity = Activity(code=_unused_code(session), title=upload.title, owner_uid=owner.uid,
                                owner_name=owner.name, current_version=1)
            session.add(activity)
            session.flush()
            session.add(MasterVersion(activity_id=activity.id, number=1, notebook=upload.notebook.name,
                                      files=upload.names))
            session.flush()
            storage.publish(staged, activity.id, 1)
            published = activity.id
            session.commit()
    except BaseException:
        session.rollback()
        if published is not None:
            storage.remove_activity(published)
        raise
    return activity


def _write_files(storage: Storage, staged: Path, upload: Upload) -> None:
    storage.new_file(staged, upload.notebook.name).write_bytes(upload.notebook.content)
    for name, annex in upload.annexes:
        annex.save(storage.new_file(staged, name))


def _unused_code(session: Session) -> str:
    while True:
        code = new_code()
        if session.scalar(select(Activity.id).where(Activity.code == code)) is None:
            return code


def find_activity(session: Session, activity_id: int, identity: Identity) -> Activity:
    """The activity ``activity_id`` if ``identity`` owns it: 404 when unknown, 403 for anyone else."""
    activity = session.get(Activity, activity_id)
    if activity is None:
        raise PlatformError("Cette activité n'existe pas (ou plus).", log_message=f"no activity {activity_id}",
                            reason="unknown_activity", status=404)
    if activity.owner_uid != identity.uid:
        raise PlatformError("Cette activité appartient à un·e autre enseignant·e : tu ne peux pas voir ses copies.",
                            log_message=f"{identity.uid} is not the owner of activity {activity_id}",
                            reason="not_owner", status=403)
    return activity


def current_version(session: Session, activity: Activity) -> MasterVersion:
    version = session.get(MasterVersion, (activity.id, activity.current_version))
    if version is None:
        raise PlatformError("Les fichiers de cette activité sont introuvables.",
                            log_message=f"activity {activity.id} has no version {activity.current_version}",
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
        .where(Activity.owner_uid == owner_uid)
        .order_by(Activity.created_at.desc(), Activity.id.desc())
    )
    return [ActivitySummary(activity, notebook, count) for activity, notebook, count in rows]


def share_url(public_url: str, code: str) -> str:
    return f"{public_url.rstrip('/')}/s/{code}"


def activity_json(activity: Activity, notebook: str, public_url: str) -> dict:
    """The JSON interface's view of an activity."""
    return {"id": activity.id, "code": activity.code, "share_url": share_url(public_url, activity.code),
            "title": activity.title, "notebook": notebook, "created_at": iso(activity.created_at)}

"""Students' copies: made on the first visit, never touched again, read by the activity's owner.

:func:`ensure_copy` is idempotent and safe when one student sends two requests
at once: the files are copied without replacing any (see :mod:`storage`), and
the unique (activity, student) row decides which request made the copy.  A
later call, even after the master changed, changes nothing on disk.

The student's notebook is made from the teacher's master by :func:`student_notebook`: first the
student version of the autograding (:func:`grading.student_version`: no hidden test, no solution,
the check cells read-only), then the instructions, protections and kernel (:mod:`protection`).  What
the grading needs of the teacher's checks (their hidden tests, fingerprints, points) is never
stored anywhere else: it is recomputed, when a copy is graded or checked, from the master version
that copy was made from (``masters/<id>/<copy.version>/``, which never changes).

Each copy's folder also gets the student's seed file (:data:`grading.SEED_FILE`, ``.capytale-graine``),
which ``capytale_alea`` reads in the student's kernel (whose working folder is the activity's): their
random values in this activity.  It is the platform's file, not the student's work: a later visit puts
it back when it is missing (a student who edits it changes only what they see: grading runs with the
seed computed here, :func:`seed_of`).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from capytale.errors import PlatformError
from capytale.tokens import Identity
from services.activities import kernels
from services.activities.grading import SEED_FILE, seed_file_text, seed_for, student_version
from services.activities.masters import current_version
from services.activities.models import Activity, Copy, iso
from services.activities.names import folder_name, inside
from services.activities.protection import prepared_copy
from services.activities.storage import Storage, modified_at, refused_when_full

log = logging.getLogger("capytale.activities")


@dataclass(frozen=True)
class EnsuredCopy:
    """A student's copy and whether this call made it."""

    activity: Activity
    copy: Copy
    created: bool

    def as_json(self) -> dict:
        """The answer to the router: where the notebook is, relative to the student's root."""
        return {
            "activity": {"id": self.activity.id, "title": self.activity.title, "code": self.activity.code},
            "copy": {"folder": self.copy.folder, "notebook": self.copy.notebook,
                     "path": f"{self.copy.folder}/{self.copy.notebook}", "created": self.created},
        }


def activity_by_code(session: Session, code: str) -> Activity:
    activity = session.scalar(select(Activity).where(Activity.code == code.strip().lower()))
    if activity is None:
        raise PlatformError(_("Ce lien d'activité n'existe pas. Vérifie-le auprès de ton enseignant·e."),
                            log_message=f"unknown share code {code!r}", reason="unknown_code", status=404)
    if activity.deleted_at is not None:
        raise PlatformError(_("Cette activité a été supprimée par ton enseignant·e. Si tu en avais une copie, elle "
                              "est toujours dans ton espace."), heading=_("Activité supprimée"),
                            log_message=f"share code {code!r} of deleted activity {activity.id}",
                            reason="activity_deleted", status=410)
    return activity


def _copy_of(session: Session, activity_id: int, uid: str) -> Copy | None:
    return session.scalar(select(Copy).where(Copy.activity_id == activity_id, Copy.uid == uid))


def ensure_copy(session: Session, storage: Storage, code: str, student: Identity) -> EnsuredCopy:
    """The copy of the activity shared as ``code`` for ``student``, made now if it does not exist."""
    activity = activity_by_code(session, code)
    existing = _copy_of(session, activity.id, student.uid)
    if existing is not None:
        _restore_seed_file(storage, existing)
        return EnsuredCopy(activity, existing, created=False)
    if not activity.is_open:
        raise PlatformError(_("Cette activité est fermée : ton enseignant·e ne la distribue plus pour le moment. "
                              "Demande-lui de la rouvrir si tu dois la faire."), heading=_("Activité fermée"),
                            log_message=f"activity {activity.id} is closed: no copy for {student.uid}",
                            reason="activity_closed", status=403)
    version = current_version(session, activity)
    folder = folder_name(activity.title, activity.code)
    master = storage.master_dir(activity.id, version.number)
    contents = {SEED_FILE: seed_file_text(seed_for(student.key, activity.id)).encode()}
    notebook = student_notebook(inside(master, version.notebook).read_bytes(), activity)
    if notebook is not None:
        contents[version.notebook] = notebook
    with refused_when_full(_("Le stockage de la plateforme est plein : ta copie de cette activité n'a pas pu être "
                             "préparée. Réessaie dans un moment ; si cela dure, préviens ton enseignant·e."),
                           f"copying activity {activity.id} for {student.uid}"):
        # what was copied before the disk filled stays (whole files only): the next visit copies the rest
        files = [*(name for name in version.files if name != SEED_FILE), SEED_FILE]  # the seed file is ours
        storage.copy_missing(master, files, inside(storage.user_dir(student.key), folder), contents)
    copy = Copy(activity_id=activity.id, uid=student.uid, name=student.name, user_key=student.key,
                class_name=", ".join(student.classes), folder=folder, notebook=version.notebook,
                version=version.number, seeded=True)
    session.add(copy)
    try:
        session.commit()
    except IntegrityError:  # the same student's other request made it first
        session.rollback()
        return EnsuredCopy(activity, _copy_of(session, activity.id, student.uid), created=False)
    return EnsuredCopy(activity, copy, created=True)


def seed_of(copy: Copy) -> int:
    """The seed of ``copy``'s student in its activity: what their kernel read from the seed file, and what
    its grading runs with (0 for a copy made before seed files, whose ``capytale_alea`` said 0)."""
    return seed_for(copy.user_key, copy.activity_id) if copy.seeded else 0


def _restore_seed_file(storage: Storage, copy: Copy) -> None:
    """Put back a copy's seed file that is missing (never replacing one: a student's edit stays theirs)."""
    if not copy.seeded:
        return
    try:
        target = inside(storage.user_dir(copy.user_key), copy.folder)
        if target.is_dir() and not (target / SEED_FILE).exists():
            storage.copy_missing(target, [SEED_FILE], target, {SEED_FILE: seed_file_text(seed_of(copy)).encode()})
    except (PlatformError, OSError) as exc:  # a folder the student spoiled: their copy opens all the same
        log.warning("copy %s: seed file not put back: %s", copy.id, exc)


def student_notebook(master: bytes, activity: Activity) -> bytes | None:
    """What a student's notebook starts as, made from the master's bytes; None when it is the master byte for
    byte (nothing to hide, protect, add or rename)."""
    hidden = student_version(master)
    base = hidden.as_bytes() if hidden.changed else master
    prepared = prepared_copy(base, activity.protect_cells, activity.instructions, kernels.current())
    if prepared is not None:
        return prepared
    return base if hidden.changed else None


@dataclass(frozen=True)
class CopyView:
    """A copy as its teacher sees it: the record, when the student last saved it, whether they work now."""

    copy: Copy
    updated_at: datetime | None
    working: bool = False

    def as_json(self) -> dict:
        return {
            "student": {"uid": self.copy.uid, "name": self.copy.name, "class": self.copy.class_name},
            "created_at": iso(self.copy.created_at),
            "updated_at": iso(self.updated_at) if self.updated_at else None,
            "folder": self.copy.folder, "notebook": self.copy.notebook, "version": self.copy.version,
            "working": self.working, "seed": seed_of(self.copy),
        }


def notebook_path(storage: Storage, copy: Copy) -> Path:
    return storage.copy_file(copy.user_key, copy.folder, copy.notebook)


def copies_of(session: Session, storage: Storage, activity: Activity,
              working: frozenset[str] = frozenset()) -> list[CopyView]:
    """Every student's copy of ``activity``, by student name; ``working``: user keys of students at work now."""
    copies = session.scalars(select(Copy).where(Copy.activity_id == activity.id).order_by(Copy.name, Copy.uid))
    return [CopyView(copy, _saved_at(storage, copy), copy.user_key in working) for copy in copies]


def _saved_at(storage: Storage, copy: Copy) -> datetime | None:
    """When the student last saved; None when their notebook is not a file of their space any more
    (renamed, a link out of it): that copy alone shows no date, the list goes on."""
    try:
        return modified_at(notebook_path(storage, copy))
    except PlatformError:
        return None


def copy_of(session: Session, activity: Activity, uid: str) -> Copy:
    copy = _copy_of(session, activity.id, uid)
    if copy is None:
        raise PlatformError(_("Cet élève n'a pas (encore) de copie de cette activité."),
                            log_message=f"no copy of activity {activity.id} for {uid!r}",
                            reason="unknown_copy", status=404)
    return copy


def read_notebook(storage: Storage, copy: Copy) -> bytes:
    """The student's notebook as it is now on storage."""
    try:
        return notebook_path(storage, copy).read_bytes()
    except PlatformError as exc:
        raise PlatformError(
            _("Le notebook de cet élève n'est plus un fichier de son espace (il l'a remplacé par un lien "
              "vers un autre endroit) : il ne peut pas être affiché."),
            log_message=f"copy {copy.id}: {exc.log_message}", reason="copy_file_outside", status=409,
        ) from None
    except IsADirectoryError:
        raise PlatformError(
            _("Le notebook de cet élève a été remplacé par un dossier du même nom : il ne peut pas être affiché."),
            log_message=f"copy {copy.id}: {copy.folder}/{copy.notebook} is a folder", reason="copy_file_folder",
            status=409,
        ) from None
    except FileNotFoundError:
        raise PlatformError(
            _("Le notebook de cet élève n'est plus à sa place (il l'a peut-être renommé ou supprimé)."),
            log_message=f"copy {copy.id}: {copy.folder}/{copy.notebook} missing for {copy.user_key}",
            reason="copy_file_missing", status=404,
        ) from None

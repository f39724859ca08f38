"""Handed-in copies, frozen: what the teacher reads and grades, whatever the student's file becomes.

::

    <data root>/snapshots/<activity id>/<copy id>/<UTC time>-<random>.ipynb

A snapshot is the student's notebook as it was at hand-in, byte for byte, written
once beside the activities' other stores (never in the student's space, which the
student's code can change), made read-only and recorded with its SHA-256.  Reading
one checks that hash: a file changed behind the platform's back is said, not shown.
A copy handed in again gets a new snapshot; the older ones stay.
"""
from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from datetime import datetime

from flask_babel import gettext as _

from capytale.errors import PlatformError
from services.activities.models import Copy, as_utc
from services.activities.names import inside
from services.activities.storage import Storage

FOLDER = "snapshots"


@dataclass(frozen=True)
class Snapshot:
    relative: str  # under the data root
    sha256: str


def freeze(storage: Storage, copy: Copy, content: bytes, moment: datetime) -> Snapshot:
    """Write ``content`` as a new snapshot of ``copy``: a new read-only file, synced, never an existing one."""
    folder = storage.root / FOLDER / str(int(copy.activity_id)) / str(int(copy.id))
    folder.mkdir(parents=True, exist_ok=True)
    name = f"{as_utc(moment).strftime('%Y%m%dT%H%M%SZ')}-{secrets.token_hex(4)}.ipynb"
    path = folder / name
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o444)
    try:
        with os.fdopen(descriptor, "wb") as out:
            out.write(content)
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return Snapshot(path.relative_to(storage.root).as_posix(), hashlib.sha256(content).hexdigest())


def discard(storage: Storage, snapshot: Snapshot) -> None:
    """Remove a snapshot no row names (another request handed the copy in first)."""
    inside(storage.root, snapshot.relative).unlink(missing_ok=True)


def read_snapshot(storage: Storage, copy: Copy) -> bytes:
    """The notebook ``copy`` was handed in with: 404 when it never was, 500 when the file is not the one frozen."""
    if not copy.snapshot:
        raise PlatformError(_("Cette copie n'a pas encore été rendue : il n'y a pas de version rendue."),
                            log_message=f"copy {copy.id} has no snapshot", reason="not_handed_in", status=404)
    try:
        content = inside(storage.root, copy.snapshot).read_bytes()
    except (FileNotFoundError, PlatformError):
        content = None
    if content is None or hashlib.sha256(content).hexdigest() != copy.snapshot_sha256:
        raise PlatformError(_("La version rendue de cette copie est introuvable ou a été modifiée sur le serveur : "
                              "préviens les personnes qui gèrent la plateforme."),
                            log_message=f"copy {copy.id}: snapshot {copy.snapshot} missing or not its SHA-256",
                            reason="snapshot_altered", status=500)
    return content

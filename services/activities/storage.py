"""The workspace storage as the activities service sees it.

::

    <data root>/masters/<activity-id>/<version>/…     the teacher's notebook and annex files
    <data root>/users/<user-key>/<activity folder>/…  a student's copies

A master version is written in a staging folder then renamed into place, so a
failed upload leaves nothing.  A student's files are copied without ever
replacing one that exists: each file is written aside, then hard-linked to its
name, which fails when the name is taken (two requests of the same student at
once cannot clobber each other, nor a file the student has changed).

A full disk (or a spent quota) met while writing is :func:`refused_when_full`'s
507 ``disk_full`` refusal, once the writer has removed what it had written:
never a half-written file under a name the platform or a student reads.
"""
from __future__ import annotations

import errno
import logging
import os
import re
import secrets
import shutil
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from flask import Flask, current_app
from flask_babel import gettext as _

from capytale.errors import PlatformError
from capytale.files import aside_name
from services.activities.names import inside

log = logging.getLogger("capytale.activities")

USER_KEY = re.compile(r"[a-z0-9]{1,64}")  # auth's keys are lower-case base32; anything else is a bug
STAGING_PREFIX = ".incoming-"
DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})  # no room left on the device, or in the quota


def init_app(app: Flask) -> None:
    """Give ``app`` the storage under its ``DATA_ROOT``."""
    app.extensions["activities.storage"] = Storage(app.config["CAPYTALE"]["DATA_ROOT"])


def current() -> Storage:
    """The storage of the app handling this request."""
    return current_app.extensions["activities.storage"]


@contextmanager
def refused_when_full(user_message: str, writing: str) -> Iterator[None]:
    """A full disk or quota met in the block becomes a 507 :class:`PlatformError` saying ``user_message``
    (``writing`` says what, in the log); any other error goes up unchanged."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        raise PlatformError(user_message, log_message=f"storage full while {writing}: {exc}", reason="disk_full",
                            status=507, heading=_("Stockage plein")) from exc


class Storage:
    """Paths and file operations under the data root; every user-given part is checked with :func:`inside`."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.masters = self.root / "masters"
        self.users = self.root / "users"

    # --- paths -------------------------------------------------------------------------

    def master_dir(self, activity_id: int, version: int) -> Path:
        return self.masters / str(int(activity_id)) / str(int(version))

    def user_dir(self, user_key: str) -> Path:
        """A student's root folder (the root of their Jupyter server)."""
        if not USER_KEY.fullmatch(user_key):
            raise PlatformError(_("Ta session ne permet pas de préparer ta copie. Reconnecte-toi."),
                                log_message=f"malformed user key {user_key!r}", reason="bad_user_key", status=400)
        return self.users / user_key

    def copy_file(self, user_key: str, folder: str, name: str) -> Path:
        """A file of a student's copy: ``users/<key>/<folder>/<name>``."""
        return inside(inside(self.user_dir(user_key), folder), name)

    # --- masters -----------------------------------------------------------------------

    @contextmanager
    def staging(self) -> Iterator[Path]:
        """A fresh folder to write a master version in; removed on leaving unless published."""
        self.masters.mkdir(parents=True, exist_ok=True)
        folder = self.masters / f"{STAGING_PREFIX}{secrets.token_hex(8)}"
        folder.mkdir()
        try:
            yield folder
        finally:
            shutil.rmtree(folder, ignore_errors=True)

    @staticmethod
    def new_file(folder: Path, relative: str) -> Path:
        """Where to write ``relative`` in ``folder`` (parents made); 400 when two files would share a name."""
        path = inside(folder, relative)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            taken = path.exists()
        except (FileExistsError, NotADirectoryError):
            taken = True  # a file already has the name of one of its folders
        if taken:
            raise PlatformError(_("Deux fichiers envoyés portent le même nom « %(relative)s » (ou un fichier porte "
                                  "le nom d'un dossier) : renomme l'un d'eux.", relative=relative),
                                log_message=f"name clash on {relative!r}", reason="duplicate_name", status=400)
        return path

    def publish(self, staged: Path, activity_id: int, version: int) -> None:
        """Move a staged master version into place, in one rename.

        It is called with the version's row written and not yet committed, which no other request
        can be doing for the same version (the row's key is taken until then): a folder already at
        that place is what a process killed between this rename and its commit left, its row never
        committed.  It is set aside and removed first, else that version could never be stored again."""
        target = self.master_dir(activity_id, version)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.exists():
            log.warning("masters/%s/%s was left by a store that never committed: replaced", activity_id, version)
            abandoned = self.masters / f"{STAGING_PREFIX}abandoned-{secrets.token_hex(8)}"
            target.rename(abandoned)
            shutil.rmtree(abandoned, ignore_errors=True)
        staged.rename(target)

    def remove_version(self, activity_id: int, version: int) -> None:
        """Remove a version that was published but not committed (an activity left empty goes too)."""
        shutil.rmtree(self.master_dir(activity_id, version), ignore_errors=True)
        try:
            (self.masters / str(int(activity_id))).rmdir()
        except OSError:
            pass  # other versions are there

    # --- students' copies -----------------------------------------------------------------

    @staticmethod
    def copy_missing(source: Path, files: Iterable[str], target: Path,
                     contents: Mapping[str, bytes] | None = None) -> None:
        """Copy ``files`` from ``source`` into ``target`` where ``target`` does not have them yet;
        a file named in ``contents`` is written with those bytes instead of the source's."""
        for relative in files:
            destination = inside(target, relative)
            destination.parent.mkdir(parents=True, exist_ok=True)
            given = (contents or {}).get(relative)
            _copy_without_replacing(inside(source, relative), destination, given)


def _copy_without_replacing(source: Path, destination: Path, content: bytes | None = None) -> None:
    """Copy ``source`` (or write ``content``) to ``destination`` unless it exists; never a half-written
    file under its name."""
    if destination.exists():
        return
    aside = Path(aside_name(destination))
    try:
        if content is None:
            shutil.copyfile(source, aside)
        else:
            aside.write_bytes(content)
        os.link(aside, destination)  # atomic, and refuses an existing name
    except FileExistsError:
        pass  # another request of the same student was first: its file stays
    finally:
        aside.unlink(missing_ok=True)  # also what a full disk left half-written


def modified_at(path: Path) -> datetime | None:
    """When ``path`` was last written (UTC), None when it does not exist."""
    try:
        return datetime.fromtimestamp(path.stat().st_mtime, timezone.utc)
    except FileNotFoundError:
        return None

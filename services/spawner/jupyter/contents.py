"""How a student's server writes files: a full disk (or a spent quota) never spoils what was saved.

Jupyter's own "atomic writing" (jupyter_server 2.21, ``fileio.atomic_writing``)
copies the old file aside, then truncates the file and writes the new content in
place, and puts the copy back only when the write fails *inside* its block.  A
notebook smaller than the write buffer (8 KiB) is written only by the flush that
comes after the block: a full disk there leaves the student's notebook truncated,
invalid JSON (the teacher's view shows it so; Jupyter's next read puts the copy
back).  Its checkpoints are copied in place too: a checkpoint made or restored on
a full disk is half a file.

Here every write (a save, a checkpoint made or restored, a file copied) goes to a
new hidden file beside the target, is flushed and synced, and is then renamed
over the target (``os.replace``, one step: the old file stays whole until then);
on any failure the new file is removed (:func:`capytale.files.replacing`).  A full disk answers 507 with a French
message, which Notebook's own dialog shows; the edits stay in the page, and the
next save once there is room writes them.  (The server has no catalogue: its few
texts are French, like ``templates/not_yours.html``.)

A checkpoint that a full disk leaves unwritten is a 403 instead (the old one
stays): the page asks for one as it opens a notebook that has none, and on any
refusal but a 403 it says "Erreur de chargement" and never starts the notebook's
kernel; on a 403 it carries on.  A save whose notebook was written but whose first
checkpoint could not be is a saved notebook (200; the next save makes the
checkpoint).  A checkpoint restored on a full disk is a 507, the notebook as it was.

A file without any write permission bit is **read-only** to the student, even for a
server running as root (the process backend), where the system itself would let it
be written: that is how the platform marks a copy that was handed in (the activities
service removes the bits, and gives them back with the copy).  Such a file is listed
``writable: false`` (Notebook 7 then shows "read-only", stops autosaving, and says so
when the student saves), and its saving, renaming, deleting, restoring from a
checkpoint (and the renaming or deleting of a folder that holds one) are refused with
Jupyter's own 403 and a French message, the file untouched.
"""
from __future__ import annotations

import contextlib
import contextvars
import errno
import os
import shutil
import stat
from typing import IO, Iterator

from anyio.to_thread import run_sync
from jupyter_server.services.contents.filecheckpoints import AsyncFileCheckpoints
from jupyter_server.services.contents.largefilemanager import AsyncLargeFileManager
from tornado.web import HTTPError
from traitlets import default

from capytale.files import replacing

DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
FULL_MESSAGE = ("Le stockage de la plateforme est plein : « {name} » n'a pas été enregistré ; ce qui était déjà "
                "enregistré reste intact et tes modifications restent dans la page. Réessaie d'enregistrer dans un "
                "moment ; si cela dure, préviens ton enseignant·e.")
CHECKPOINT_FULL_MESSAGE = ("Le stockage de la plateforme est plein : le point de contrôle n'a pas pu être écrit ; le "
                           "précédent reste intact. Réessaie dans un moment ; si cela dure, préviens ton enseignant·e.")
RESTORE_FULL_MESSAGE = ("Le stockage de la plateforme est plein : le point de contrôle n'a pas pu être rétabli ; "
                        "« {name} » reste tel qu'il était enregistré. Réessaie dans un moment ; si cela dure, préviens "
                        "ton enseignant·e.")
_SAVING = contextvars.ContextVar("capytale_saving", default=False)  # inside StudentsContents.save


def _target(path: str) -> str:
    """Where a write to ``path`` lands: a link is followed one step, as Jupyter does."""
    if os.path.islink(path):
        return os.path.join(os.path.dirname(path), os.readlink(path))
    return path


def copy_replacing(source: str, destination: str) -> None:
    """Copy ``source`` over ``destination`` in one step (what a checkpoint made or restored is)."""
    with open(source, "rb") as read, replacing(_target(destination), text=False) as out:
        shutil.copyfileobj(read, out)
    with contextlib.suppress(OSError):
        shutil.copystat(source, _target(destination))


@contextlib.contextmanager
def full_disk_refused(message: str) -> Iterator[None]:
    """A full disk or quota in the block becomes Jupyter's 507 with ``message``, which the student's page shows."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        raise HTTPError(507, message, reason="disk_full") from exc  # the JSON's reason, as the platform's


READ_ONLY_MESSAGE = ("« {name} » est en lecture seule : cette copie a été rendue. Tu peux la lire et exécuter ses "
                     "cellules, mais plus la modifier ; si tu dois encore y travailler, demande à ton enseignant·e "
                     "de te la rendre.")


def is_read_only(os_path: str) -> bool:
    """A regular file with no write permission bit (a link is followed, as Jupyter follows it)."""
    try:
        info = os.stat(os_path)
    except OSError:
        return False
    return stat.S_ISREG(info.st_mode) and not info.st_mode & 0o222


def read_only_inside(os_path: str) -> str | None:
    """``os_path`` itself if it is read-only, else the first read-only file under it (a folder); None if none."""
    if is_read_only(os_path):
        return os_path
    if not os.path.isdir(os_path) or os.path.islink(os_path):
        return None
    for parent, _folders, files in os.walk(os_path, followlinks=False):
        for name in files:
            if is_read_only(os.path.join(parent, name)):
                return os.path.join(parent, name)
    return None


class StudentsCheckpoints(AsyncFileCheckpoints):
    """Checkpoints (``.ipynb_checkpoints/``) made and restored by :func:`copy_replacing`; on a full disk,
    one not made is a 403 (the page carries on), one not restored a 507."""

    async def _copy(self, src: str, dest: str) -> None:
        await run_sync(copy_replacing, src, dest)

    async def create_checkpoint(self, contents_mgr, path: str) -> dict:
        try:
            return await super().create_checkpoint(contents_mgr, path)
        except OSError as exc:
            if exc.errno not in DISK_FULL:
                raise
            raise HTTPError(403, CHECKPOINT_FULL_MESSAGE, reason="disk_full") from exc

    async def restore_checkpoint(self, contents_mgr, checkpoint_id: str, path: str) -> None:
        with full_disk_refused(RESTORE_FULL_MESSAGE.format(name=os.path.basename(path))):
            await super().restore_checkpoint(contents_mgr, checkpoint_id, path)


class StudentsContents(AsyncLargeFileManager):
    """Jupyter's default contents manager, writing through :func:`replacing`."""

    @default("checkpoints_class")
    def _checkpoints_class_default(self):
        return StudentsCheckpoints

    def is_writable(self, path: str) -> bool:
        return super().is_writable(path) and not is_read_only(self._get_os_path(path.strip("/")))

    def _refuse_read_only(self, path: str, whole: bool = False) -> None:
        os_path = self._get_os_path(path.strip("/"))
        found = read_only_inside(os_path) if whole else (os_path if is_read_only(os_path) else None)
        if found is not None:
            raise HTTPError(403, READ_ONLY_MESSAGE.format(name=os.path.basename(found)), reason="read_only")

    async def save(self, model: dict, path: str = "") -> dict:
        self._refuse_read_only(path)
        saving = _SAVING.set(True)
        try:
            return await super().save(model, path)
        finally:
            _SAVING.reset(saving)

    async def create_checkpoint(self, path: str = "") -> dict | None:
        try:
            return await super().create_checkpoint(path)
        except HTTPError as refused:
            if not (_SAVING.get() and refused.reason == "disk_full"):
                raise
            self.log.warning("%s saved, its first checkpoint not written: the disk is full", path)
            return None  # the notebook is saved: so is the answer; the next save makes the checkpoint

    async def delete_file(self, path: str) -> None:
        self._refuse_read_only(path, whole=True)
        await super().delete_file(path)

    async def rename_file(self, old_path: str, new_path: str) -> None:
        self._refuse_read_only(old_path, whole=True)
        self._refuse_read_only(new_path, whole=True)
        await super().rename_file(old_path, new_path)

    async def restore_checkpoint(self, checkpoint_id: str, path: str) -> None:
        self._refuse_read_only(path)
        await super().restore_checkpoint(checkpoint_id, path)

    @contextlib.contextmanager
    def atomic_writing(self, os_path: str, text: bool = True, encoding: str = "utf-8", **kwargs) -> Iterator[IO]:
        target = _target(os_path)
        folder = os.path.dirname(target) or "."
        if os.path.isfile(target) and not os.access(folder, os.W_OK) and os.access(target, os.W_OK):
            with super().atomic_writing(os_path, text=text, encoding=encoding, **kwargs) as out:
                yield out  # nothing can be made beside it (a folder the student made read-only): Jupyter's way
            return
        with self.perm_to_403(os_path), full_disk_refused(FULL_MESSAGE.format(name=os.path.basename(os_path))), \
                replacing(target, text=text, encoding=encoding) as out:
            yield out

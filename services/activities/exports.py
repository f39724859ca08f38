"""What a teacher takes away: the list of copies as CSV, the copies as one ZIP, an archive.

The ZIP holds one folder per student, named after the student and safe on
every system (``Léa Moreau (lea.moreau)/…``): no ``/`` ``\\`` ``:`` or other
characters Windows refuses, no control nor bidirectional control character,
no leading dot, NFC, bounded length, and two students with the same name still
get two folders.  Each folder holds the
student's activity folder as it is on storage (notebook, annex files, what the
student added), without Jupyter's checkpoints.  The CSV is for a spreadsheet
in French: ``;`` between columns and a byte-order mark, so that Excel reads
the accents.
"""
from __future__ import annotations

import csv
import io
import os
import tempfile
import zipfile
from pathlib import Path
from typing import IO, Iterable, Iterator

from capytale.bidi import without_bidi_controls
from services.activities.copies import CopyView
from services.activities.models import Activity, as_utc
from services.activities.names import nfc, without_controls
from services.activities.storage import Storage

UNSAFE = set('/\\:*?"<>|')
MAX_FOLDER_CHARS = 100
SKIPPED_FOLDERS = {".ipynb_checkpoints", "__pycache__"}
SPOOL_BYTES = 16 * 1024 * 1024  # ZIPs up to this size stay in memory, bigger ones go to a temporary file


def safe_folder(name: str) -> str:
    """``name`` as a folder name every system accepts."""
    kept = without_bidi_controls(without_controls(nfc(name)))
    cleaned = "".join("_" if c in UNSAFE else c for c in kept).strip().lstrip(".").strip()
    return cleaned[:MAX_FOLDER_CHARS].rstrip() or "_"


def student_folders(views: Iterable[CopyView]) -> Iterator[tuple[CopyView, str]]:
    """Each copy with its folder in the ZIP: ``<name> (<uid>)``, made unique."""
    taken: set[str] = set()
    for view in views:
        base = safe_folder(f"{view.copy.name} ({view.copy.uid})")
        folder, n = base, 1
        while folder.casefold() in taken:
            n += 1
            folder = f"{base} {n}"
        taken.add(folder.casefold())
        yield view, folder


def _files_of(folder: Path) -> Iterator[Path]:
    """Regular files under ``folder`` (no symbolic links followed, no checkpoints), sorted; none when
    ``folder`` itself is a link (a student's copy folder replaced by a link to elsewhere)."""
    if folder.is_symlink():
        return
    for parent, folders, files in os.walk(folder, followlinks=False):
        folders[:] = sorted(f for f in folders if f not in SKIPPED_FOLDERS)
        for name in sorted(files):
            path = Path(parent, name)
            if path.is_file() and not path.is_symlink():
                yield path


def write_copies_zip(storage: Storage, views: Iterable[CopyView], target: IO[bytes],
                     master: tuple[Path, str] | None = None, listing: str | None = None) -> None:
    """Write the students' copies into ``target`` as a ZIP; with ``master`` (its folder and the name
    to give it) and ``listing`` (the CSV), an archive of the whole activity."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for view, folder in student_folders(views):
            copy_dir = storage.user_dir(view.copy.user_key) / view.copy.folder
            for path in _files_of(copy_dir):
                archive.write(path, f"{folder}/{path.relative_to(copy_dir).as_posix()}")
        if master is not None:
            folder, name = master
            for path in _files_of(folder):
                archive.write(path, f"{name}/{path.relative_to(folder).as_posix()}")
        if listing is not None:
            archive.writestr("copies.csv", listing.encode("utf-8-sig"))


def copies_zip(storage: Storage, views: list[CopyView]) -> IO[bytes]:
    """The ZIP of the copies, in a spooled temporary file positioned at its start."""
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)
    write_copies_zip(storage, views, spool)
    spool.seek(0)
    return spool


# What a spreadsheet reads as the start of a formula (OWASP's list): such a cell gets a leading quote.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """``value`` as a spreadsheet shows it, never runs it: ``=HYPERLINK(…)`` as a name stays text."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


def copies_csv(views: Iterable[CopyView], headers: list[str], yes: str, no: str) -> str:
    """The list of copies: one row per student (``headers`` and the yes/no words in the page's language).
    What students' identities say (name, identifier, class) cannot be a formula."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    for view in views:
        copy = view.copy
        writer.writerow([
            *(spreadsheet_text(value or "") for value in (copy.name, copy.uid, copy.class_name)),
            as_utc(copy.created_at).isoformat(timespec="seconds"),
            as_utc(view.updated_at).isoformat(timespec="seconds") if view.updated_at else "",
            copy.version, yes if view.working else no,
        ])
    return out.getvalue()


def download_name(activity: Activity, suffix: str) -> str:
    """A file name for a download: the activity's title made safe, then ``suffix``."""
    return safe_folder(activity.title) + suffix


# --- the evaluation: grades as CSV, handed-in copies as a ZIP -----------------------------------


def grades_csv(rows: Iterable[list[str]], headers: list[str]) -> str:
    """Grades, states and appréciations, one row per student, every text cell kept from being a formula
    (a student's name, and the teacher's appréciation too)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(headers)
    for row in rows:
        writer.writerow([spreadsheet_text(value) for value in row])
    return out.getvalue()


def write_handed_in_zip(views: Iterable[tuple[CopyView, bytes, str]], target: IO[bytes],
                        listing: str | None = None) -> None:
    """One folder per student with the notebook as handed in and ``correction.md`` (the feedback);
    ``listing``: the grades CSV at the top."""
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for (view, snapshot, correction), folder in student_folders_of(views):
            archive.writestr(f"{folder}/{safe_folder(view.copy.notebook)}", snapshot)
            archive.writestr(f"{folder}/correction.md", correction.encode("utf-8"))
        if listing is not None:
            archive.writestr("notes.csv", listing.encode("utf-8-sig"))


def student_folders_of(items: Iterable[tuple[CopyView, bytes, str]]) -> Iterator[tuple[tuple, str]]:
    """:func:`student_folders` for items that start with their copy."""
    items = list(items)
    folders = dict(student_folders(item[0] for item in items))
    return ((item, folders[item[0]]) for item in items)

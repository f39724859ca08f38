"""A teacher's own Jupyter space (``users/<teacher key>/``) as the teacher pages see it.

The teacher writes notebooks in "Mon espace Jupyter" (their own server, in
JupyterLab); the new-activity page lists them so that one becomes an activity
without a download and an upload.  Only what the teacher could upload is
offered: visible files, inside the space, no symbolic link followed; the
notebook is checked exactly as an upload is (:func:`check_notebook`), and so are
the names of the files taken beside it (:func:`checked_path`).
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from werkzeug.datastructures import FileStorage

from flask_babel import gettext as _

from capytale.errors import PlatformError
from services.activities.names import checked_path, inside
from services.activities.notebooks import EXTENSION, check_notebook
from services.activities.uploads import Upload, instructions_from, title_from

MAX_LISTED = 500  # notebooks offered at most (a space with more is a space to tidy)
MAX_DEPTH = 6
MAX_ANNEXES = 200  # files taken beside a notebook at most


def _visible(name: str) -> bool:
    return not name.startswith(".") and name not in ("__pycache__",)


def _walk(root: Path) -> Iterator[tuple[Path, list[str]]]:
    """(folder, its visible files) under ``root``, breadth by depth, no link followed."""
    for parent, folders, files in os.walk(root, followlinks=False):
        depth = len(Path(parent).relative_to(root).parts)
        folders[:] = sorted(f for f in folders if _visible(f)) if depth < MAX_DEPTH else []
        yield Path(parent), sorted(f for f in files if _visible(f))


def notebooks_in(space: Path) -> list[str]:
    """Paths (relative, ``/``-separated) of the notebooks in the teacher's space, sorted."""
    if not space.is_dir():
        return []
    found = []
    for folder, files in _walk(space):
        for name in files:
            path = folder / name
            if name.lower().endswith(EXTENSION) and path.is_file() and not path.is_symlink():
                found.append(path.relative_to(space).as_posix())
                if len(found) >= MAX_LISTED:
                    return sorted(found)
    return sorted(found)


def upload_from_space(space: Path, relative: str, title: str, instructions: str, with_folder: bool,
                      max_notebook_bytes: int, max_total_bytes: int) -> Upload:
    """An :class:`Upload` of the notebook ``relative`` of the space (and the other files of its folder)."""
    relative = checked_path(relative, _("notebook"), folders=True)
    path = inside(space, relative)
    if not path.is_file() or path.is_symlink():
        raise PlatformError(_("Le notebook « %(relative)s » n'est plus dans ton espace Jupyter (renommé ou supprimé "
                              "?).", relative=relative),
                            log_message=f"no notebook {relative!r} in {space}", reason="no_space_notebook",
                            status=400)
    notebook = check_notebook(path.name, path.read_bytes(), max_notebook_bytes)
    title, instructions = title_from(title, notebook.name), instructions_from(instructions)
    annexes = _files_beside(path, len(notebook.content), max_total_bytes) if with_folder else []
    return Upload(title, notebook, tuple(annexes), instructions)


def _files_beside(notebook: Path, total: int, max_total_bytes: int) -> list[tuple[str, FileStorage]]:
    """The other files of the notebook's folder by their checked names, open for reading (``total``: the
    bytes already taken); on a refusal, those already opened are closed."""
    folder = notebook.parent
    annexes: list[tuple[str, FileStorage]] = []
    try:
        for parent, files in _walk(folder):
            for name in files:
                other = parent / name
                if other == notebook or other.is_symlink() or not other.is_file():
                    continue
                total += other.stat().st_size
                if total > max_total_bytes:
                    raise PlatformError(
                        _("Ce notebook et les fichiers de son dossier dépassent ensemble %(value)s Mo : range-le "
                          "dans un dossier à part avec seulement ce dont l'activité a besoin.",
                          value=max_total_bytes // (1024 * 1024)),
                        log_message=f"{folder} is too big", reason="upload_too_big", status=413)
                annex_name = checked_path(other.relative_to(folder).as_posix(), _("fichier annexe"), folders=True)
                annexes.append((annex_name, FileStorage(stream=other.open("rb"), filename=name)))
                if len(annexes) > MAX_ANNEXES:
                    raise PlatformError(
                        _("Le dossier de ce notebook contient plus de %(MAX_ANNEXES)s fichiers : range-le dans un "
                          "dossier à part avec seulement ce dont l'activité a besoin.", MAX_ANNEXES=MAX_ANNEXES),
                        log_message=f"{folder} has too many files", reason="too_many_annexes", status=400)
    except BaseException:
        for _name, annex in annexes:
            annex.close()
        raise
    return annexes

"""File names that come from people: kept as given, checked, never a way out of their folder.

A teacher's names keep their accents, spaces, apostrophes and parentheses;
they are only normalised to Unicode NFC (a Mac sends NFD).  What is refused:
empty parts, ``.`` and ``..``, absolute paths, control characters (NUL among
them), bidirectional controls (:mod:`capytale.bidi`: ``exercice\\u202egnp.ipynb``
would show as ``exercicebnypi.png``), backslashes and parts too long for a file
system.  Every path built from such a name is resolved and compared with its
folder (:func:`inside`).
"""
from __future__ import annotations

import unicodedata
from pathlib import Path

from flask_babel import gettext as _

from capytale.bidi import bidi_control_in, made_visible, without_bidi_controls
from capytale.errors import PlatformError

MAX_PART_BYTES = 255  # what ext4, XFS and NFS accept for one name
MAX_TITLE_BYTES = 200  # the title's share of an activity folder's name
DEFAULT_FOLDER_TITLE = "Activité"


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def _is_control(char: str) -> bool:
    return unicodedata.category(char) == "Cc"


def without_controls(text: str) -> str:
    """``text`` without control characters (NUL, line breaks, tabs…)."""
    return "".join(c for c in text if not _is_control(c))


def shown(name: str) -> str:
    """``name`` as it can be shown in a message: control and bidirectional characters made visible."""
    return made_visible("".join("\N{REPLACEMENT CHARACTER}" if _is_control(c) else c for c in name))


def bidi_problem(text: str) -> str | None:
    """Why ``text`` cannot be a name, when it holds a bidirectional control character; None otherwise."""
    code = bidi_control_in(text)
    if code is None:
        return None
    return _("il contient un caractère de contrôle d'écriture (%(code)s), invisible, qui change l'ordre dans "
             "lequel les lettres s'affichent", code=code)


def _refuse(what: str, name: str, why: str) -> PlatformError:
    return PlatformError(
        _("Le nom du %(what)s « %(name)s » n'est pas accepté : %(why)s.", what=what, name=shown(name), why=why),
        log_message=f"refused {what} name {name!r}: {why}", reason="bad_file_name", status=400,
    )


def checked_path(raw: str, what: str, *, folders: bool) -> str:
    """``raw`` in NFC as a relative path inside its folder, or a :class:`PlatformError` (400).

    ``what`` names the file in the message (« fichier annexe »); ``folders``
    says whether sub-folders (``images/figure.png``) are allowed.
    """
    name = nfc(raw)
    if not name.strip():
        raise PlatformError(_("Un %(what)s envoyé n'a pas de nom.",
                              what=what), log_message=f"empty {what} name {raw!r}",
                            reason="bad_file_name", status=400)
    if any(_is_control(c) for c in name):
        raise _refuse(what, name, _("il contient un caractère invisible (de contrôle)"))
    if why := bidi_problem(name):
        raise _refuse(what, name, why)
    if "\\" in name:
        raise _refuse(what, name, _("il contient une barre oblique inverse « \\ »"))
    if name.startswith("/"):
        raise _refuse(what, name, _("c'est un chemin absolu (il commence par « / »)"))
    parts = name.split("/")
    if len(parts) > 1 and not folders:
        raise _refuse(what, name, _("il ne doit pas contenir de « / »"))
    for part in parts:
        if part in ("", ".", ".."):
            raise _refuse(what, name, _("il sortirait de son dossier (partie vide, « . » ou « .. »)"))
        if len(part.encode()) > MAX_PART_BYTES:
            raise _refuse(what, name, _("il est trop long (%(limit)s octets au plus par nom)", limit=MAX_PART_BYTES))
    return name


def inside(folder: Path, relative: str) -> Path:
    """``folder / relative`` resolved, refused (400) unless it stays strictly inside ``folder``."""
    root = folder.resolve()
    target = (root / relative).resolve()
    if target == root or not target.is_relative_to(root):
        raise PlatformError(
            _("Ce nom de fichier n'est pas accepté : il sortirait de son dossier."),
            log_message=f"path {relative!r} leaves {root}", reason="path_escape", status=400,
        )
    return target


def folder_name(title: str, code: str) -> str:
    """The folder of a student's copy: the title made safe for a file name, then `` (<code>)``."""
    cleaned = without_bidi_controls(without_controls(nfc(title))).replace("/", "").strip().lstrip(".").strip()
    cleaned = cleaned.encode()[:MAX_TITLE_BYTES].decode(errors="ignore").rstrip()
    return f"{cleaned or DEFAULT_FOLDER_TITLE} ({code})"

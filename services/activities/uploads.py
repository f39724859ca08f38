"""What a teacher sends to create an activity, read and checked before anything is stored.

The form (JSON interface or page) has ``notebook`` (one ``.ipynb``), ``title``,
``instructions`` (a short text for the students) and ``annex`` (any number of
files, possibly in sub-folders).  A new version of a master is the same form
without title nor instructions.  :func:`read_upload`
checks each part and raises a :class:`PlatformError` (400, or 413 when the whole
upload is too big) naming what is wrong; nothing is written until it returns.
(Two files sharing one name are found when they are staged, see :mod:`masters`.)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

from flask import Request
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage, ImmutableMultiDict
from werkzeug.exceptions import RequestEntityTooLarge

from capytale.errors import PlatformError
from capytale.settings import Settings
from services.activities.names import bidi_problem, checked_path, nfc, shown, without_controls
from services.activities.notebooks import EXTENSION, CheckedNotebook, check_notebook

MAX_TITLE_CHARS = 200
MAX_INSTRUCTIONS_CHARS = 5000


@dataclass(frozen=True)
class Upload:
    """A checked upload: the title, the notebook to store, and the annex files by their checked names."""

    title: str
    notebook: CheckedNotebook
    annexes: tuple[tuple[str, FileStorage], ...]
    instructions: str = ""

    @property
    def names(self) -> list[str]:
        """Every file of the master version, notebook first."""
        return [self.notebook.name, *(name for name, _ in self.annexes)]


def sent_form(request: Request, settings: Settings) -> tuple[ImmutableMultiDict, ImmutableMultiDict]:
    """The request's files and fields, or a 413 :class:`PlatformError` saying how much is allowed."""
    try:
        return request.files, request.form
    except RequestEntityTooLarge:
        raise PlatformError(
            _("L'envoi est trop gros : le notebook et ses fichiers annexes ensemble ne doivent pas dépasser "
              "%(value)s Mo.", value=settings['MAX_UPLOAD_MB']),
            log_message=f"upload of {request.content_length} bytes refused (MAX_UPLOAD_MB)",
            reason="upload_too_big", status=413,
        ) from None


def read_upload(request: Request, settings: Settings) -> Upload:
    """The checked upload of this request, or a :class:`PlatformError` saying what is wrong."""
    files, form = sent_form(request, settings)
    notebook = _read_notebook(files, settings["MAX_NOTEBOOK_MB"] * 1024 * 1024)
    return Upload(title_from(form.get("title", ""), notebook.name), notebook, tuple(_read_annexes(files)),
                  instructions_from(form.get("instructions", "")))


def _read_notebook(files: ImmutableMultiDict, max_bytes: int) -> CheckedNotebook:
    sent = [part for part in files.getlist("notebook") if part.filename]
    if len(sent) != 1:
        raise PlatformError(
            _("Il faut envoyer un seul notebook (un fichier .ipynb) ; les autres fichiers vont en annexe.") if sent
            else _("Aucun notebook n'a été envoyé : choisis un fichier .ipynb."),
            log_message=f"{len(sent)} notebook parts", reason="no_notebook", status=400,
        )
    return check_notebook(sent[0].filename, sent[0].read(), max_bytes)


def _read_annexes(files: ImmutableMultiDict) -> Iterator[tuple[str, FileStorage]]:
    for annex in files.getlist("annex"):
        if not annex.filename and _is_empty(annex):
            continue  # a browser's file field left empty
        yield checked_path(annex.filename or "", _("fichier annexe"), folders=True), annex


def _is_empty(annex: FileStorage) -> bool:
    empty = not annex.stream.read(1)
    annex.stream.seek(0)
    return empty


def title_from(raw: str, notebook_name: str) -> str:
    """The title as given (NFC, one line), else the notebook's name without ``.ipynb``.

    It becomes the students' folder name and is shown to them: a bidirectional control is refused.
    """
    title = without_controls(" ".join(nfc(raw).split()))
    if why := bidi_problem(title):
        raise PlatformError(_("Le titre « %(title)s » n'est pas accepté : %(why)s.", title=shown(title), why=why),
                            log_message=f"title {title!r} refused: bidirectional control", reason="bad_title",
                            status=400)
    title = title or notebook_name[: -len(EXTENSION)].strip() or notebook_name
    if len(title) > MAX_TITLE_CHARS:
        raise PlatformError(_("Le titre est trop long (%(count)s caractères) : %(MAX_TITLE_CHARS)s au plus.",
                              count=len(title), MAX_TITLE_CHARS=MAX_TITLE_CHARS),
                            log_message=f"title of {len(title)} chars", reason="title_too_long", status=400)
    return title


def instructions_from(raw: str) -> str:
    """The instructions as typed (NFC, line breaks kept, other control characters dropped)."""
    lines = nfc(raw).replace("\r\n", "\n").split("\n")
    text = "\n".join(without_controls(line).rstrip() for line in lines).strip()
    if len(text) > MAX_INSTRUCTIONS_CHARS:
        raise PlatformError(_("La consigne est trop longue (%(count)s caractères) : %(MAX_INSTRUCTIONS_CHARS)s au "
                              "plus.", count=len(text), MAX_INSTRUCTIONS_CHARS=MAX_INSTRUCTIONS_CHARS),
                            log_message=f"instructions of {len(text)} chars", reason="instructions_too_long",
                            status=400)
    return text


def read_switch(form: ImmutableMultiDict, name: str, default: bool = False) -> bool:
    """A check box or a JSON-ish flag: ``on``, ``true``, ``1``, ``oui`` are yes; absent is ``default``."""
    if name not in form:
        return default
    return form.get(name, "").strip().lower() in ("on", "true", "1", "yes", "oui")

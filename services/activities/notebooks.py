"""Checking a notebook a teacher uploads, and reading one for display.

:func:`check_notebook` takes the file's name and bytes and either returns what
to store or raises a :class:`PlatformError` (400) that says, in plain French,
what is wrong: not a ``.ipynb``, empty, too big, not JSON (with the line and
column), not a notebook, or not valid against the notebook schema (with the
cell and field).  A valid version 4 notebook is stored byte for byte (CRLF
stays CRLF); an older format is upgraded to version 4 by nbformat.

Reading uses nbformat's own steps (``reader.reads``, ``convert``,
``validate``: what ``nbformat.reads`` chains) so that a refused upload is
explained to the teacher instead of logged as an nbformat error.
"""
from __future__ import annotations

import codecs
import json
import warnings
from dataclasses import dataclass, field

import nbformat
from babel.numbers import format_decimal
from flask_babel import gettext as _
from jsonschema import ValidationError
from nbformat import NBFormatError, NotebookNode
from nbformat.warnings import MissingIDFieldWarning

from capytale import i18n
from capytale.errors import PlatformError
from services.activities.names import checked_path

EXTENSION = ".ipynb"
CELL_TYPES = ("code", "markdown", "raw")


@dataclass(frozen=True)
class CheckedNotebook:
    """A notebook ready to be stored."""

    name: str  # NFC, a single file name ending in .ipynb
    content: bytes  # the uploaded bytes, or the upgraded notebook
    upgraded_from: int | None  # the format it was upgraded from; None when stored as sent
    metadata: dict = field(default_factory=dict, compare=False)  # the notebook's metadata (its kernel…)


def _refuse(message: str, reason: str, detail: str) -> PlatformError:
    return PlatformError(message, log_message=f"notebook refused ({reason}): {detail}", reason=reason, status=400)


def _megabytes(size: int) -> str:
    """``size`` in MiB, written the way of the page's language (``2,1 Mo``, ``2.1 MB``)."""
    return _("%(value)s Mo", value=format_decimal(round(size / 1024 / 1024, 1), "0.#", locale=i18n.language()))


def as_v4(text: str) -> NotebookNode:
    """A notebook of any format read as format 4 (not validated)."""
    return nbformat.convert(nbformat.reader.reads(text), 4)


def check_notebook(filename: str, data: bytes, max_bytes: int) -> CheckedNotebook:
    """What to store for the uploaded notebook ``filename``, or a 400 saying what is wrong."""
    if not filename.lower().endswith(EXTENSION):
        raise _refuse(_("Le fichier « %(filename)s » n'est pas un notebook Jupyter : son nom doit finir par "
                        "%(EXTENSION)s.", filename=filename, EXTENSION=EXTENSION), "not_ipynb", filename)
    name = checked_path(filename, _("notebook"), folders=False)
    if not data:
        raise _refuse(_("Le notebook « %(name)s » est vide (0 octet) : vérifie que tu as choisi le bon fichier.",
                        name=name),
                      "empty_notebook", name)
    if len(data) > max_bytes:
        raise _refuse(_("Le notebook « %(name)s » est trop gros (%(size)s) : la limite est de %(limit)s.",
                        name=name, size=_megabytes(len(data)), limit=_megabytes(max_bytes)),
                      "notebook_too_big", f"{name}: {len(data)} bytes")
    content = data.removeprefix(codecs.BOM_UTF8)  # Jupyter cannot read a notebook that starts with a BOM
    try:
        text = content.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _refuse(_("Le notebook « %(name)s » n'est pas du texte UTF-8 : ce n'est pas un notebook Jupyter.",
                        name=name),
                      "not_utf8", f"{name}: {exc}") from None
    raw = _parse_json(name, text)
    notebook = _read_as_v4(name, text)
    metadata = dict(notebook.get("metadata") or {})
    if raw["nbformat"] == 4:
        return CheckedNotebook(name, content, None, metadata)
    return CheckedNotebook(name, (nbformat.writes(notebook) + "\n").encode(), raw["nbformat"], metadata)


def _too_deep(name: str) -> PlatformError:
    return _refuse(_("Le notebook « %(name)s » est imbriqué trop profondément (des listes dans des listes, des "
                     "milliers de fois) : ce n'est pas un notebook que Jupyter sait ouvrir.", name=name),
                   "too_deep", name)


def _parse_json(name: str, text: str) -> dict:
    try:
        raw = json.loads(text)
    except RecursionError:
        raise _too_deep(name) from None
    except json.JSONDecodeError as exc:
        raise _refuse(_("Le notebook « %(name)s » n'est pas un fichier JSON valide (erreur ligne %(lineno)s, colonne "
                        "%(colno)s) : il est peut-être incomplet ou abîmé.",
                        name=name, lineno=exc.lineno, colno=exc.colno), "not_json",
                      f"{name}: {exc}") from None
    if not isinstance(raw, dict) or "nbformat" not in raw:
        raise _refuse(_("Le fichier « %(name)s » est du JSON, mais pas un notebook Jupyter (il n'a pas de champ « "
                        "nbformat »).", name=name), "not_notebook", name)
    return raw


def _read_as_v4(name: str, text: str) -> NotebookNode:
    invalid = _("Le notebook « %(name)s » ne respecte pas le format des notebooks Jupyter : %(problem)s.", name=name,
                problem="%(problem)s")
    with warnings.catch_warnings():
        # a format 4.5 notebook without cell ids is repaired by Jupyter when it opens it
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        try:
            notebook = as_v4(text)
            nbformat.validate(notebook)
        except NBFormatError as exc:
            raise _refuse(_("Le notebook « %(name)s » est dans un format que la plateforme ne sait pas lire "
                            "(%(exc)s).", name=name, exc=exc), "unsupported_format", f"{name}: {exc}") from None
        except ValidationError as exc:
            raise _refuse(invalid.replace("%(problem)s", describe(exc)), "invalid_notebook",
                          f"{name}: {exc.message}") from None
        except RecursionError:
            raise _too_deep(name) from None
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise _refuse(invalid.replace("%(problem)s", _("sa structure est incorrecte",
                                                           )), "invalid_notebook", f"{name}: {exc!r}") from None
    return notebook


def describe(error: ValidationError) -> str:
    """Where and what, in short French, for a schema error: « cellule 3 (code) : il manque … »."""
    path = list(error.absolute_path)
    where: list[str] = []
    if len(path) >= 2 and path[0] == "cells" and isinstance(path[1], int):
        where.append(_("cellule %(number)s", number=path[1] + 1))
        path = path[2:]
    if path:
        where.append(_("champ « %(field)s »", field=".".join(str(part) for part in path)))
    return " : ".join(where + [_problem(error)])


def _problem(error: ValidationError) -> str:
    instance, expected = error.instance, error.validator_value
    if error.validator == "required" and isinstance(instance, dict):
        missing = [key for key in expected if key not in instance]
        return _("il manque le champ %(fields)s", fields=", ".join(f"« {key} »" for key in missing))
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        extra = sorted(str(key) for key in instance if key not in known)
        return _("champ inattendu %(fields)s", fields=", ".join(f"« {key} »" for key in extra))
    if error.validator == "type":
        return _("la valeur n'a pas le bon type (attendu : %(expected)s)", expected=expected)
    if error.validator in ("enum", "const"):
        return _("la valeur « %(value)s » n'est pas permise", value=instance)
    if error.validator in ("oneOf", "anyOf") and isinstance(instance, dict) and "cell_type" in instance:
        return _("type de cellule « %(kind)s » inconnu ou cellule incomplète (types connus : %(known)s)",
                 kind=instance["cell_type"], known=", ".join(CELL_TYPES))
    return _("structure incorrecte (%(detail)s)", detail=error.message[:160])

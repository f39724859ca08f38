"""A student's notebook made ready for a read-only page, with nothing from the student run.

Cells keep their order.  Markdown and raw cells are given as text (the page
shows it escaped; no HTML a student wrote is ever rendered), code as text,
outputs as text (streams, ``text/plain``, error tracebacks without their ANSI
colour codes) or as images, for ``image/png`` and ``image/jpeg`` only and only
when their data is plain base64.  Other kinds of output are named, not shown.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from jsonschema import ValidationError

from capytale.errors import PlatformError
from services.activities.notebooks import as_v4

ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
IMAGE_TYPES = ("image/png", "image/jpeg")


@dataclass(frozen=True)
class Output:
    """One output: ``text``, an image as a ``data:`` URI, or only the ``hidden`` kind's name."""

    text: str | None = None
    image: str | None = None
    hidden: str | None = None


@dataclass(frozen=True)
class Cell:
    kind: str  # code, markdown or raw
    source: str
    execution_count: int | None = None
    outputs: list[Output] = field(default_factory=list)


def _text(value: object) -> str:
    """Notebook text, which may be a string or a list of lines."""
    if isinstance(value, list):
        return "".join(str(part) for part in value)
    return "" if value is None else str(value)


def strip_ansi(text: str) -> str:
    return ANSI_ESCAPE.sub("", text)


def _image(mime: str, data: object) -> str | None:
    """A ``data:`` URI for base64 image data, None for anything that is not plain base64."""
    encoded = "".join(_text(data).split())
    return f"data:{mime};base64,{encoded}" if encoded and BASE64.fullmatch(encoded) else None


def _output(output: dict) -> Output:
    kind = output.get("output_type")
    if kind == "stream":
        return Output(text=strip_ansi(_text(output.get("text"))))
    if kind == "error":
        traceback = _text([line + "\n" for line in output.get("traceback") or []])
        return Output(text=strip_ansi(traceback or f"{output.get('ename')}: {output.get('evalue')}"))
    data = output.get("data") or {}
    for mime in IMAGE_TYPES:
        if mime in data and (uri := _image(mime, data[mime])):
            return Output(image=uri)
    if "text/plain" in data:
        return Output(text=strip_ansi(_text(data["text/plain"])))
    return Output(hidden=", ".join(sorted(data)) or str(kind))


def render_cells(text: str) -> list[Cell]:
    """The cells of the notebook ``text`` (any format nbformat reads), ready for the template."""
    try:
        return [_cell(cell) for cell in as_v4(text).get("cells", [])]
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError) as exc:
        raise PlatformError(
            "Ce notebook est abîmé : il ne peut pas être affiché ici. Tu peux toujours le télécharger.",
            log_message=f"unreadable notebook: {exc!r}", reason="unreadable_notebook", status=422,
        ) from None


def _cell(cell: dict) -> Cell:
    kind = cell.get("cell_type")
    if kind == "code":
        return Cell(kind, _text(cell.get("source")), cell.get("execution_count"),
                    [_output(output) for output in cell.get("outputs", [])])
    return Cell(kind if kind == "markdown" else "raw", _text(cell.get("source")))

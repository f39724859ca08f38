"""A student's notebook made ready for a read-only page, with nothing from the student run.

Cells keep their order.  Markdown is rendered (CommonMark and tables, by
markdown-it-py) and the HTML it gives, together with any HTML output
(``text/html``: a pandas table…), goes through nh3's allow-list sanitizer: no
``<script>``, ``<style>``, ``<iframe>``, form or event attribute (``onerror=``)
survives.  A link keeps its address only when it is ``http``, ``https`` or
``mailto``: no ``javascript:``, ``vbscript:`` nor ``data:`` (an HTML page, an SVG
with scripts), and no relative address either, which from this page could only
reach the platform's own paths (``/auth/logout``…), never the student's files.
Images in that HTML lose their source: the page's policy shows none from other
sites, and one from the platform itself could only be a request made in the
teacher's name.  Raw cells and code are text, escaped by the template; outputs
are text (streams, ``text/plain``, error tracebacks without their ANSI colour
codes) or images, for ``image/png`` and ``image/jpeg`` only and only when their
data is plain base64: these are the page's only ``data:`` addresses, written by
the template.  Other kinds of output are named, not shown.  The page's
Content-Security-Policy (:mod:`capytale.web`) is the second wall: even a
sanitizer bug could not run a script there.  Each cell carries the key a teacher's
note names it by (:func:`feedback.cell_keys`); the feedback cells the platform put
in a returned copy are marked as such.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask_babel import gettext as _
from jsonschema import ValidationError
from markdown_it import MarkdownIt
from markupsafe import Markup
import nh3

from capytale.errors import PlatformError
from services.activities.feedback import is_feedback
from services.activities.notebooks import as_v4
from services.activities.protection import is_protected

ANSI_ESCAPE = re.compile(r"\x1b(?:\[[0-?]*[ -/]*[@-~]|[@-Z\\-_])")
BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
IMAGE_TYPES = ("image/png", "image/jpeg")
URL_SCHEMES = frozenset({"http", "https", "mailto"})
SCHEME = re.compile(r"([a-z][a-z0-9+.-]*):", re.IGNORECASE)
# nh3's allowed attributes, less an image's source (see the module's docstring) and ``cite`` (an address nh3
# does not check, which nothing on the page needs)
ATTRIBUTES = {tag: set(names) - {"cite"} - ({"src"} if tag == "img" else set())
              for tag, names in nh3.ALLOWED_ATTRIBUTES.items()}
# Links open outside the platform's page and tell the target nothing of where they come from.
LINK_REL = "noopener noreferrer nofollow"


class _Markdown(MarkdownIt):
    """CommonMark whose links and images name no scheme but those of :data:`URL_SCHEMES`.

    markdown-it's own check lets ``data:image/…`` through; here a link to another
    scheme is not a link at all and its markdown stays as text.
    """

    def validateLink(self, url: str) -> bool:  # noqa: N802 - markdown-it's name
        scheme = SCHEME.match(url.strip())
        return scheme is None or scheme.group(1).lower() in URL_SCHEMES


MARKDOWN = _Markdown("commonmark", {"html": True}).enable("table")


def sanitized(html: str) -> Markup:
    """``html`` with only harmless tags, attributes and addresses left (no scripts, no handlers, no ``data:``)."""
    return Markup(nh3.clean(html, attributes=ATTRIBUTES, link_rel=LINK_REL, url_schemes=set(URL_SCHEMES),
                            url_relative="deny"))


@dataclass(frozen=True)
class Output:
    """One output: ``text``, sanitized ``html``, an image as a ``data:`` URI, or only the ``hidden`` kind's name."""

    text: str | None = None
    image: str | None = None
    hidden: str | None = None
    html: Markup | None = None


@dataclass(frozen=True)
class Cell:
    kind: str  # code, markdown or raw
    source: str
    execution_count: int | None = None
    outputs: list[Output] = field(default_factory=list)
    html: Markup | None = None  # markdown cells, rendered then sanitized
    protected: bool = False  # the teacher's cell, read-only in the student's copy
    key: str = ""  # what a teacher's note on this cell names (feedback.cell_keys); none for the platform's cells
    feedback: bool = False  # a cell of the teacher's feedback the platform put in the student's copy


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
    if "text/html" in data:
        return Output(html=sanitized(_text(data["text/html"])))
    if "text/plain" in data:
        return Output(text=strip_ansi(_text(data["text/plain"])))
    return Output(hidden=", ".join(sorted(data)) or str(kind))


def render_cells(text: str) -> list[Cell]:
    """The cells of the notebook ``text`` (any format nbformat reads), ready for the template."""
    try:
        cells, position = [], 0
        for cell in as_v4(text).get("cells", []):
            if is_feedback(cell):
                cells.append(_cell(cell, "", feedback=True))
                continue
            cells.append(_cell(cell, str(cell.get("id") or f"cell-{position}")))
            position += 1
        return cells
    except (ValueError, KeyError, TypeError, AttributeError, ValidationError, RecursionError) as exc:
        raise PlatformError(
            _("Ce notebook est abîmé : il ne peut pas être affiché ici. Tu peux toujours le télécharger."),
            log_message=f"unreadable notebook: {exc!r}", reason="unreadable_notebook", status=422,
        ) from None


def _cell(cell: dict, key: str, feedback: bool = False) -> Cell:
    kind = cell.get("cell_type")
    source = _text(cell.get("source"))
    marks = {"protected": is_protected(cell), "key": key, "feedback": feedback}
    if kind == "code":
        return Cell(kind, source, cell.get("execution_count"),
                    [_output(output) for output in cell.get("outputs", [])], **marks)
    if kind == "markdown":
        return Cell(kind, source, html=sanitized(MARKDOWN.render(source)), **marks)
    return Cell("raw", source, **marks)

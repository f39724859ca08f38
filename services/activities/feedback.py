"""The teacher's feedback on a copy: a grade on the activity's scale, an appréciation, notes on cells.

**Grades.** An activity is graded in points, out of ``grade_max`` (20 by default, a
number from 1 to 1000), or in levels: ``acquis``, ``en_cours_d_acquisition``,
``non_acquis`` (the French words are accepted too).  A number off the scale, or a
level on a scale of points, is refused (400, ``grade_off_scale``).

**Cells.** A note is about one cell of the notebook the teacher reads (the snapshot
once handed in), named by its nbformat ``id``; a cell of an old notebook without ids is
``cell-<n>``, its position counting from 0 (the platform's own cells left out).  A note
on a cell that is not there is refused (400, ``unknown_cell``).

**In the student's copy.** When the feedback is released (the copy marked corrected,
or given back), :func:`with_feedback` rebuilds the student's notebook from the snapshot
with read-only markdown cells (``editable``/``deletable`` false, metadata
``capytale.feedback``, tag ``capytale-correction``): one with the grade and the
appréciation at the top, and one after each noted cell.  These are what Notebook 7
shows without any extension, and what a student cannot edit or delete from its
interface.  The platform's earlier feedback cells are removed first, so a copy
corrected twice carries the latest feedback only.
"""
from __future__ import annotations

import math
import secrets
import warnings
from typing import Any, Mapping

import nbformat
from flask_babel import gettext as _, lazy_gettext as _l
from nbformat import NotebookNode
from nbformat.warnings import MissingIDFieldWarning

from capytale.errors import PlatformError
from services.activities.models import Activity
from services.activities.notebooks import as_v4

POINTS, LEVELS = "points", "levels"
LEVEL_LABELS = {
    "acquis": _l("acquis"),
    "en_cours_d_acquisition": _l("en cours d'acquisition"),
    "non_acquis": _l("non acquis"),
}
LEVEL_WORDS = {"acquis": "acquis", "en cours d'acquisition": "en_cours_d_acquisition", "non acquis": "non_acquis"}
MAX_COMMENT = 10_000
MAX_NOTE = 5_000
TAG = "capytale-correction"


def _refuse(message: str, reason: str, detail: str) -> PlatformError:
    return PlatformError(message, log_message=detail, reason=reason, status=400)


# --- the scale ---------------------------------------------------------------------------


def read_scale(value: object) -> tuple[str, int | None]:
    """``{"scheme": "points", "max": 20}`` or ``{"scheme": "levels"}`` → (scheme, max); 400 otherwise."""
    if not isinstance(value, Mapping) or value.get("scheme") not in (POINTS, LEVELS):
        raise _refuse(_("Le barème doit être {\"scheme\": \"points\", \"max\": 20} ou {\"scheme\": \"levels\"}."),
                      "bad_grading", f"grading {value!r}")
    if value["scheme"] == LEVELS:
        return LEVELS, None
    top = value.get("max", 20)
    if isinstance(top, bool) or not isinstance(top, int) or not 1 <= top <= 1000:
        raise _refuse(_("La note maximale doit être un nombre entier de 1 à 1000."), "bad_grading",
                      f"grade max {top!r}")
    return POINTS, top


def scale_json(activity: Activity) -> dict:
    if activity.grading == LEVELS:
        return {"scheme": LEVELS, "levels": list(LEVEL_LABELS)}
    return {"scheme": POINTS, "max": activity.grade_max}


def read_grade(activity: Activity, value: object) -> float | str | None:
    """A grade on ``activity``'s scale (a French decimal comma accepted from a form); None for no grade."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if activity.grading == LEVELS:
        level = LEVEL_WORDS.get(str(value).strip().lower(), str(value).strip().lower())
        if level not in LEVEL_LABELS:
            raise _refuse(_("Cette activité est évaluée par niveaux : la note doit être « acquis », « en cours "
                            "d'acquisition » ou « non acquis »."), "grade_off_scale", f"level {value!r}")
        return level
    number = value
    if isinstance(value, str):
        try:
            number = float(value.strip().replace(",", "."))
        except ValueError:
            number = None
    if isinstance(number, bool) or not isinstance(number, (int, float)) or not math.isfinite(number) \
            or not 0 <= number <= activity.grade_max:
        raise _refuse(_("La note doit être un nombre de 0 à %(max)s.", max=activity.grade_max), "grade_off_scale",
                      f"grade {value!r} off 0..{activity.grade_max}")
    return round(float(number), 2)


def fits(activity: Activity, grade: float | str | None) -> bool:
    """Whether ``grade`` (a stored one) is on ``activity``'s scale."""
    try:
        read_grade(activity, grade)
    except PlatformError:
        return False
    return True


def grade_text(activity: Activity, grade: float | str | None, decimal: str = ",") -> str:
    """``15,5 / 20``, ``acquis``; empty for no grade."""
    if grade is None:
        return ""
    if isinstance(grade, str):
        return str(LEVEL_LABELS.get(grade, grade))
    number = f"{grade:g}".replace(".", decimal)
    return f"{number} / {activity.grade_max}" if activity.grading == POINTS else number


def grade_in_french(activity: Activity, grade: float | str | None) -> str:
    """The grade as the student's notebook says it (its texts are French)."""
    if isinstance(grade, str):
        return grade.replace("_d_", " d'").replace("_", " ")
    return grade_text(activity, grade)


def number_text(grade: float | str | None, decimal: str = ",") -> str:
    """A grade alone, for a spreadsheet cell: ``15,5``, or the level's words."""
    if grade is None:
        return ""
    if isinstance(grade, str):
        return str(LEVEL_LABELS.get(grade, grade))
    return f"{grade:g}".replace(".", decimal)


# --- cells -------------------------------------------------------------------------------


def is_feedback(cell: Mapping) -> bool:
    """A cell the platform put there for the teacher's feedback."""
    capytale = (cell.get("metadata") or {}).get("capytale")
    return isinstance(capytale, Mapping) and "feedback" in capytale


def cell_keys(notebook: NotebookNode) -> list[tuple[str, NotebookNode]]:
    """Each cell a note may be about, with its key: its id, else ``cell-<n>`` (feedback cells left out)."""
    cells = [cell for cell in notebook.get("cells", []) if not is_feedback(cell)]
    return [(str(cell.get("id") or f"cell-{n}"), cell) for n, cell in enumerate(cells)]


def keys_of(content: bytes) -> list[str]:
    """The keys of a stored notebook's cells; none when it cannot be read."""
    try:
        return [key for key, _cell in cell_keys(as_v4(content.decode("utf-8-sig")))]
    except Exception:  # noqa: BLE001 - a spoiled notebook has no cell to note
        return []


def read_comment(value: object) -> str:
    if not isinstance(value, str):
        raise _refuse(_("L'appréciation doit être un texte."), "bad_comment", f"comment {value!r}")
    if len(value) > MAX_COMMENT:
        raise _refuse(_("L'appréciation est trop longue (%(max)s caractères au plus).", max=MAX_COMMENT),
                      "bad_comment", f"comment of {len(value)} characters")
    return value.strip()


def read_cell_notes(value: object, keys: list[str]) -> dict[str, str]:
    """``{cell key: note}`` checked against the notebook's cells; an empty note removes the cell's note."""
    if not isinstance(value, Mapping):
        raise _refuse(_("« cells » doit associer à l'identifiant d'une cellule la remarque sur cette cellule."),
                      "bad_cells", f"cells {value!r}")
    notes = {}
    known = set(keys)
    for key, note in value.items():
        if key not in known:
            raise _refuse(_("La cellule « %(cell)s » n'existe pas dans cette copie : la remarque ne peut pas lui "
                            "être attachée.", cell=key), "unknown_cell", f"no cell {key!r}")
        if not isinstance(note, str) or len(note) > MAX_NOTE:
            raise _refuse(_("La remarque sur une cellule doit être un texte de %(max)s caractères au plus.",
                            max=MAX_NOTE), "bad_cells", f"note on {key!r}: {note!r:.80}")
        if note.strip():
            notes[key] = note.strip()
    return notes


# --- the student's notebook ----------------------------------------------------------------


def _quoted(text: str) -> str:
    """Teacher's text as a quoted markdown block, line breaks kept, nothing read as HTML."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(f"> {line}  " if line else ">" for line in escaped.split("\n"))


def _feedback_cell(markdown: str, kind: str, **more: Any) -> NotebookNode:
    return nbformat.v4.new_markdown_cell(markdown, metadata={
        "editable": False, "deletable": False, "tags": [TAG], "capytale": {"feedback": kind, **more}})


# The texts written into the students' notebooks are French, like the instructions' "Consigne".
SUMMARY_TITLE = "Correction de ton enseignant·e"
GRADE_WORD = "Note"
COMMENT_WORD = "Appréciation"
NOTE_TITLE = "Remarque de ton enseignant·e"


def summary_markdown(grade: str, comment: str) -> str:
    lines = [f"**{SUMMARY_TITLE}**"]
    if grade:
        lines.append(f"{GRADE_WORD} : **{grade}**")
    if comment:
        lines += [f"{COMMENT_WORD} :", *comment.split("\n")]
    return _quoted("\n".join(lines))


def with_feedback(content: bytes, grade: str, comment: str, notes: Mapping[str, str]) -> bytes:
    """The notebook ``content`` with the feedback as read-only cells (the previous ones removed)."""
    notebook = as_v4(content.decode("utf-8-sig"))
    kept = [cell for cell in notebook.get("cells", []) if not is_feedback(cell)]
    notebook["cells"] = kept
    keyed = {id(cell): key for key, cell in cell_keys(notebook)}
    cells = []
    for cell in kept:
        cells.append(cell)
        key = keyed.get(id(cell))
        if key in notes:
            cells.append(_feedback_cell(_quoted(f"**{NOTE_TITLE} :** {notes[key]}"), "cell", cell=key))
    if grade or comment:
        at = 1 if cells and ((cells[0].get("metadata") or {}).get("capytale") or {}).get("instructions") else 0
        cells.insert(at, _feedback_cell(summary_markdown(grade, comment), "summary"))
    notebook["cells"] = cells
    if (notebook.get("nbformat"), notebook.get("nbformat_minor", 0)) < (4, 5):
        notebook["nbformat_minor"] = 5  # the new cells have ids: so must every cell
    for cell in cells:  # a cell without an id gets its key as id: the teacher's notes still name it
        cell.setdefault("id", keyed.get(id(cell)) or secrets.token_hex(4))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        return nbformat.writes(notebook).encode("utf-8")

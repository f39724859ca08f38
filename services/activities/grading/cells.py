"""Which cells of a teacher's notebook are checks, which are the student's answers, what in them is hidden.

A **check** is a code cell whose run says passed or failed and is worth points.  A teacher marks one
in any of three ways:

- **nbgrader** (``problem1.ipynb``): an autograder test cell, metadata ``"nbgrader": {"grade": true,
  "solution": false, "points": 1, "grade_id": "correct_squares"}``; it passes when it raises nothing.
- **nbautoeval** (``demo02-moreargs.ipynb``): a code cell calling ``<exercise>.correction(<function>)``
  in a notebook that uses nbautoeval (it names it, or the exercise is called ``exo…``).  It passes when
  every call nbautoeval made in that cell found the right results; nbautoeval writes that into its
  trace, which the grading reads (:mod:`.assembly`), never into an error.  One point unless the
  cell says otherwise (below).
- **The platform's own**: metadata ``"capytale": {"check": {"points": 2, "id": "ex1"}}`` on a code
  cell (``attempts``: the most "Vérifier" a student gets for it); it passes when it raises nothing.
  The same metadata on an nbgrader or nbautoeval cell changes its points, id or attempts.

In any cell, the lines from ``### BEGIN HIDDEN TESTS`` to ``### END HIDDEN TESTS`` (nbgrader's
markers, any case, any comment sign) are **hidden tests**: run at hand-in, never shown to a student
(a marker left open hides the rest of the cell).  The lines from ``### BEGIN SOLUTION`` to ``### END
SOLUTION`` are the teacher's solution; a student gets a stub in their place, and an nbgrader solution
cell without markers is a stub as a whole, as nbgrader releases it.

nbgrader's cells graded by hand (``grade`` and ``solution`` both true, or ``task``) are
:class:`ManualPart`: their points are the teacher's to give, outside the proposed score.

A check's **fingerprint** is a hash of what the student is given of it (its visible source): the
server recomputes it from the teacher's notebook and compares, so a check cell the student changed
or deleted is seen, and nothing of it is written into the student's file.
"""
from __future__ import annotations

import hashlib
import math
import re
from dataclasses import dataclass
from typing import Any, Iterable, Mapping

BEGIN_HIDDEN = "BEGIN HIDDEN TESTS"
END_HIDDEN = "END HIDDEN TESTS"
BEGIN_SOLUTION = "BEGIN SOLUTION"
END_SOLUTION = "END SOLUTION"

# What replaces a solution in the student's version, by kernel language (nbgrader's stubs, in French).
CODE_STUBS = {
    "python": "# VOTRE CODE ICI\nraise NotImplementedError()",
    "ocaml": "(* VOTRE CODE ICI *)\nfailwith \"à compléter\"",
    "sql": "-- VOTRE REQUÊTE ICI",
}
TEXT_STUB = "VOTRE RÉPONSE ICI"

NBGRADER = "nbgrader"
NBAUTOEVAL = "nbautoeval"
CAPYTALE = "capytale"
KINDS = (NBGRADER, NBAUTOEVAL, CAPYTALE)

# `exo_curve.correction(curve)`, alone on its line or assigned (`result = exo.correction(f)`).
CORRECTION_CALL = re.compile(r"^[ \t]*(?:[A-Za-z_]\w*[ \t]*=[ \t]*)?(?P<exercise>[A-Za-z_]\w*)\.correction[ \t]*\(",
                             re.MULTILINE)
MAX_ID = 100


@dataclass(frozen=True)
class Check:
    """One check of the teacher's notebook.  ``source`` holds the hidden tests: server side only."""

    id: str
    kind: str  # nbgrader, nbautoeval or capytale
    points: float
    index: int  # the cell's position in the teacher's notebook
    source: str  # the teacher's source, hidden tests included
    max_attempts: int | None = None  # "Vérifier" per student; None: no limit
    exercise: str | None = None  # nbautoeval: the exercise's name (``exo_curve``)

    @property
    def visible_source(self) -> str:
        """What a student is given of this check: its source without the hidden tests."""
        return without_hidden_tests(self.source)

    @property
    def has_hidden_tests(self) -> bool:
        return self.visible_source != self.source

    @property
    def fingerprint(self) -> str:
        return fingerprint("code", self.visible_source)

    def manifest(self) -> dict[str, Any]:
        """What the server keeps of this check besides the teacher's notebook (no source at all)."""
        return {"id": self.id, "kind": self.kind, "points": self.points, "fingerprint": self.fingerprint,
                "hidden_tests": self.has_hidden_tests, "max_attempts": self.max_attempts}


@dataclass(frozen=True)
class ManualPart:
    """A cell nbgrader leaves to the teacher to grade by hand (a written answer, a task)."""

    id: str
    points: float
    index: int


def source_of(cell: Mapping[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def normalised(source: str) -> str:
    """``source`` as compared: line ends as ``\\n``, no trailing spaces, no blank lines at the end."""
    return "\n".join(line.rstrip() for line in source.replace("\r\n", "\n").replace("\r", "\n").split("\n")).rstrip("\n")


def fingerprint(cell_type: str, source: str) -> str:
    return hashlib.sha256(f"capytale-check-v1\0{cell_type}\0{normalised(source)}".encode()).hexdigest()


def cell_fingerprint(cell: Mapping[str, Any]) -> str:
    return fingerprint(str(cell.get("cell_type", "")), source_of(cell))


# --- markers ------------------------------------------------------------------------------------

def _marks(line: str, marker: str) -> bool:
    return marker.lower() in line.lower()


def without_hidden_tests(source: str) -> str:
    """``source`` with every hidden-tests block removed, its marker lines included."""
    if BEGIN_HIDDEN.lower() not in source.lower() and END_HIDDEN.lower() not in source.lower():
        return source
    kept, hidden = [], False
    for line in source.splitlines(keepends=True):
        if _marks(line, BEGIN_HIDDEN):
            hidden = True
        elif _marks(line, END_HIDDEN):
            hidden = False
        elif not hidden:
            kept.append(line)
    return "".join(kept).rstrip("\n")


def has_solution_region(source: str) -> bool:
    return _marks(source, BEGIN_SOLUTION)


def without_solution(source: str, stub: str) -> str:
    """``source`` with each solution region replaced by ``stub``, indented as the region's marker."""
    kept, in_solution = [], False
    for line in source.splitlines(keepends=True):
        if _marks(line, BEGIN_SOLUTION):
            in_solution = True
            indent = line[: len(line) - len(line.lstrip())]
            kept.extend(f"{indent}{stub_line}\n" for stub_line in stub.split("\n"))
        elif _marks(line, END_SOLUTION):
            in_solution = False
        elif not in_solution:
            kept.append(line)
    return "".join(kept).rstrip("\n")


def code_stub(language: str) -> str:
    return CODE_STUBS.get(language.lower(), CODE_STUBS["python"])


def language_of(notebook: Mapping[str, Any]) -> str:
    metadata = notebook.get("metadata") or {}
    kernelspec = metadata.get("kernelspec") or {}
    info = metadata.get("language_info") or {}
    return str(kernelspec.get("language") or info.get("name") or "python")


# --- metadata -----------------------------------------------------------------------------------

def _metadata(cell: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = (cell.get("metadata") or {}).get(key)
    return value if isinstance(value, Mapping) else {}


def nbgrader_of(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    return _metadata(cell, "nbgrader")


def capytale_check_of(cell: Mapping[str, Any]) -> Mapping[str, Any]:
    check = _metadata(cell, "capytale").get("check")
    return check if isinstance(check, Mapping) else {}


def is_answer(cell: Mapping[str, Any]) -> bool:
    """A cell left for the student to write in (nbgrader's solution cells)."""
    return nbgrader_of(cell).get("solution") is True


def is_locked(cell: Mapping[str, Any]) -> bool:
    """A cell nbgrader locks (the student gets it read-only); never an answer."""
    return nbgrader_of(cell).get("locked") is True and not is_answer(cell)


def claimed_ids(cell: Mapping[str, Any]) -> set[str]:
    """The check ids a cell's metadata names (a student's file may say anything: only a hint)."""
    ids = {capytale_check_of(cell).get("id"), nbgrader_of(cell).get("grade_id")}
    return {i for i in ids if isinstance(i, str) and i}


def _points(value: Any, default: float) -> float:
    if isinstance(value, bool) or value is None:
        return default
    try:
        points = float(value)
    except (TypeError, ValueError):
        return default
    return points if math.isfinite(points) and points >= 0 else default


def _attempts(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def _clean_id(value: Any) -> str | None:
    return value.strip()[:MAX_ID] if isinstance(value, str) and value.strip() else None


# --- finding them -------------------------------------------------------------------------------

def uses_nbautoeval(cells: Iterable[Mapping[str, Any]]) -> bool:
    return any(cell.get("cell_type") == "code" and NBAUTOEVAL in source_of(cell) for cell in cells)


def _kind(cell: Mapping[str, Any], nbautoeval_notebook: bool) -> tuple[str, str | None] | None:
    if cell.get("cell_type") != "code":
        return None
    grading = nbgrader_of(cell)
    if grading.get("grade") is True and grading.get("solution") is not True and grading.get("task") is not True:
        return NBGRADER, None
    call = CORRECTION_CALL.search(without_hidden_tests(source_of(cell)))
    if call and (nbautoeval_notebook or call["exercise"].startswith("exo")):
        return NBAUTOEVAL, call["exercise"]
    if isinstance(_metadata(cell, "capytale").get("check"), Mapping):
        return CAPYTALE, None
    return None


def _unique(wanted: str, taken: set[str]) -> str:
    candidate, n = wanted, 1
    while candidate in taken:
        n += 1
        candidate = f"{wanted}-{n}"
    taken.add(candidate)
    return candidate


def find_checks(notebook: Mapping[str, Any]) -> list[Check]:
    """The checks of ``notebook``, in its order, each with an id unique in it."""
    cells = list(notebook.get("cells") or [])
    nbautoeval_notebook = uses_nbautoeval(cells)
    checks, taken = [], set()
    for index, cell in enumerate(cells):
        found = _kind(cell, nbautoeval_notebook)
        if found is None:
            continue
        kind, exercise = found
        own, grading = capytale_check_of(cell), nbgrader_of(cell)
        wanted = (_clean_id(own.get("id")) or _clean_id(grading.get("grade_id")) or exercise
                  or f"verification-{index + 1}")
        default_points = _points(grading.get("points"), 0.0) if kind == NBGRADER else 1.0
        checks.append(Check(id=_unique(wanted, taken), kind=kind, points=_points(own.get("points"), default_points),
                            index=index, source=source_of(cell), max_attempts=_attempts(own.get("attempts")),
                            exercise=exercise))
    return checks


def manual_parts(notebook: Mapping[str, Any]) -> list[ManualPart]:
    """nbgrader's cells graded by hand: written answers worth points, tasks."""
    parts = []
    for index, cell in enumerate(notebook.get("cells") or []):
        grading = nbgrader_of(cell)
        if grading.get("grade") is True and grading.get("solution") is True or grading.get("task") is True:
            parts.append(ManualPart(id=_clean_id(grading.get("grade_id")) or f"cellule-{index + 1}",
                                    points=_points(grading.get("points"), 0.0), index=index))
    return parts

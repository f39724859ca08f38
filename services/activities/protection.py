"""What a student's notebook gets beyond the master: the instructions on top, the teacher's cells protected.

The activity's instructions, when there are any, become the first cell of the
copy: a markdown cell (marked ``"capytale": {"instructions": true}``, read-only)
that the student sees as soon as the notebook opens.

The teacher's cells are protected in a student's copy through the metadata Jupyter honours.

Notebook 7 and JupyterLab keep a cell whose metadata says ``"editable": false``
from being edited and one that says ``"deletable": false`` from being deleted
(the notebook format documents both keys).  A student still runs these cells,
adds cells of their own, code or text, and edits those.  The places a notebook
leaves for the student's answers are never protected: nbgrader's solution cells
(``"nbgrader": {"solution": true}``), code or markdown, stay editable.  Only the
copy is changed; the master stays as the teacher sent it.  It is a guard against mistakes, not a lock: a
student who knows Jupyter can change the metadata back in their own copy.

The copy opens on the students' kernel the notebook maps to (:mod:`capytale.kernels`):
when the master's kernelspec does not name that kernel exactly (``ocaml-jupyter``,
a VS Code ``python36964bit…``, none at all), the copy's ``metadata.kernelspec``
becomes the kernel's own; the rest of the metadata stays.  A kernel the
environment does not have leaves the kernelspec as the teacher gave it.  When
nothing is to change, the copy is the master byte for byte.
"""
from __future__ import annotations

import warnings

import nbformat
from nbformat.warnings import MissingIDFieldWarning

from capytale.kernels import Kernels
from services.activities.notebooks import as_v4


def prepared_copy(content: bytes, protect: bool, instructions: str, kernels: Kernels | None = None) -> bytes | None:
    """The student's notebook made from the master's ``content``; None when it is the master as is.

    ``kernels``: the students' kernels, the copy's kernelspec is made to name the one found."""
    if kernels is None and not protect and not instructions:
        return None
    notebook = as_v4(content.decode("utf-8-sig"))
    kernelspec = kernels.kernelspec_for(notebook.get("metadata")) if kernels is not None else None
    if not protect and not instructions and kernelspec is None:
        return None
    if kernelspec is not None:
        notebook.setdefault("metadata", nbformat.NotebookNode())["kernelspec"] = nbformat.from_dict(kernelspec)
    if protect:
        for cell in notebook.get("cells", []):
            if is_answer(cell):
                continue
            cell.setdefault("metadata", {})
            cell["metadata"]["editable"] = False
            cell["metadata"]["deletable"] = False
    if instructions:
        cell = nbformat.v4.new_markdown_cell(
            _instructions_markdown(instructions),
            metadata={"editable": False, "deletable": False, "capytale": {"instructions": True}})
        notebook["cells"].insert(0, cell)
    with warnings.catch_warnings():
        # a format 4.5 master without cell ids (accepted at upload): nbformat gives the copy's cells ids
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        return nbformat.writes(notebook).encode("utf-8")


def _instructions_markdown(text: str) -> str:
    """The instructions as a quoted markdown block, line breaks kept, nothing the text holds read as HTML."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(f"> {line}  " if line else ">" for line in [f"**{CONSIGNE}**", *escaped.split("\n")])


CONSIGNE = "Consigne"


def is_answer(cell: dict) -> bool:
    """A cell the notebook leaves for the student to write in (nbgrader's solution cells)."""
    grading = (cell.get("metadata") or {}).get("nbgrader") or {}
    return isinstance(grading, dict) and grading.get("solution") is True


def is_protected(cell: dict) -> bool:
    metadata = cell.get("metadata") or {}
    return metadata.get("editable") is False and metadata.get("deletable") is False

"""What a student's notebook gets beyond the master: the instructions on top, the teacher's cells protected.

The activity's instructions, when there are any, become the first cell of the
copy: a markdown cell (marked ``"capytale": {"instructions": true}``, read-only)
that the student sees as soon as the notebook opens.

The teacher's cells are protected in a student's copy through the metadata Jupyter honours.

Notebook 7 and JupyterLab keep a cell whose metadata says ``"editable": false``
from being edited and one that says ``"deletable": false`` from being deleted
(the notebook format documents both keys).  A student still runs these cells,
adds cells of their own and edits those.  Only the copy is changed; the master
stays as the teacher sent it.  It is a guard against mistakes, not a lock: a
student who knows Jupyter can change the metadata back in their own copy.
"""
from __future__ import annotations

import nbformat

from services.activities.notebooks import as_v4


def prepared_copy(content: bytes, protect: bool, instructions: str) -> bytes | None:
    """The student's notebook made from the master's ``content``; None when it is the master as is."""
    if not protect and not instructions:
        return None
    notebook = as_v4(content.decode("utf-8-sig"))
    if protect:
        for cell in notebook.get("cells", []):
            cell.setdefault("metadata", {})
            cell["metadata"]["editable"] = False
            cell["metadata"]["deletable"] = False
    if instructions:
        cell = nbformat.v4.new_markdown_cell(
            _instructions_markdown(instructions),
            metadata={"editable": False, "deletable": False, "capytale": {"instructions": True}})
        notebook["cells"].insert(0, cell)
    return nbformat.writes(notebook).encode("utf-8")


def _instructions_markdown(text: str) -> str:
    """The instructions as a quoted markdown block, line breaks kept, nothing the text holds read as HTML."""
    escaped = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return "\n".join(f"> {line}  " if line else ">" for line in [f"**{CONSIGNE}**", *escaped.split("\n")])


CONSIGNE = "Consigne"


def is_protected(cell: dict) -> bool:
    metadata = cell.get("metadata") or {}
    return metadata.get("editable") is False and metadata.get("deletable") is False

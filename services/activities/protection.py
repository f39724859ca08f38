"""The teacher's cells, protected in a student's copy through the metadata Jupyter honours.

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


def protected(content: bytes) -> bytes:
    """``content`` (a notebook) with every cell read-only and undeletable."""
    notebook = as_v4(content.decode("utf-8-sig"))
    for cell in notebook.get("cells", []):
        cell.setdefault("metadata", {})
        cell["metadata"]["editable"] = False
        cell["metadata"]["deletable"] = False
    return nbformat.writes(notebook).encode("utf-8")


def is_protected(cell: dict) -> bool:
    metadata = cell.get("metadata") or {}
    return metadata.get("editable") is False and metadata.get("deletable") is False

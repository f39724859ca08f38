"""A notebook given as bytes (as stored), text, a dict or a NotebookNode, read as a fresh format-4 copy."""
from __future__ import annotations

import copy
import warnings
from typing import Any

import nbformat
from nbformat import NotebookNode
from nbformat.warnings import MissingIDFieldWarning

from services.activities.notebooks import as_v4


def as_notebook(value: bytes | str | dict[str, Any] | NotebookNode) -> NotebookNode:
    """A copy of ``value`` in format 4 that the caller may change (the given notebook never is)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8-sig")
    if isinstance(value, str):
        return as_v4(value)
    return nbformat.from_dict(copy.deepcopy(dict(value)))


def as_bytes(notebook: NotebookNode) -> bytes:
    """``notebook`` written as Jupyter writes it."""
    with warnings.catch_warnings():
        # a format 4.5 notebook without cell ids: nbformat gives its cells ids
        warnings.simplefilter("ignore", MissingIDFieldWarning)
        return nbformat.writes(notebook).encode("utf-8")

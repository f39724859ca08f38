"""The students' copies as their teacher sees them: one copy, read-only."""
from __future__ import annotations

from flask import Blueprint, render_template

from capytale.web import login_required
from services.activities import storage
from services.activities.access import teachers_copy
from services.activities.copies import notebook_path, read_notebook
from services.activities.rendering import render_cells
from services.activities.storage import modified_at

bp = Blueprint("copies", __name__)


@bp.get("/<id:activity_id>/copies/<uid>")
@login_required("teacher")
def copy(activity_id: int, uid: str):
    """A student's copy, read-only, as it is on storage now."""
    found, student_copy = teachers_copy(activity_id, uid)
    content = read_notebook(storage.current(), student_copy)
    return render_template(
        "activities/copy.html", activity=found, copy=student_copy,
        updated_at=modified_at(notebook_path(storage.current(), student_copy)),
        cells=render_cells(content.decode("utf-8", errors="replace")),
    )

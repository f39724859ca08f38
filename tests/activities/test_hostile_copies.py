"""What one student does to their own space stays on their copy: a notebook nested too deep, a folder
where the notebook was, a symlink out of their space. The teacher's list, CSV, ZIP and the other copies
are as before; that copy alone says plainly what is wrong. An upload nested too deep is refused."""
from __future__ import annotations

import csv
import io
import os
import shutil
import zipfile

import pytest

from tests.activities.support import DICE, ensure_copy, stored, upload
from tests.activities.test_activity_life import copy_dir

DEEP = b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"


def test_an_upload_nested_too_deep_is_refused_and_nothing_is_stored(app, teacher, data_root):
    before = stored(app, data_root)
    answer = upload(teacher, "profond.ipynb", DEEP, title="Profond")
    assert answer.status_code == 400, answer.get_data(as_text=True)[:300]
    assert "profond.ipynb" in answer.json["error"] and answer.json["reason"] == "too_deep"
    assert stored(app, data_root) == before


def spoil(kind: str, notebook, outside) -> None:
    if kind == "linked folder":  # the whole copy's folder replaced by a link to another place
        shutil.rmtree(notebook.parent)
        os.symlink(outside.parent, notebook.parent)
        return
    notebook.unlink()
    if kind == "deep":
        notebook.write_bytes(DEEP)
    elif kind == "folder":
        notebook.mkdir()
    elif kind == "symlink":
        os.symlink(outside, notebook)


@pytest.mark.parametrize("kind", ["deep", "folder", "symlink", "linked folder"])
def test_one_spoiled_copy_leaves_the_teachers_pages_working(app, teacher, person, activity, data_root, tmp_path,
                                                            kind):
    spoiler, other = person("zoé.casse", "student"), person("léa.sage", "student")
    for who in (spoiler, other):
        assert ensure_copy(app, who, activity["code"]).status_code == 200
    outside = tmp_path / "secret.txt"
    outside.write_text("le secret d'un autre")
    spoil(kind, copy_dir(data_root, spoiler, activity) / DICE, outside)
    base = f"/activities/{activity['id']}"

    page = teacher.client.get(base)
    assert page.status_code == 200 and "zoé.casse" in page.get_data(as_text=True)
    listing = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies")
    assert listing.status_code == 200 and {c["student"]["uid"] for c in listing.json} == {"zoé.casse", "léa.sage"}
    rows = list(csv.reader(io.StringIO(teacher.client.get(f"{base}/copies.csv").data.decode()[1:]), delimiter=";"))
    assert len(rows) == 3
    with teacher.client.get(f"{base}/copies.zip") as answer:  # closing it closes the file
        archive = zipfile.ZipFile(io.BytesIO(answer.data))
    assert f"léa.sage (léa.sage)/{DICE}" in archive.namelist()
    assert not any(b"le secret" in archive.read(name) for name in archive.namelist())

    # the other copy opens; the spoiled one says why, in plain words, with a 4xx
    assert teacher.client.get(f"{base}/copies/léa.sage").status_code == 200
    spoiled = teacher.client.get(f"{base}/copies/zoé.casse")
    assert 400 <= spoiled.status_code < 500, spoiled.status_code
    assert "le secret" not in spoiled.get_data(as_text=True)

    # and the activity can still be deleted, its archive holding the other copy
    assert teacher.client.get(f"{base}/delete").status_code == 200
    done = teacher.client.post(f"{base}/delete", data={"confirm": activity["code"].upper()})
    assert done.status_code == 303
    assert teacher.client.get(base).status_code == 404
    assert outside.read_text() == "le secret d'un autre"  # what the link pointed to is untouched

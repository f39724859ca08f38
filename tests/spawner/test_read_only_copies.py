"""A handed-in copy in its student's server: a file without write permission bits is read-only, even as root.

The activities service marks a handed-in copy by removing its write bits; the
server's contents manager (:mod:`services.spawner.jupyter.contents`) lists it
``writable: false`` and refuses, with Jupyter's own 403, to save, rename, delete or
restore it: the file stays as it was.  These tests run as whatever user runs them
(root here: the case where the system alone would let the save through).
"""
from __future__ import annotations

import json

import nbformat
import pytest
from tornado.web import HTTPError

from services.spawner.jupyter.contents import StudentsContents
from tests.spawner.conftest import run_coroutine


def notebook(text: str) -> dict:
    made = nbformat.v4.new_notebook()
    made.cells = [nbformat.v4.new_code_cell(f"réponse = {text!r}")]
    return json.loads(nbformat.writes(made))


@pytest.fixture
def handed_in(tmp_path):
    """A student's space with a copy saved once, then handed in (its write bits removed)."""
    contents = StudentsContents(root_dir=str(tmp_path))
    (tmp_path / "Dés (abcd2345)").mkdir()
    path = "Dés (abcd2345)/dés.ipynb"
    run_coroutine(contents.save({"type": "notebook", "content": notebook("rendue")}, path))
    (tmp_path / path).chmod(0o444)
    return contents, path, tmp_path / path


def refused(call) -> HTTPError:
    with pytest.raises(HTTPError) as refusal:
        run_coroutine(call)
    assert refusal.value.status_code == 403 and refusal.value.reason == "read_only"
    assert "« dés.ipynb » est en lecture seule : cette copie a été rendue." in refusal.value.log_message
    return refusal.value


def test_a_handed_in_copy_is_listed_read_only(handed_in):
    contents, path, _file = handed_in
    assert run_coroutine(contents.get(path, content=False))["writable"] is False
    listing = run_coroutine(contents.get("Dés (abcd2345)"))
    assert [item["writable"] for item in listing["content"]] == [False]


def test_saving_renaming_deleting_or_restoring_a_handed_in_copy_is_refused(handed_in):
    contents, path, file = handed_in
    before = file.read_bytes()
    checkpoint = run_coroutine(contents.create_checkpoint(path))  # reading it is allowed
    refused(contents.save({"type": "notebook", "content": notebook("changée")}, path))
    refused(contents.rename(path, "Dés (abcd2345)/autre.ipynb"))
    refused(contents.delete(path))
    refused(contents.rename("Dés (abcd2345)", "ailleurs"))
    refused(contents.delete("Dés (abcd2345)"))
    refused(contents.restore_checkpoint(checkpoint["id"], path))
    assert file.read_bytes() == before and oct(file.stat().st_mode & 0o777) == "0o444"


def test_given_back_it_saves_again(handed_in):
    contents, path, file = handed_in
    file.chmod(0o644)
    run_coroutine(contents.save({"type": "notebook", "content": notebook("reprise")}, path))
    assert "reprise" in file.read_text()
    assert run_coroutine(contents.get(path, content=False))["writable"] is True


def test_a_new_file_beside_it_is_the_students_to_write(handed_in):
    contents, _path, file = handed_in
    run_coroutine(contents.save({"type": "notebook", "content": notebook("brouillon")}, "Dés (abcd2345)/brouillon.ipynb"))
    assert (file.parent / "brouillon.ipynb").exists()

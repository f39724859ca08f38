"""A student's server on a full disk: a save is refused (507, in French) and what was saved stays whole.

The contents manager of :mod:`services.spawner.jupyter.contents`, on a small tmpfs:
full to the last byte, and with room for the old notebook but not for the new one
(where Jupyter's own writing left a small notebook truncated).  Coroutines run in a
thread of their own: a browser test of the same session may hold the main thread's
event loop.
"""
from __future__ import annotations

import json

import nbformat
import pytest
from tornado.web import HTTPError

from services.spawner.jupyter import server
from services.spawner.jupyter.contents import StudentsCheckpoints, StudentsContents
from tests.small_disk import PAGE, small_disk
from tests.spawner.conftest import run_coroutine
from tests.spawner.test_server_config import KERNELS, SPEC


def notebook(text: str) -> dict:
    made = nbformat.v4.new_notebook()
    made.cells = [nbformat.v4.new_markdown_cell("# Exercice"), nbformat.v4.new_code_cell(f"réponse = {text!r}")]
    return json.loads(nbformat.writes(made))


def save(contents: StudentsContents, content: dict, path: str = "carnet.ipynb") -> dict:
    return run_coroutine(contents.save({"type": "notebook", "content": content}, path))


@pytest.fixture
def disk(tmp_path):
    with small_disk(tmp_path / "disk", 1) as mounted:
        yield mounted


def test_every_students_server_saves_through_it():
    config = server.server_config(SPEC, as_root=False, kernel_sockets=KERNELS)
    assert config.ServerApp.contents_manager_class is StudentsContents
    assert StudentsContents().checkpoints_class is StudentsCheckpoints


@pytest.mark.parametrize("free_pages", [0, 1], ids=["full-to-the-last-byte", "room-for-the-old-file-only"])
def test_a_save_on_a_full_disk_is_refused_and_the_saved_notebook_stays_whole(disk, free_pages):
    contents = StudentsContents(root_dir=str(disk.root))
    before = notebook("x" * 1500)
    save(contents, before)
    saved = (disk.root / "carnet.ipynb").read_bytes()
    bigger = notebook("y" * 6000)
    assert len(saved) <= PAGE < len(json.dumps(bigger, indent=1)) < 8192  # one page now; two after, in one buffer

    disk.fill()
    disk.leave_free(free_pages)
    with pytest.raises(HTTPError) as refused:
        save(contents, bigger)
    assert refused.value.status_code == 507 and refused.value.reason == "disk_full"
    assert "stockage de la plateforme est plein" in refused.value.log_message
    assert "« carnet.ipynb »" in refused.value.log_message
    assert (disk.root / "carnet.ipynb").read_bytes() == saved
    nbformat.validate(nbformat.reads(saved.decode(), as_version=4))
    assert sorted(p.name for p in disk.root.iterdir()) == [".ipynb_checkpoints", "carnet.ipynb", "remplissage.bin"]
    assert [p.name for p in (disk.root / ".ipynb_checkpoints").iterdir()] == ["carnet-checkpoint.ipynb"]

    disk.empty()
    save(contents, bigger)
    assert json.loads((disk.root / "carnet.ipynb").read_text()) == bigger


def test_a_checkpoint_on_a_full_disk_is_refused_and_the_old_one_stays_whole(disk):
    """A 403, which the page takes as "no checkpoint here" (it opens the notebook and starts its kernel);
    restoring one is a 507, the notebook as it was."""
    contents = StudentsContents(root_dir=str(disk.root))
    save(contents, notebook("première"))
    checkpoint = disk.root / ".ipynb_checkpoints" / "carnet-checkpoint.ipynb"
    first = checkpoint.read_bytes()
    second = notebook("seconde")
    save(contents, second)

    with disk.full():
        with pytest.raises(HTTPError) as refused:
            run_coroutine(contents.create_checkpoint("carnet.ipynb"))
        assert (refused.value.status_code, refused.value.reason) == (403, "disk_full")
        assert "point de contrôle n'a pas pu être écrit" in refused.value.log_message
        assert checkpoint.read_bytes() == first
        with pytest.raises(HTTPError) as refused:  # restoring it would replace the notebook: refused whole too
            run_coroutine(contents.restore_checkpoint("checkpoint", "carnet.ipynb"))
        assert (refused.value.status_code, refused.value.reason) == (507, "disk_full")
    assert json.loads((disk.root / "carnet.ipynb").read_text()) == second
    assert sorted(p.name for p in checkpoint.parent.iterdir()) == ["carnet-checkpoint.ipynb"]


def test_a_save_whose_first_checkpoint_finds_no_room_is_a_save(disk):
    """The notebook is written; its checkpoint, which needs the room the notebook took, is made by a later save."""
    contents = StudentsContents(root_dir=str(disk.root))
    (disk.root / "carnet.ipynb").write_text(json.dumps(notebook("copie"), indent=1))  # as a copy is made: no checkpoint
    bigger = notebook("y" * 6000)  # two pages: written aside, then the copy's one page is given back
    disk.fill()
    disk.leave_free(2)
    assert save(contents, bigger)["name"] == "carnet.ipynb"
    assert json.loads((disk.root / "carnet.ipynb").read_text()) == bigger
    assert not (disk.root / ".ipynb_checkpoints" / "carnet-checkpoint.ipynb").exists()
    disk.empty()
    save(contents, bigger)
    assert (disk.root / ".ipynb_checkpoints" / "carnet-checkpoint.ipynb").read_bytes() == \
        (disk.root / "carnet.ipynb").read_bytes()

"""The data disk full: the platform says so in French, stores nothing by halves, and loses no saved work.

The platform's data (``CAPYTALE_DATA_ROOT``: the masters and the students'
workspaces) is on a small tmpfs of this module's own, which a test fills to the
last byte (a file written until the kernel answers ENOSPC) and empties again.
Everything goes the real way: HAProxy, the services, the students' Jupyter
servers (process backend).  Databases and sockets stay elsewhere: a full
database is another fault.
"""
from __future__ import annotations

import json
import time
import urllib.parse
from pathlib import Path

import nbformat
import pytest

from tests.e2e.chromium import SLOW, close_jupyter_dialogs, open_notebook
from tests.e2e.conftest import start_platform
from tests.e2e.test_environment_browser import run_cell
from tests.e2e.test_teacher_browser import type_in_new_cell
from tests.small_disk import PAGE, SmallDisk, small_disk

pytestmark = pytest.mark.e2e

FULL = "stockage de la plateforme est plein"


@pytest.fixture(scope="module")
def data_disk(tmp_path_factory):
    with small_disk(tmp_path_factory.mktemp("data-disk") / "data", 16) as disk:
        yield disk


@pytest.fixture(scope="module")
def platform(tmp_path_factory, request, data_disk):
    """The platform of conftest.py, its data on the small disk (unmounted once it has stopped)."""
    local = start_platform(tmp_path_factory, request, DATA_ROOT=str(data_disk.root))
    yield local
    local.stop(forget_messaging=True)


@pytest.fixture(autouse=True)
def room_again(data_disk):
    yield
    data_disk.empty()  # whatever a test did, the next one starts with room


def made_notebook(text: str) -> dict:
    made = nbformat.v4.new_notebook()
    made.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    made.cells = [nbformat.v4.new_markdown_cell("# Suites numériques"),
                  nbformat.v4.new_code_cell(f"print(sum(range(10)))  # {text}")]
    return json.loads(nbformat.writes(made))


@pytest.fixture
def notebook_file(tmp_path) -> Path:
    path = tmp_path / "Suites numériques.ipynb"
    path.write_text(json.dumps(made_notebook("la consigne")), encoding="utf-8")
    return path


def last_source(notebook: dict) -> str:
    """The source of the notebook's last cell (one text, as Jupyter's API gives it, or lines, as files have it)."""
    source = notebook["cells"][-1]["source"]
    return source if isinstance(source, str) else "".join(source)


def share_path(activity: dict) -> str:
    return urllib.parse.urlsplit(activity["share_url"]).path


def files_under(folder: Path) -> list[str]:
    """Every file below ``folder`` (hidden ones too), relative, sorted."""
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file()) if folder.exists() else []


def activities_of(teacher) -> list[dict]:
    answer = teacher.http.get(teacher.url("/activities/api/activities"), timeout=30)
    assert answer.status_code == 200, answer.text
    return answer.json()


def refused_for_a_full_disk(answer, *words: str) -> None:
    """A French refusal that says the storage is full: JSON with its reason for the API, else a page."""
    assert answer.status_code == 507, f"{answer.status_code}: {answer.text[:300]}"
    if answer.headers["Content-Type"].startswith("application/json"):
        body = answer.json()
        assert body["reason"] == "disk_full" and FULL in body["error"], body
        text = body["error"]
    else:
        assert answer.headers["Content-Type"].startswith("text/html") and "Stockage plein" in answer.text
        text = answer.text.replace("&#39;", "'")
        assert FULL in text and "Traceback" not in text
    for word in words:
        assert word in text, f"{word!r} not in {text[:300]!r}"


def test_an_upload_on_a_full_disk_is_refused_and_nothing_is_half_stored(platform, data_disk: SmallDisk, teacher,
                                                                       student, notebook_file):
    """Lost: the uploads, the new version and the delete asked while the disk was full (the teacher is told
    so and does them again); nothing else: no activity without its files, no file without its activity."""
    kept = teacher.upload(notebook_file, "Avant la panne", annexes=[("données.csv", b"n;u\n0;1\n" * 200)])
    assert kept.status_code == 201, kept.text
    listed = activities_of(teacher)
    stored = files_under(data_disk.root / "masters")

    with data_disk.full():
        answer = teacher.upload(notebook_file, "Pendant la panne", annexes=[("données.csv", b"0;1\n" * 500)])
        refused_for_a_full_disk(answer, "rien n'a été enregistré")
        page = teacher.http.post(teacher.url("/activities/new"), data={"source": "upload", "title": "Par la page"},
                                 files=[("notebook", (notebook_file.name, notebook_file.read_bytes(),
                                                      "application/x-ipynb+json"))], timeout=30)
        refused_for_a_full_disk(page, "rien n'a été enregistré")
        version = teacher.http.post(teacher.url(f"/activities/{kept.json()['id']}/versions"),
                                    files=[("notebook", (notebook_file.name, notebook_file.read_bytes(),
                                                         "application/x-ipynb+json"))], timeout=30)
        refused_for_a_full_disk(version, "rien n'a été enregistré")
        deleted = teacher.http.post(teacher.url(f"/activities/{kept.json()['id']}/delete"),
                                    data={"confirm": kept.json()["code"]}, allow_redirects=False, timeout=30)
        refused_for_a_full_disk(deleted, "rien n'a été supprimé")
        assert activities_of(teacher) == listed
        assert files_under(data_disk.root / "masters") == stored  # no staging folder left, no version 2
        assert files_under(data_disk.root / "archive") == []  # no partial archive

    made = teacher.upload(notebook_file, "Après la panne")
    assert made.status_code == 201, made.text
    assert [a["id"] for a in activities_of(teacher)] == [made.json()["id"], *(a["id"] for a in listed)]
    eleve = student("eleve")
    link = eleve.open_share(share_path(made.json()))
    assert eleve.enter(link).status_code == 200
    assert eleve.run_code(link, "print(sum(range(10)))").strip() == "45"


def test_a_first_visit_on_a_full_disk_gets_a_french_page_and_the_copy_once_there_is_room(
        platform, data_disk: SmallDisk, teacher, student, notebook_file):
    """Lost: the newcomer's first visit while the disk was full (a page says why; the same link works once there
    is room); a student who already had a copy carries on meanwhile: opening it and running cells need no room."""
    activity = teacher.upload(notebook_file, "Les suites").json()
    ancien, nouveau = student("ancien"), student("nouveau")
    old_link = ancien.open_share(share_path(activity))
    assert ancien.enter(old_link).status_code == 200
    assert ancien.run_code(old_link, "print(6 * 7)").strip() == "42"  # their first kernel made ~/.ipython

    with data_disk.full():
        answer = nouveau.http.get(nouveau.url(share_path(activity)), allow_redirects=False, timeout=60)
        refused_for_a_full_disk(answer, "ta copie de cette activité n'a pas pu être préparée")
        copies = teacher.http.get(teacher.url(f"/activities/api/activities/{activity['id']}/copies"), timeout=30)
        assert [c["student"]["name"] for c in copies.json()] == [ancien.name]  # no copy row without its files
        assert not [f for f in files_under(data_disk.root / "users") if f.endswith(".part")]
        # the student with a copy: the same notebook, and a kernel that runs
        again = ancien.open_share(share_path(activity))
        assert again.path == old_link.path and ancien.enter(again).status_code == 200
        assert ancien.run_code(again, "print(6 * 7)").strip() == "42"

    link = nouveau.open_share(share_path(activity))
    assert nouveau.enter(link).status_code == 200
    copy = nouveau.contents(link).json()["content"]
    assert last_source(copy) == "print(sum(range(10)))  # la consigne"
    assert nouveau.run_code(link, "print(sum(range(10)))").strip() == "45"


def test_a_save_on_a_full_disk_is_refused_and_the_saved_notebook_stays_whole(platform, data_disk: SmallDisk,
                                                                             teacher, student, notebook_file):
    """Lost: what the student typed after the last save made before the disk filled, for as long as it is full
    (Jupyter's dialog says the save failed; the page keeps it and saves it once there is room). The notebook on
    disk, and the teacher's view of it, stay the last one saved, whole, even when there is room for its old size
    but not for the new one (Jupyter's own writing left it truncated there)."""
    activity = teacher.upload(notebook_file, "Les suites, encore").json()
    eleve = student("eleve")
    link = eleve.open_share(share_path(activity))
    assert eleve.enter(link).status_code == 200
    on_disk = data_disk.root / "users" / link.key / link.path
    saved = made_notebook("x" * 1500)
    assert eleve.save(link, saved).status_code == 200
    saved_bytes = on_disk.read_bytes()
    typed = made_notebook("y" * 6000)  # two pages where the saved one takes one, within one write buffer
    assert len(saved_bytes) <= PAGE < len(json.dumps(typed, indent=1)) < 8192
    copies = teacher.url(f"/activities/api/activities/{activity['id']}/copies")
    uid = next(c["student"]["uid"] for c in teacher.http.get(copies, timeout=30).json()
               if c["student"]["name"] == eleve.name)

    def still_the_saved_one() -> None:
        assert on_disk.read_bytes() == saved_bytes
        nbformat.validate(nbformat.reads(saved_bytes.decode(), as_version=4))
        view = teacher.http.get(f"{copies}/{urllib.parse.quote(uid)}/notebook", timeout=30)
        assert view.status_code == 200 and view.content == saved_bytes
        assert not [f for f in files_under(on_disk.parent) if f.endswith(".part") or "/.~" in f or f.startswith(".~")]

    with data_disk.full():
        for free_pages in (0, 1):  # not a byte, then room for the saved notebook's size only
            data_disk.fill()
            data_disk.leave_free(free_pages)
            answer = eleve.save(link, typed)
            assert answer.status_code == 507, answer.text
            assert answer.json()["reason"] == "disk_full" and FULL in answer.json()["message"]
            assert f"« {on_disk.name} » n'a pas été enregistré" in answer.json()["message"]
            still_the_saved_one()
            assert last_source(eleve.contents(link).json()["content"]) == last_source(saved)

    assert eleve.save(link, typed).status_code == 200
    assert json.loads(on_disk.read_text()) == typed
    again = eleve.open_share(share_path(activity))
    assert again.path == link.path and eleve.enter(again).status_code == 200
    assert last_source(eleve.contents(again).json()["content"]) == last_source(typed)
    assert eleve.run_code(again, "print(sum(range(10)))").strip() == "45"


def test_in_the_students_page_a_save_on_a_full_disk_says_why_and_keeps_the_edits(platform, data_disk: SmallDisk,
                                                                                  teacher, people, notebook_file):
    """Lost: nothing the student typed. Notebook's own dialog says the save failed and why; the cell keeps the
    text; the next save once there is room (the student's, or the autosave) writes it."""
    activity = teacher.upload(notebook_file, "Les suites, dans le navigateur").json()
    page = people.login("eleve.navigateur", "student", share_path(activity))
    open_notebook(page, activity["share_url"])
    on_disk = next((data_disk.root / "users").glob(f"*/*({activity['code']})/{notebook_file.name}"))
    saved = on_disk.read_bytes()

    with data_disk.full():
        type_in_new_cell(page, "print('tapé pendant la panne')", saved=False)  # and Ctrl+S, refused
        dialog = page.locator(".jp-Dialog")
        dialog.wait_for(timeout=SLOW)
        assert FULL in dialog.inner_text() and f"« {notebook_file.name} »" in dialog.inner_text()
        people.screenshot(page, "enregistrement-disque-plein", full_page=False)
        close_jupyter_dialogs(page)
        assert on_disk.read_bytes() == saved
        assert "tapé pendant la panne" in page.locator(".jp-Notebook .jp-Cell").first.inner_text()

    close_jupyter_dialogs(page)  # an autosave may have failed meanwhile too
    page.keyboard.press("Control+s")
    deadline = time.monotonic() + 30  # a save now, else the autosave (every 10 s)
    while "tapé pendant la panne" not in on_disk.read_text():
        assert time.monotonic() < deadline, "the edits never reached the disk once there was room"
        page.wait_for_timeout(200)
    nbformat.validate(nbformat.reads(on_disk.read_text(), as_version=4))


def test_a_notebook_first_opened_on_a_full_disk_opens_and_runs(platform, data_disk: SmallDisk, teacher, people,
                                                               notebook_file):
    """Lost: nothing; the page opens a copy made before the disk filled and starts its kernel although it cannot
    make the notebook's first checkpoint (the page asks for one when it opens a notebook that has none; Jupyter's
    refusal stopped it before its kernel started, with an "Erreur de chargement" dialog)."""
    first = teacher.upload(notebook_file, "Les suites, la veille").json()
    second = teacher.upload(notebook_file, "Les suites, ouvertes pendant la panne").json()
    page = people.login("eleve.tardif", "student", "/")
    open_notebook(page, first["share_url"])  # the student has worked before: their kernels' ~/.ipython is made
    run_first_cell(page)
    made = page.context.request.get(second["share_url"], max_redirects=0)  # the copy and the server, not the page
    assert made.status == 302, made.text()
    copy_folder = next((data_disk.root / "users").glob(f"*/*({second['code']})"))
    assert not (copy_folder / ".ipynb_checkpoints").exists()

    with data_disk.full():
        open_notebook(page, second["share_url"])
        run_first_cell(page)
        # no "Erreur de chargement" (an autosave of the run cell may fail meanwhile: its dialog says so, rightly)
        assert page.locator(".jp-Dialog", has_text="chargement").count() == 0
        assert not list(copy_folder.glob(".ipynb_checkpoints/*"))


def run_first_cell(page) -> None:
    """Run the notebook's code cell (the second one) as a student does, and see what it printed."""
    run_cell(page, 1)  # run again should a dialog Jupyter opened meanwhile (a failed autosave) take the keys
    page.locator(".jp-Notebook .jp-Cell").nth(1).locator(".jp-OutputArea-output", has_text="45").wait_for(timeout=SLOW)

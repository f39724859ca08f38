"""The evaluation loop in the pages: the teacher's calendar, list, correction and exports; the student's
"Mes activités", hand-in and correction.  Forms work without JavaScript; a refusal is said on its page,
what was typed kept, nothing changed."""
from __future__ import annotations

import csv
import html
import io
import zipfile

import nbformat
import pytest

from tests.activities.support import DICE, ensure_copy
from tests.activities.test_evaluation import copies, feedback, hand_in, patch, student_file, writable


def page(who, path) -> str:
    answer = who.client.get(path)
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    return html.unescape(answer.get_data(as_text=True))


@pytest.fixture
def handed(app, student, activity, clock, data_root):
    """The student opened the link and handed their copy in."""
    ensure_copy(app, student, activity["code"])
    assert hand_in(student, activity).status_code == 200
    return student_file(data_root, student, activity)


def test_the_calendar_form_takes_paris_time_and_the_page_shows_it(app, teacher, activity, clock):
    answer = teacher.client.post(f"/activities/{activity['id']}/window",
                                 data={"opens_at": "2026-03-12T14:00", "closes_at": "2026-03-12T16:30",
                                       "after_close": "hidden", "grading": "points", "grade_max": "10"})
    assert answer.status_code == 303
    listed = teacher.client.get("/activities/api/activities").json[0]
    assert (listed["opens_at"], listed["closes_at"], listed["after_close"], listed["grading"]) == \
        ("2026-03-12T13:00:00+00:00", "2026-03-12T15:30:00+00:00", "hidden", {"scheme": "points", "max": 10})
    shown = page(teacher, f"/activities/{activity['id']}")
    assert "Ouverture aux élèves : 12/03/2026 à 14:00." in shown and "Fermeture : 12/03/2026 à 16:30" in shown
    assert 'value="2026-03-12T14:00"' in shown and "l'activité masquée aux élèves" in shown


def test_a_refused_calendar_is_said_on_the_page_with_what_was_typed(app, teacher, activity):
    answer = teacher.client.post(f"/activities/{activity['id']}/window",
                                 data={"opens_at": "2026-03-12T16:00", "closes_at": "2026-03-12T14:00",
                                       "after_close": "read_only", "grading": "points", "grade_max": "20"})
    assert answer.status_code == 400
    shown = html.unescape(answer.get_data(as_text=True))
    assert "La fermeture doit venir après l'ouverture." in shown and 'value="2026-03-12T16:00"' in shown
    assert teacher.client.get("/activities/api/activities").json[0]["opens_at"] is None


def test_the_list_shows_states_and_grades_and_the_bulk_actions(app, teacher, student, person, activity, handed):
    other = person("noé.bernard", "student")
    ensure_copy(app, other, activity["code"])
    feedback(teacher, activity, student, grade=14)
    shown = page(teacher, f"/activities/{activity['id']}")
    assert 'data-state="rendue"' in shown and "14 / 20" in shown and "Marquer corrigées" in shown
    answer = teacher.client.post(f"/activities/{activity['id']}/bulk",
                                 data={"uid": [student.identity.uid], "action": "correct"})
    assert answer.status_code == 303
    assert "1 copie marquée corrigée." in page(teacher, answer.headers["Location"])
    refused = teacher.client.post(f"/activities/{activity['id']}/bulk",
                                  data={"uid": [other.identity.uid], "action": "correct"})
    assert refused.status_code == 409
    assert "La copie de noé.bernard n'a pas été rendue" in html.unescape(refused.get_data(as_text=True))
    back = teacher.client.post(f"/activities/{activity['id']}/bulk",
                               data={"uid": [student.identity.uid, other.identity.uid], "action": "give_back"})
    assert back.status_code == 303 and {c["state"] for c in copies(teacher, activity).values()} == {"en_cours"}
    nothing = teacher.client.post(f"/activities/{activity['id']}/bulk", data={"action": "give_back"})
    assert nothing.status_code == 400


def test_the_teacher_reads_the_snapshot_and_corrects_it_on_the_page(app, teacher, student, activity, handed):
    handed.chmod(0o644)
    nb = nbformat.read(handed, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("écrit après la remise"))
    del nb.cells[-1]["id"]  # a format 4.2 notebook
    handed.write_text(nbformat.writes(nb))
    path = f"/activities/{activity['id']}/copies/{student.identity.uid}"
    shown = page(teacher, path)
    assert "Copie rendue le 12/03/2026 à 13:00" in shown and "écrit après la remise" not in shown
    assert 'name="note:cell-4"' in shown

    refused = teacher.client.post(path, data={"grade": "25", "comment": "Très bien", "note:cell-4": "Juste",
                                              "state": "corrigee"})
    assert refused.status_code == 400
    said = html.unescape(refused.get_data(as_text=True))
    assert "La note doit être un nombre de 0 à 20." in said and "Très bien" in said and ">Juste</textarea>" in said
    assert copies(teacher, activity)[student.identity.uid]["comment"] == ""

    answer = teacher.client.post(path, data={"grade": "16,5", "comment": "Très bien", "note:cell-4": "Juste",
                                             "state": "corrigee"})
    assert answer.status_code == 303
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["state"], listed["grade"], listed["comment"], listed["cells"]) == \
        ("corrigee", 16.5, "Très bien", {"cell-4": "Juste"})
    assert "Correction enregistrée." in page(teacher, answer.headers["Location"])


def test_the_student_hands_in_from_their_page_once(app, student, activity, clock, data_root):
    ensure_copy(app, student, activity["code"])
    shown = page(student, f"/activities/me/{activity['code']}")
    assert "Rendre ma copie" in shown
    answer = student.client.post(f"/activities/me/{activity['code']}/hand-in")
    assert answer.status_code == 303
    after = page(student, answer.headers["Location"])
    assert "Ta copie est rendue." in after and "Rendre ma copie" not in after
    assert not writable(student_file(data_root, student, activity))
    again = student.client.post(f"/activities/me/{activity['code']}/hand-in")
    assert again.status_code == 409
    assert "Ta copie est déjà rendue (le 12/03/2026 à 13:00)" in html.unescape(again.get_data(as_text=True))


def test_my_activities_show_states_deadlines_grades_and_the_notes(app, teacher, student, activity, handed):
    patch(teacher, activity, closes_at="2026-03-20T18:00")
    feedback(teacher, activity, student, grade=12, comment="Des efforts.\nContinue.", cells={"cell-4": "Faux."})
    shown = page(student, "/activities/me/")
    assert "Dés particuliers" in shown and "20/03/2026 à 18:00" in shown and 'data-state="rendue"' in shown
    assert "Des efforts." not in shown  # not released yet
    feedback(teacher, activity, student, state="corrigee")
    shown = page(student, "/activities/me/")
    assert "12 / 20" in shown and "Des efforts." in shown and 'data-state="corrigee"' in shown
    details = page(student, f"/activities/me/{activity['code']}")
    assert "La correction de ton enseignant·e" in details and "12 / 20" in details
    noted = details[details.index('data-cell="cell-4"'):details.index('data-cell="cell-5"')]
    assert "Remarque de ton enseignant·e :" in noted and "Faux." in noted


def test_a_student_on_the_teachers_list_is_shown_the_way_to_their_own(app, student):
    answer = student.client.get("/activities/")
    assert answer.status_code == 403
    shown = html.unescape(answer.get_data(as_text=True))
    assert "Cette page est réservée aux enseignants." in shown
    assert 'href="/activities/me/"' in shown and "Mes activités" in shown


def test_a_hidden_activity_is_told_on_the_students_pages(app, teacher, student, activity, clock):
    ensure_copy(app, student, activity["code"])
    patch(teacher, activity, closes_at="2026-03-12T12:00", after_close="hidden")
    shown = page(student, "/activities/me/")
    assert "fermée par ton enseignant·e" in shown and "Ouvrir mon carnet" not in shown
    answer = student.client.get(f"/activities/me/{activity['code']}")
    assert answer.status_code == 403
    assert "Elle rouvrira quand il ou elle le décidera" in html.unescape(answer.get_data(as_text=True))


# --- exports -------------------------------------------------------------------------------------


def test_the_grades_csv_opens_in_a_french_spreadsheet_without_formulas(app, teacher, person, activity, clock):
    hostile = person("=HYPERLINK(\"http://evil\";\"x\")", "student", classes=("+2nde A",))
    plain = person("léa.moreau", "student")
    for who in (hostile, plain):
        ensure_copy(app, who, activity["code"])
        hand_in(who, activity)
    feedback(teacher, activity, plain, grade=15.5, comment="Bien ; continue.\n=SOMME(A1)", state="corrigee")
    answer = teacher.client.get(f"/activities/{activity['id']}/notes.csv")
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    data = answer.data
    assert data.startswith("\ufeff".encode())
    text = data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert rows[0] == ["Élève", "Identifiant", "Classe", "État", "Rendue le", "Note (sur 20)", "Score proposé",
                       "Appréciation"]
    by_uid = {row[1]: row for row in rows[1:]}
    assert by_uid["léa.moreau"] == ["léa.moreau", "léa.moreau", "", "corrigée", "12/03/2026 à 13:00", "15,5", "",
                                    "Bien ; continue.\n=SOMME(A1)"]
    evil = by_uid["'=HYPERLINK(\"http://evil\";\"x\")"]
    assert evil[0].startswith("'=") and evil[2] == "'+2nde A" and evil[3] == "rendue"
    assert "attachment" in answer.headers["Content-Disposition"] and "notes.csv" in answer.headers["Content-Disposition"]


def test_the_zip_holds_the_handed_in_snapshots_with_their_feedback(app, teacher, student, person, activity, handed):
    ensure_copy(app, person("noé.bernard", "student"), activity["code"])  # never handed in: not in the ZIP
    frozen = handed.read_bytes()
    handed.chmod(0o644)
    handed.write_text("{}")
    feedback(teacher, activity, student, grade=9, comment="À revoir.", cells={"cell-4": "Non."}, state="corrigee")
    with teacher.client.get(f"/activities/{activity['id']}/copies-rendues.zip") as answer:  # closes the file
        assert answer.status_code == 200 and answer.mimetype == "application/zip"
        archive = zipfile.ZipFile(io.BytesIO(answer.data))
    folder = "léa.moreau (léa.moreau)"
    assert sorted(archive.namelist()) == sorted([f"{folder}/{DICE}", f"{folder}/correction.md", "notes.csv"])
    assert archive.read(f"{folder}/{DICE}") == frozen
    correction = archive.read(f"{folder}/correction.md").decode()
    assert "Note : 9 / 20" in correction and "À revoir." in correction and "Cellule cell-4 : Non." in correction
    assert archive.read("notes.csv").startswith("\ufeff".encode())


def test_the_ticked_copies_export_alone(app, teacher, student, person, activity, handed):
    other = person("noé.bernard", "student")
    ensure_copy(app, other, activity["code"])
    hand_in(other, activity)
    answer = teacher.client.post(f"/activities/{activity['id']}/bulk",
                                 data={"uid": [other.identity.uid], "action": "export_csv"})
    rows = list(csv.reader(io.StringIO(answer.data.decode("utf-8-sig")), delimiter=";"))
    assert [row[1] for row in rows[1:]] == ["noé.bernard"]

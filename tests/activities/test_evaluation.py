"""The evaluation loop on the activities service: hand-in, snapshot, feedback, grades, time window.

Each refusal is checked with its status, its reason and its French message, and
with what it leaves: nothing changed.  The clock is the app's injectable one.
"""
from __future__ import annotations

import hashlib
import time
from datetime import datetime, timedelta, timezone

import nbformat
import pytest

from tests.activities.support import DICE, NOON, ensure_copy

FOLDER = "Dés particuliers ({code})"


def student_file(data_root, who, activity, name=DICE):
    return data_root / "users" / who.identity.key / FOLDER.format(code=activity["code"]) / name


def hand_in(who, activity):
    return who.client.post(f"/activities/api/share/{activity['code']}/hand-in")


def copies(teacher, activity):
    answer = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies")
    assert answer.status_code == 200, answer.json
    return {copy["student"]["uid"]: copy for copy in answer.json}


def feedback(teacher, activity, who, **body):
    return teacher.client.put(f"/activities/api/activities/{activity['id']}/copies/{who.identity.uid}/feedback",
                              json=body)


def patch(teacher, activity, **body):
    return teacher.client.patch(f"/activities/api/activities/{activity['id']}", json=body)


def writable(path) -> bool:
    return bool(path.stat().st_mode & 0o222)


def snapshot(teacher, activity, who):
    return teacher.client.get(f"/activities/api/activities/{activity['id']}/copies/{who.identity.uid}/notebook"
                              "?version=handed_in")


@pytest.fixture
def opened(app, student, activity, clock):
    """The student has opened the link (their copy is made) and written in it."""
    assert ensure_copy(app, student, activity["code"]).status_code == 200
    path = student_file(app.config["CAPYTALE"]["DATA_ROOT"], student, activity)
    notebook = nbformat.read(path, as_version=4)
    notebook.cells.append(nbformat.v4.new_code_cell("réponse = 42"))
    del notebook.cells[-1]["id"]  # a format 4.2 notebook: no cell ids
    path.write_text(nbformat.writes(notebook))
    return path


# --- hand-in ------------------------------------------------------------------------------


def test_a_handed_in_copy_is_frozen_and_read_only(app, teacher, student, activity, opened, clock):
    before = opened.read_bytes()
    answer = hand_in(student, activity)
    assert answer.status_code == 200, answer.json
    assert answer.json["state"] == "rendue" and answer.json["handed_in_at"] == "2026-03-12T12:00:00+00:00"
    assert answer.json["sha256"] == hashlib.sha256(before).hexdigest()
    assert not writable(opened)  # what the student's server honours

    opened.chmod(0o644)
    opened.write_text("{}")  # the student's own code may still change their file: the snapshot does not move
    frozen = snapshot(teacher, activity, student)
    assert frozen.status_code == 200 and frozen.data == before
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["state"], listed["handed_in_at"], listed["handed_in_by"]) == \
        ("rendue", "2026-03-12T12:00:00+00:00", "student")
    assert listed["grade"] is None and listed["score"] is None


def test_handing_in_twice_is_refused_and_changes_nothing(app, teacher, student, activity, opened, clock):
    first = hand_in(student, activity).json
    clock.now = NOON + timedelta(hours=1)
    again = hand_in(student, activity)
    assert again.status_code == 409
    assert again.json["reason"] == "already_handed_in"
    assert again.json["error"].startswith("Ta copie est déjà rendue (le 12/03/2026 à 13:00)")
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["handed_in_at"], listed["sha256"]) == (first["handed_in_at"], first["sha256"])


def test_handing_in_without_a_copy_touches_nobody_elses(app, teacher, student, person, activity, opened, clock):
    other = person("noé.bernard", "student")
    answer = hand_in(other, activity)
    assert answer.status_code == 404 and answer.json["reason"] == "no_copy"
    assert "Tu n'as pas de copie de cette activité" in answer.json["error"]
    assert copies(teacher, activity)[student.identity.uid]["state"] == "en_cours"
    assert writable(opened)


def test_a_student_cannot_reach_the_teachers_calls_on_copies(app, student, person, activity, opened):
    other = person("noé.bernard", "student")
    for call in (lambda: feedback(other, activity, student, state="corrigee"),
                 lambda: other.client.get(f"/activities/api/activities/{activity['id']}/copies"),
                 lambda: snapshot(other, activity, student)):
        answer = call()
        assert answer.status_code == 403 and answer.json["reason"] == "wrong_role"


def test_an_unknown_code_and_no_session_are_refused(app, student):
    assert hand_in(student, {"code": "zzzzzzzz"}).status_code == 404
    assert app.test_client().post("/activities/api/share/zzzzzzzz/hand-in").status_code == 401


def test_the_handed_in_version_of_a_copy_never_handed_in_is_404(app, teacher, student, activity, opened):
    answer = snapshot(teacher, activity, student)
    assert answer.status_code == 404 and answer.json["reason"] == "not_handed_in"
    bad = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies/{student.identity.uid}/notebook"
                             "?version=yesterday")
    assert bad.status_code == 400 and bad.json["reason"] == "bad_version"


# --- feedback -----------------------------------------------------------------------------


def test_the_teacher_corrects_and_the_student_sees_it_in_their_copy(app, teacher, student, activity, opened, clock):
    hand_in(student, activity)
    answer = feedback(teacher, activity, student, comment="Bon travail, mais justifie.", grade=15.5,
                      cells={"cell-4": "Pourquoi 36 ?"})
    assert answer.status_code == 200, answer.json
    assert (answer.json["grade"], answer.json["comment"], answer.json["cells"], answer.json["state"]) == \
        (15.5, "Bon travail, mais justifie.", {"cell-4": "Pourquoi 36 ?"}, "rendue")
    mine = student.client.get("/activities/api/me/copies").json[0]
    assert (mine["state"], mine["grade"], mine["comment"]) == ("rendue", None, None)  # not released yet

    corrected = feedback(teacher, activity, student, state="corrigee")
    assert corrected.status_code == 200 and corrected.json["state"] == "corrigee"
    mine = student.client.get("/activities/api/me/copies").json[0]
    assert (mine["state"], mine["grade"], mine["comment"], mine["cells"]) == \
        ("corrigee", 15.5, "Bon travail, mais justifie.", {"cell-4": "Pourquoi 36 ?"})

    notebook = nbformat.read(opened, as_version=4)
    marks = [(n, cell) for n, cell in enumerate(notebook.cells) if "capytale" in cell.metadata]
    assert [cell.metadata.capytale["feedback"] for _n, cell in marks] == ["summary", "cell"]
    summary, note = marks[0][1], marks[1][1]
    assert "15,5 / 20" in summary.source and "Bon travail, mais justifie." in summary.source
    assert notebook.cells[marks[1][0] - 1].id == "cell-4" and "Pourquoi 36 ?" in note.source
    assert all(cell.metadata.editable is False and cell.metadata.deletable is False for _n, cell in marks)
    assert "capytale-correction" in note.metadata.tags
    nbformat.validate(notebook)
    assert not writable(opened)
    assert snapshot(teacher, activity, student).data != opened.read_bytes()  # the snapshot stays as handed in


@pytest.mark.parametrize("body, reason, message", [
    ({"grade": 21}, "grade_off_scale", "La note doit être un nombre de 0 à 20."),
    ({"grade": -1}, "grade_off_scale", "La note doit être un nombre de 0 à 20."),
    ({"grade": "acquis"}, "grade_off_scale", "La note doit être un nombre de 0 à 20."),
    ({"grade": True}, "grade_off_scale", "La note doit être un nombre de 0 à 20."),
    ({"cells": {"pas-une-cellule": "Bien"}}, "unknown_cell",
     "La cellule « pas-une-cellule » n'existe pas dans cette copie : la remarque ne peut pas lui être attachée."),
    ({"cells": ["cell-1"]}, "bad_cells",
     "« cells » doit associer à l'identifiant d'une cellule la remarque sur cette cellule."),
    ({"comment": 3}, "bad_comment", "L'appréciation doit être un texte."),
    ({"state": "perdue"}, "bad_state", "L'état doit être « en_cours », « rendue » ou « corrigee »."),
    ({"note": 12}, "unknown_field", "Champ inconnu : « note » (les champs sont comment, grade, cells et state)."),
    ({"grade": 12, "cells": {"cell-0": "ok", "nulle-part": "?"}, "state": "corrigee"}, "unknown_cell",
     "La cellule « nulle-part » n'existe pas dans cette copie : la remarque ne peut pas lui être attachée."),
])
def test_bad_feedback_is_refused_and_changes_nothing(app, teacher, student, activity, opened, body, reason, message):
    hand_in(student, activity)
    before = (copies(teacher, activity)[student.identity.uid], opened.read_bytes())
    answer = feedback(teacher, activity, student, **body)
    assert answer.status_code == 400
    assert (answer.json["reason"], answer.json["error"]) == (reason, message)
    assert (copies(teacher, activity)[student.identity.uid], opened.read_bytes()) == before


def test_a_copy_not_handed_in_cannot_be_marked_corrected(app, teacher, student, activity, opened):
    answer = feedback(teacher, activity, student, comment="Bien", state="corrigee")
    assert answer.status_code == 409 and answer.json["reason"] == "not_handed_in"
    assert copies(teacher, activity)[student.identity.uid]["comment"] == ""


def test_a_teacher_cannot_grade_a_copy_of_another_teachers_activity(app, teacher, other_teacher, student, activity,
                                                                    opened):
    hand_in(student, activity)
    answer = feedback(other_teacher, activity, student, grade=2, comment="Nul", state="corrigee")
    assert answer.status_code == 403 and answer.json["reason"] == "not_owner"
    assert answer.json["error"] == "Cette activité appartient à un·e autre enseignant·e : tu ne peux pas voir ses copies."
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["state"], listed["grade"], listed["comment"]) == ("rendue", None, "")
    assert other_teacher.client.post(f"/activities/api/activities/{activity['id']}/copies/state",
                                     json={"uids": [student.identity.uid], "state": "en_cours"}).status_code == 403
    assert patch(other_teacher, activity, closes_at=None).status_code == 403


def test_a_copy_given_back_is_editable_again_with_the_feedback_in_it(app, teacher, student, activity, opened, clock):
    hand_in(student, activity)
    feedback(teacher, activity, student, comment="Reprends la question 2.", cells={"cell-1": "Relis l'énoncé."})
    answer = feedback(teacher, activity, student, state="en_cours")
    assert answer.status_code == 200 and answer.json["state"] == "en_cours"
    assert writable(opened)
    notebook = nbformat.read(opened, as_version=4)
    assert [cell.metadata.capytale["feedback"] for cell in notebook.cells if "capytale" in cell.metadata] == \
        ["summary", "cell"]
    mine = student.client.get("/activities/api/me/copies").json[0]
    assert (mine["state"], mine["comment"]) == ("en_cours", "Reprends la question 2.")
    clock.now = NOON + timedelta(days=1)
    again = hand_in(student, activity)  # and it can be handed in again: a new snapshot
    assert again.status_code == 200 and again.json["handed_in_at"] == "2026-03-13T12:00:00+00:00"


def test_bulk_actions_give_back_and_correct_what_they_can(app, teacher, student, person, activity, opened):
    other = person("noé.bernard", "student")
    ensure_copy(app, other, activity["code"])
    hand_in(student, activity)
    state = f"/activities/api/activities/{activity['id']}/copies/state"
    uids = [student.identity.uid, other.identity.uid]
    corrected = teacher.client.post(state, json={"uids": uids, "state": "corrigee"})
    assert corrected.status_code == 200
    assert corrected.json["changed"] == [student.identity.uid]
    assert corrected.json["refused"][other.identity.uid]["reason"] == "not_handed_in"
    back = teacher.client.post(state, json={"uids": uids, "state": "en_cours"})
    assert (back.json["changed"], back.json["unchanged"]) == ([student.identity.uid], [other.identity.uid])
    assert {c["state"] for c in copies(teacher, activity).values()} == {"en_cours"}
    unknown = teacher.client.post(state, json={"uids": ["personne"], "state": "en_cours"})
    assert unknown.status_code == 404 and unknown.json["reason"] == "unknown_copy"
    bad = teacher.client.post(state, json={"uids": uids, "state": "finie"})
    assert bad.status_code == 400 and bad.json["reason"] == "bad_bulk"


def test_levels_grade_and_a_scale_that_would_leave_grades_off_is_refused(app, teacher, student, activity, opened):
    hand_in(student, activity)
    assert feedback(teacher, activity, student, grade=18).status_code == 200
    refused = patch(teacher, activity, grading={"scheme": "points", "max": 10})
    assert refused.status_code == 409 and refused.json["reason"] == "grades_off_scale"
    assert feedback(teacher, activity, student, grade=None).status_code == 200
    changed = patch(teacher, activity, grading={"scheme": "levels"})
    assert changed.status_code == 200, changed.json
    assert changed.json["grading"]["scheme"] == "levels"
    assert feedback(teacher, activity, student, grade=12).json["reason"] == "grade_off_scale"
    answer = feedback(teacher, activity, student, grade="en cours d'acquisition")
    assert answer.status_code == 200 and answer.json["grade"] == "en_cours_d_acquisition"


# --- the time window -----------------------------------------------------------------------


@pytest.mark.parametrize("body, reason", [
    ({"opens_at": "demain"}, "bad_moment"),
    ({"closes_at": 12}, "bad_moment"),
    ({"after_close": "brûlée"}, "bad_after_close"),
    ({"opens_at": "2026-03-12T15:00", "closes_at": "2026-03-12T14:00"}, "bad_window"),
    ({"grading": {"scheme": "points", "max": 0}}, "bad_grading"),
    ({"grading": "sur 20"}, "bad_grading"),
    ({"deadline": "2026-03-12T14:00"}, "unknown_field"),
])
def test_a_bad_window_is_refused_and_changes_nothing(app, teacher, activity, body, reason):
    before = teacher.client.get("/activities/api/activities").json
    answer = patch(teacher, activity, **body)
    assert answer.status_code == 400 and answer.json["reason"] == reason, answer.json
    assert teacher.client.get("/activities/api/activities").json == before


def test_the_window_is_stored_in_utc_from_paris_time(app, teacher, activity, clock):
    answer = patch(teacher, activity, opens_at="2026-03-12T14:00", closes_at="2026-03-12T16:30:00+01:00",
                   after_close="hidden")
    assert answer.status_code == 200, answer.json
    assert (answer.json["opens_at"], answer.json["closes_at"], answer.json["after_close"]) == \
        ("2026-03-12T13:00:00+00:00", "2026-03-12T15:30:00+00:00", "hidden")


def test_before_opening_a_student_is_told_when_it_opens(app, teacher, student, activity, clock, data_root):
    patch(teacher, activity, opens_at="2026-03-12T14:00")
    answer = ensure_copy(app, student, activity["code"])
    assert answer.status_code == 403 and answer.json["reason"] == "not_open_yet"
    assert answer.json["error"] == ("Cette activité ouvre le 12/03/2026 à 14:00 (heure de Paris). Reviens à ce "
                                    "moment-là : ton lien marchera.")
    assert answer.json["heading"] == "Pas encore ouverte"
    assert not (data_root / "users" / student.identity.key).exists()
    assert ensure_copy(app, teacher, activity["code"]).status_code == 200  # the teacher tries it beforehand
    clock.now = datetime(2026, 3, 12, 13, 0, tzinfo=timezone.utc)
    assert ensure_copy(app, student, activity["code"]).status_code == 200


def test_a_read_only_closing_hands_every_copy_in(app, teacher, student, person, activity, opened, clock):
    patch(teacher, activity, closes_at="2026-03-12T14:00")
    assert copies(teacher, activity)[student.identity.uid]["state"] == "en_cours"
    clock.now = datetime(2026, 3, 12, 13, 0, 1, tzinfo=timezone.utc)
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["state"], listed["handed_in_by"], listed["handed_in_at"]) == \
        ("rendue", "closing", "2026-03-12T13:00:01+00:00")
    assert not writable(opened)
    assert ensure_copy(app, student, activity["code"]).status_code == 200  # opens, read-only
    late = ensure_copy(app, person("noé.bernard", "student"), activity["code"])
    assert late.status_code == 403 and late.json["reason"] == "activity_ended"
    refused = hand_in(student, activity)
    assert refused.status_code == 409 and refused.json["reason"] == "already_handed_in"


def test_a_copy_given_back_after_the_closing_stays_given_back(app, teacher, student, activity, opened, clock):
    patch(teacher, activity, closes_at="2026-03-12T12:00")
    assert copies(teacher, activity)[student.identity.uid]["state"] == "rendue"
    feedback(teacher, activity, student, state="en_cours")
    assert copies(teacher, activity)[student.identity.uid]["state"] == "en_cours"
    assert writable(opened)
    assert hand_in(student, activity).status_code == 200


def test_a_hidden_closing_tells_the_student_and_refuses_the_hand_in(app, teacher, student, activity, opened, clock):
    patch(teacher, activity, closes_at="2026-03-12T13:30", after_close="hidden")
    clock.now = datetime(2026, 3, 12, 13, 0, tzinfo=timezone.utc)
    before = opened.read_bytes()
    refused = hand_in(student, activity)
    assert refused.status_code == 403 and refused.json["reason"] == "activity_hidden"
    assert refused.json["error"] == ("Cette activité est fermée depuis le 12/03/2026 à 13:30 (heure de Paris) : ton "
                                     "enseignant·e l'a masquée. Elle rouvrira quand il ou elle le décidera ; ta "
                                     "copie est gardée.")
    opening = ensure_copy(app, student, activity["code"])
    assert opening.status_code == 403 and opening.json["heading"] == "Activité fermée"
    mine = student.client.get("/activities/api/me/copies").json[0]
    assert (mine["hidden"], mine["state"]) == (True, "rendue")
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["state"], listed["handed_in_by"]) == ("rendue", "closing")
    assert snapshot(teacher, activity, student).data == before

    reopened = patch(teacher, activity, closes_at=None)  # the teacher decides: open again, copies given back
    assert reopened.status_code == 200 and reopened.json["closes_at"] is None
    assert copies(teacher, activity)[student.identity.uid]["state"] == "en_cours"
    assert writable(opened)
    assert ensure_copy(app, student, activity["code"]).status_code == 200


def test_reopening_keeps_what_the_students_handed_in_themselves(app, teacher, student, person, activity, opened,
                                                                clock):
    other = person("noé.bernard", "student")
    ensure_copy(app, other, activity["code"])
    hand_in(student, activity)
    patch(teacher, activity, closes_at="2026-03-12T12:30")
    assert {c["handed_in_by"] for c in copies(teacher, activity).values()} == {"student", "closing"}
    patch(teacher, activity, closes_at="2026-03-13T12:30")
    states = {uid: c["state"] for uid, c in copies(teacher, activity).items()}
    assert states == {student.identity.uid: "rendue", other.identity.uid: "en_cours"}


def test_my_copies_lists_the_students_activities_with_their_deadline(app, teacher, student, activity, opened):
    patch(teacher, activity, closes_at="2026-03-20T18:00")
    mine = student.client.get("/activities/api/me/copies")
    assert mine.status_code == 200
    assert len(mine.json) == 1
    item = mine.json[0]
    assert item["activity"]["code"] == activity["code"] and item["activity"]["title"] == "Dés particuliers"
    assert item["activity"]["closes_at"] == "2026-03-20T17:00:00+00:00"
    assert (item["state"], item["hidden"], item["grade"]) == ("en_cours", False, None)
    assert app.test_client().get("/activities/api/me/copies").status_code == 401


def test_the_sweep_closes_what_is_due_without_anyone_asking(app, teacher, student, activity, opened, clock):
    from capytale import db
    from services.activities import storage
    from services.activities.window import close_due

    patch(teacher, activity, closes_at="2026-03-12T13:30")
    with app.app_context():
        assert close_due(db.session(), storage.current(), NOON) == 0
        assert close_due(db.session(), storage.current(), NOON + timedelta(hours=1)) == 1
        assert close_due(db.session(), storage.current(), NOON + timedelta(hours=2)) == 0  # applied once
    assert not writable(opened)
    listed = copies(teacher, activity)[student.identity.uid]
    assert (listed["state"], listed["handed_in_by"]) == ("rendue", "closing")


def test_a_hand_in_is_announced(app, student, activity, opened):
    from capytale.messaging import Bus
    from tests.activities.conftest import TEST_TOPOLOGY

    received: list[dict] = []
    bus = Bus("amqp://guest:guest@127.0.0.1:5672/%2F", "activities-tests", TEST_TOPOLOGY)
    bus.subscribe(("copy.handed_in",), lambda _key, message: received.append(message.body))
    if not bus.wait_ready(5):
        bus.close()
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    try:
        time.sleep(0.2)  # the subscription's queue is bound
        sha256 = hand_in(student, activity).json["sha256"]
        expected = {"activity_id": activity["id"], "uid": "léa.moreau", "user_key": student.identity.key,
                    "by": "student", "sha256": sha256}
        deadline = time.monotonic() + 10
        while expected not in received and time.monotonic() < deadline:
            time.sleep(0.05)
        assert expected in received
    finally:
        bus.close()

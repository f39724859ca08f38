"""A student opens the share URL: one copy, made once, never overwritten, seen by its teacher only."""
from __future__ import annotations

import json
import os
import threading
import time
import urllib.parse

import pytest
from sqlalchemy import func, select

from capytale import db
from capytale.messaging import Bus
from services.activities import models
from tests.activities.conftest import TEST_TOPOLOGY
from tests.activities.support import DICE, ensure_copy

FOLDER = "Dés particuliers ({code})"


def student_file(data_root, who, activity, name=DICE):
    return data_root / "users" / who.identity.key / FOLDER.format(code=activity["code"]) / name


def test_the_first_visit_copies_the_master_and_annex_files(app, student, activity, data_root, corpus):
    answer = ensure_copy(app, student, activity["code"])
    assert answer.status_code == 200, answer.json
    folder = FOLDER.format(code=activity["code"])
    assert answer.json == {
        "activity": {"id": activity["id"], "title": "Dés particuliers", "code": activity["code"]},
        "copy": {"folder": folder, "notebook": DICE, "path": f"{folder}/{DICE}", "created": True},
    }
    assert student_file(data_root, student, activity).read_bytes() == (corpus / DICE).read_bytes()
    assert student_file(data_root, student, activity, "données/lancers.csv").read_bytes() == b"de1;de2\n1;6\n"


def test_ensuring_again_changes_nothing_and_keeps_the_students_work(app, student, activity, data_root):
    ensure_copy(app, student, activity["code"])
    notebook = student_file(data_root, student, activity)
    notebook.write_text('{"travail": "de Léa"}')
    (data_root / "masters" / str(activity["id"]) / "1" / DICE).write_text("{}")  # even if the master changes
    again = ensure_copy(app, student, activity["code"])
    assert again.status_code == 200
    assert again.json["copy"]["created"] is False
    assert notebook.read_text() == '{"travail": "de Léa"}'


def test_one_student_asking_twice_at_once_gets_one_copy(app, student, activity, data_root):
    barrier = threading.Barrier(6)
    answers = []

    def ask() -> None:
        barrier.wait()
        answers.append(ensure_copy(app, student, activity["code"]))

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [200] * 6
    assert sorted(a.json["copy"]["created"] for a in answers) == [False] * 5 + [True]
    with app.app_context():
        assert db.session().scalar(select(func.count()).select_from(models.Copy)) == 1
    folder = student_file(data_root, student, activity).parent
    assert sorted(p.name for p in folder.iterdir()) == sorted([DICE, "données", ".capytale-graine"])  # no leftover temporary file


def test_an_unknown_code_is_404(app, student):
    answer = ensure_copy(app, student, "zzzzzzzz")
    assert answer.status_code == 404
    assert answer.json["error"] == "Ce lien d'activité n'existe pas. Vérifie-le auprès de ton enseignant·e."


def test_ensuring_a_copy_needs_a_session(app, activity):
    answer = app.test_client().put(f"/activities/api/share/{activity['code']}/copy")
    assert answer.status_code == 401


def test_the_teacher_sees_each_copy_as_it_is_on_storage(app, teacher, student, person, activity, data_root):
    other = person("tom.petit", "student")
    ensure_copy(app, student, activity["code"])
    ensure_copy(app, other, activity["code"])
    notebook = student_file(data_root, student, activity)
    saved = json.dumps({"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5, "travail": "Léa"})
    notebook.write_text(saved)
    os.utime(notebook, (1_900_000_000, 1_900_000_000))

    copies = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies").json
    assert [c["student"] for c in copies] == [{"uid": "léa.moreau", "name": "léa.moreau", "class": ""},
                                               {"uid": "tom.petit", "name": "tom.petit", "class": ""}]
    assert copies[0]["updated_at"] == "2030-03-17T17:46:40+00:00"
    assert copies[0]["folder"] == FOLDER.format(code=activity["code"]) and copies[0]["version"] == 1
    assert copies[0]["created_at"].endswith("+00:00")

    answer = teacher.client.get(
        f"/activities/api/activities/{activity['id']}/copies/{urllib.parse.quote('léa.moreau')}/notebook")
    assert answer.status_code == 200
    assert answer.mimetype == "application/x-ipynb+json"
    assert answer.data == saved.encode()
    assert teacher.client.get("/activities/api/activities").json[0]["copies"] == 2


def test_only_the_owner_sees_the_copies(app, other_teacher, student, activity):
    ensure_copy(app, student, activity["code"])
    base = f"/activities/api/activities/{activity['id']}/copies"
    for path in (base, f"{base}/{urllib.parse.quote('léa.moreau')}/notebook"):
        refused = other_teacher.client.get(path)
        assert refused.status_code == 403 and refused.json["reason"] == "not_owner"
        assert student.client.get(path).status_code == 403
    assert other_teacher.client.get("/activities/api/activities/999999/copies").status_code == 404


def test_a_missing_copy_or_file_is_404(app, teacher, student, activity, data_root):
    base = f"/activities/api/activities/{activity['id']}/copies/{urllib.parse.quote('léa.moreau')}/notebook"
    assert teacher.client.get(base).json["reason"] == "unknown_copy"
    ensure_copy(app, student, activity["code"])
    student_file(data_root, student, activity).unlink()
    assert teacher.client.get(base).json["reason"] == "copy_file_missing"
    copies = teacher.client.get(f"/activities/api/activities/{activity['id']}/copies").json
    assert copies[0]["updated_at"] is None


@pytest.fixture
def events():
    """The ``copy.created`` events published on the real RabbitMQ while the test runs."""
    received: list[dict] = []
    bus = Bus("amqp://guest:guest@127.0.0.1:5672/%2F", "activities-tests", TEST_TOPOLOGY)
    bus.subscribe(("copy.created",), lambda _key, message: received.append(message.body))
    if not bus.wait_ready(5):
        bus.close()
        pytest.skip("no RabbitMQ on 127.0.0.1:5672")
    yield received
    bus.close()


def _wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_a_first_copy_is_announced_once(app, student, activity, events):
    time.sleep(0.2)  # the subscription's queue is bound
    ensure_copy(app, student, activity["code"])
    ensure_copy(app, student, activity["code"])
    expected = {"activity_id": activity["id"], "uid": "léa.moreau", "user_key": student.identity.key}
    assert _wait_for(lambda: expected in events, 10)
    time.sleep(0.5)
    assert events.count(expected) == 1


@pytest.mark.parametrize("app_config", [{"AMQP_URL": "amqp://guest:guest@127.0.0.1:1/%2F"}])
def test_a_rabbitmq_outage_does_not_fail_the_copy(app, student, activity, caplog):
    started = time.monotonic()
    answer = ensure_copy(app, student, activity["code"])
    assert answer.status_code == 200 and answer.json["copy"]["created"] is True
    assert time.monotonic() - started < 2  # the request does not wait for the broker
    assert _wait_for(lambda: "event copy.created" in caplog.text and "not published" in caplog.text, 15)

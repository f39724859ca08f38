"""Fixtures of the activities tests: the app on SQLite and on PostgreSQL, teachers, students, an activity.

Every test that uses ``app`` runs twice, once per database (PostgreSQL only
where one answers).  Notebooks are read from the shared corpus where they are.
"""
from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import text

from capytale.messaging import Topology
from services.activities import create_app, models
from tests.activities.support import DICE, NOON, Person, upload
from tests.conftest import make_identity

LIMITS = {"MAX_NOTEBOOK_MB": 1, "MAX_UPLOAD_MB": 3, "CLOSING_INTERVAL": 0}  # closings applied when reached

TEST_TOPOLOGY = Topology(f"capytale-test-{secrets.token_hex(4)}")  # never a running platform's exchange


@pytest.fixture(scope="session")
def postgres_url(postgres_database) -> str:
    """One PostgreSQL database for this test session's activities tables (dropped at the end)."""
    return postgres_database("activities")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, var_dir: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{var_dir / 'activities.sqlite'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def app_config() -> dict:
    """Settings a test changes (parametrize ``app_config`` to change them)."""
    return {}


@pytest.fixture
def app(var_dir: Path, database_url: str, app_config: dict) -> Flask:
    """The activities service with this test's keys, storage and database; small upload limits."""
    app = create_app({"VAR_DIR": var_dir, "ACTIVITIES_DATABASE_URL": database_url,
                      "AMQP_NAMESPACE": TEST_TOPOLOGY.namespace, **LIMITS, **app_config})
    yield app
    engine = app.extensions["capytale.db"].kw["bind"]
    models.Base.metadata.drop_all(engine)  # the PostgreSQL database is shared by the session's tests
    with engine.begin() as connection:  # and the next test's app upgrades it from nothing again
        connection.execute(text(f"DROP TABLE {models.SCHEMA.version_table}"))
    engine.dispose()


@pytest.fixture
def data_root(var_dir: Path) -> Path:
    return var_dir / "data"


@pytest.fixture
def person(app: Flask, sign):
    """Make a logged-in person from a name and a role."""

    def make(name: str, role: str, classes: tuple[str, ...] = ()) -> Person:
        identity = make_identity(name, role, classes)
        token = sign(identity)
        client = app.test_client()
        client.set_cookie("capytale_session", token, path="/activities")
        return Person(identity, token, client)

    return make


@pytest.fixture
def teacher(person) -> Person:
    return person("mme.durand", "teacher")


@pytest.fixture
def other_teacher(person) -> Person:
    return person("m.martin", "teacher")


@pytest.fixture
def student(person) -> Person:
    return person("léa.moreau", "student")


@pytest.fixture
def activity(app: Flask, teacher: Person, corpus: Path) -> dict:
    """The dice notebook shared by ``teacher``, with one annex file; the creation answer."""
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="Dés particuliers",
                    annexes=[("données/lancers.csv", b"de1;de2\n1;6\n")])
    assert answer.status_code == 201, answer.json
    return answer.json


@pytest.fixture
def clock(app):
    """The service's clock, set by the test: ``clock.now`` is what the service reads (NOON at first)."""

    class Clock:
        now = NOON

        def __call__(self):
            return self.now

    made = Clock()
    app.extensions["activities.clock"] = made
    return made

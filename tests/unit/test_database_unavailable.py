"""A service whose database does not answer says to try again in a moment (503), not that a bug happened (500)."""
from __future__ import annotations

import secrets

import pytest
from sqlalchemy import create_engine

from capytale.messaging import Topology
from capytale.stack.processes import free_port
from services.activities import create_app
from tests.conftest import make_identity


@pytest.fixture
def teacher_client(var_dir, sign):
    app = create_app({"VAR_DIR": var_dir, "ACTIVITIES_DATABASE_URL": f"sqlite:///{var_dir / 'activities.sqlite'}",
                      "AMQP_NAMESPACE": Topology(f"capytale-test-{secrets.token_hex(4)}").namespace})
    # the database goes away (stopped, restarting): nothing listens where the engine connects now
    away = create_engine(f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/gone", pool_pre_ping=True)
    app.extensions["capytale.db"].configure(bind=away)
    client = app.test_client()
    client.set_cookie("capytale_session", sign(make_identity("mme.durand", "teacher")), path="/activities")
    yield client
    away.dispose()


def test_the_json_interface_says_503_database_unavailable(teacher_client):
    answer = teacher_client.get("/activities/api/activities")
    assert answer.status_code == 503
    assert answer.json == {"error": "La plateforme est momentanément indisponible. Réessaie dans un instant.",
                           "reason": "database_unavailable"}


def test_a_page_says_it_in_french_with_the_platform_layout(teacher_client):
    answer = teacher_client.get("/activities/")
    assert answer.status_code == 503
    page = answer.get_data(as_text=True)
    assert "momentanément indisponible" in page and "Traceback" not in page
    assert "Content-Security-Policy" in answer.headers  # the platform's own page, which HAProxy passes on

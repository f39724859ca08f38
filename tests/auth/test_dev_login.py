"""The development login, the session cookie and ``whoami``."""
import pytest

from services.auth import create_app
from services.auth.sessions import open_session, safe_next


@pytest.fixture
def app(var_dir):
    return create_app({"VAR_DIR": var_dir, "DEV_LOGIN": True})


@pytest.fixture
def client(app):
    return app.test_client()


def test_login_sends_to_the_development_login_when_it_is_on(client):
    answer = client.get("/auth/login?next=/s/abc")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/auth/dev-login?next=%2Fs%2Fabc"


def test_dev_login_sets_a_cookie_scoped_to_the_platform_paths_only(client):
    answer = client.post("/auth/dev-login", data={"username": "eleve.nguyễn", "role": "student", "next": "/s/abc"})
    assert answer.status_code == 302 and answer.headers["Location"] == "/s/abc"
    cookies = answer.headers.getlist("Set-Cookie")
    assert sorted(c.split("Path=")[1].split(";")[0] for c in cookies) == ["/activities", "/auth", "/s"]
    assert all("HttpOnly" in c and "SameSite=Lax" in c for c in cookies)
    who = client.get("/auth/whoami")
    assert who.status_code == 200
    assert who.json == {"uid": "eleve.nguyễn", "name": "eleve.nguyễn", "role": "student"}


def test_whoami_without_session_is_401(client):
    assert client.get("/auth/whoami").status_code == 401


@pytest.mark.parametrize(("form", "message"), [
    ({"username": "", "role": "student"}, "Choisis un nom"),
    ({"username": "x" * 65, "role": "student"}, "Choisis un nom"),
    ({"username": "bob", "role": "admin"}, "Choisis un rôle"),
    ({"username": "exercice\u202egnp", "role": "student"},
     "Le nom « exercice\ufffdgnp » contient un caractère de contrôle d&#39;écriture (U+202E)"),
    ({"username": "bob", "role": "student", "classes": "2NDE3, 1G\u20662"},
     "La classe « 1G\ufffd2 » contient un caractère de contrôle d&#39;écriture (U+2066)"),
])
def test_bad_dev_login_says_why(client, form, message):
    answer = client.post("/auth/dev-login", data=form)
    assert answer.status_code == 400
    assert message in answer.get_data(as_text=True)


def test_dev_login_is_404_when_off(var_dir):
    client = create_app({"VAR_DIR": var_dir}).test_client()
    assert client.post("/auth/dev-login", data={"username": "a", "role": "student"}).status_code == 404
    assert client.get("/auth/login").status_code == 503


def test_a_user_key_is_stable_and_opaque(client):
    client.post("/auth/dev-login", data={"username": "Élodie", "role": "student"})
    first = client.get_cookie("capytale_session", path="/s").value
    client.post("/auth/dev-login", data={"username": "E\u0301lodie", "role": "student"})  # same name, NFD
    second = client.get_cookie("capytale_session", path="/s").value
    from capytale.tokens import SessionVerifier, load_public_key
    from pathlib import Path
    verifier = SessionVerifier(load_public_key(Path(client.application.config["CAPYTALE"]["SESSION_PUBLIC_KEY"])))
    a, b = verifier.verify(first), verifier.verify(second)
    assert a.key == b.key and "lodie" not in a.key and a.uid == "Élodie"


def test_logout_clears_every_cookie(client):
    client.post("/auth/dev-login", data={"username": "bob", "role": "teacher"})
    answer = client.get("/auth/logout")
    assert answer.status_code == 302
    assert client.get("/auth/whoami").status_code == 401


def test_a_foreign_origin_cannot_log_someone_in(client):
    answer = client.post("/auth/dev-login", data={"username": "bob", "role": "teacher"},
                         headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert "autre site" in answer.get_data(as_text=True)


@pytest.mark.parametrize(("target", "expected"), [
    ("/s/abc", "/s/abc"), ("https://evil.example/", "/"), ("//evil.example", "/"),
    ("/\\evil.example", "/"), ("javascript:alert(1)", "/"), ("", "/"), ("/a\nb", "/"),
])
def test_only_local_next_paths_are_followed(target, expected):
    assert safe_next(target) == expected


def test_a_user_is_updated_at_each_login(var_dir):
    """A student who changes class shows the new class (and name) from the next login on."""
    from capytale import db
    from services.auth.models import User

    app = create_app({"VAR_DIR": var_dir})
    with app.test_request_context():
        first = open_session("eleve.nguyễn", "Lan Nguyễn", "student", "0750001A", ("2NDE3",))
        again = open_session("eleve.nguyễn", "Lan Nguyễn-Tran", "student", "0750001A", ("1G2",))
        user = db.session().get(User, "eleve.nguyễn")
        assert (user.name, user.classes) == ("Lan Nguyễn-Tran", "1G2")
        assert again.classes == ("1G2",) and again.key == first.key and again.sid != first.sid

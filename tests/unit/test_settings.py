from pathlib import Path

import pytest

from capytale.settings import notebook_origins, notebook_url, origin, SettingsError, load


def test_defaults_derive_from_var_dir():
    settings = load("router", environ={"CAPYTALE_VAR_DIR": "/srv/capytale"})
    assert settings["DATA_ROOT"] == Path("/srv/capytale/data")
    assert settings["ROUTER_DATABASE_URL"] == "sqlite:////srv/capytale/router.sqlite"
    assert "NODE" not in settings  # a spawner's setting


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"CAPYTALE_NODS": "4"}, "CAPYTALE_NODS is not a Capytale setting; did you mean CAPYTALE_NODES?"),
        ({"CAPYTALE_NODES": "four"}, "CAPYTALE_NODES: invalid literal"),
        ({"CAPYTALE_DEV_LOGIN": "perhaps"}, "CAPYTALE_DEV_LOGIN: expected true/false"),
    ],
)
def test_a_setting_typed_wrong_stops_the_service(environ, message):
    with pytest.raises(SettingsError, match=message):
        load("router" if "NOD" in next(iter(environ)) else "auth", environ=environ)


def test_production_refuses_development_keys_and_login():
    with pytest.raises(SettingsError, match="CAPYTALE_SESSION_PRIVATE_KEY must be set in production"):
        load("auth", environ={"CAPYTALE_PRODUCTION": "true"})
    explicit = {f"CAPYTALE_{n}": "/etc/capytale/x" for n in
                ("SESSION_PRIVATE_KEY", "SESSION_PUBLIC_KEY", "USER_KEY_SECRET_FILE")}
    explicit["CAPYTALE_NOTEBOOK_URL"] = "https://{key}.nb.capytale.example"
    with pytest.raises(SettingsError, match="DEV_LOGIN is refused in production"):
        load("auth", environ={"CAPYTALE_PRODUCTION": "true", "CAPYTALE_DEV_LOGIN": "1", **explicit})
    assert load("auth", environ={"CAPYTALE_PRODUCTION": "true", **explicit})["PRODUCTION"] is True


def test_production_refuses_a_test_clock():
    explicit = {f"CAPYTALE_{n}": "/etc/capytale/x" for n in ("SESSION_PUBLIC_KEY", "SEED_SECRET_FILE")}
    with pytest.raises(SettingsError, match="CLOCK_FILE is for tests only: refused in production"):
        load("activities", environ={"CAPYTALE_PRODUCTION": "true", "CAPYTALE_CLOCK_FILE": "/tmp/clock",
                                    "CAPYTALE_NOTEBOOK_URL": "https://{key}.nb.capytale.example", **explicit})
    assert load("activities", environ={"CAPYTALE_CLOCK_FILE": "/tmp/clock"})["CLOCK_FILE"] == "/tmp/clock"


@pytest.mark.parametrize("asked", [None, "https://capytale.example/", "https://capytale.example:443/n/",
                                          "https://nb.capytale.example"])
def test_production_refuses_students_servers_on_the_platforms_origin(asked):
    environ = {"CAPYTALE_PRODUCTION": "true", "CAPYTALE_PUBLIC_URL": "https://capytale.example",
               "CAPYTALE_SESSION_PUBLIC_KEY": "/etc/capytale/session.pub",
               "CAPYTALE_SEED_SECRET_FILE": "/etc/capytale/seed.secret"}
    if asked:
        environ["CAPYTALE_NOTEBOOK_URL"] = asked
    with pytest.raises(SettingsError, match="NOTEBOOK_URL must give each student an origin apart"):
        load("activities", environ=environ)
    environ["CAPYTALE_NOTEBOOK_URL"] = "https://{key}.nb.capytale.example"
    assert load("activities", environ=environ)["NOTEBOOK_URL"] == "https://{key}.nb.capytale.example"
    assert notebook_url("https://{key}.nb.capytale.example/", "k2x") == "https://k2x.nb.capytale.example"


def test_origins_compare_as_browsers_do():
    assert origin("https://Capytale.example:443/s/x?y") == "https://capytale.example"
    assert origin("http://127.0.0.2:8080/") == "http://127.0.0.2:8080"
    assert origin("http://[::1]:80/") == "http://[::1]"


def test_overrides_win_over_the_environment():
    settings = load("router", environ={"CAPYTALE_NODES": "2"}, overrides={"NODES": 6})
    assert settings["NODES"] == 6


def test_the_students_origins_are_matched_in_full():
    origins = notebook_origins("http://{key}.nb.localhost:8080", "http://127.0.0.1:8080")
    assert origins.fullmatch("http://k2x.nb.localhost:8080")
    assert not origins.fullmatch("http://k2x.nb.localhost:8081") and not origins.fullmatch("http://127.0.0.1:8080")
    assert not origins.fullmatch("http://a.b.nb.localhost:8080")
    assert notebook_origins("http://127.0.0.1:8080/", "http://127.0.0.1:8080") is None  # the development default

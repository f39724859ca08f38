from pathlib import Path

import pytest

from capytale.settings import SettingsError, load


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
    with pytest.raises(SettingsError, match="DEV_LOGIN is refused in production"):
        load("auth", environ={"CAPYTALE_PRODUCTION": "true", "CAPYTALE_DEV_LOGIN": "1", **explicit})
    assert load("auth", environ={"CAPYTALE_PRODUCTION": "true", **explicit})["PRODUCTION"] is True


def test_overrides_win_over_the_environment():
    settings = load("router", environ={"CAPYTALE_NODES": "2"}, overrides={"NODES": 6})
    assert settings["NODES"] == 6

"""The auth service: who the user is (from the ENT's CAS, or the development login)
and the signed session cookie every other service verifies.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from capytale import db, web
from services.auth import cas, login, models, revoked, sessions


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = web.create_app("auth", __name__, "/auth", config)
    settings = app.config["CAPYTALE"]
    db.init_app(app, settings["AUTH_DATABASE_URL"], models.SCHEMA)
    sessions.init_app(app)
    login.init_app(app)
    cas.init_app(app)
    revoked.init_app(app)
    app.register_blueprint(login.bp)
    app.register_blueprint(cas.bp)
    return app

"""The activities service: teachers share notebooks; each student gets a copy of their own.

It owns the activities, the master notebooks and annex files with their
versions, and the records of students' copies (which it makes on storage the
first time a student opens the share URL).  Teacher pages are under
``/activities/``, the JSON interface under ``/activities/api/``.

Run with ``gunicorn 'services.activities:create_app()'``.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask, redirect

from capytale import db, web
from services.activities import api, clock, evaluation_api, kernels, models, pages, presence, storage, window

URL_PREFIX = "/activities"


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """The activities app; ``config`` (by setting name) overrides the environment, for tests."""
    app = web.create_app("activities", __name__, URL_PREFIX, config)
    db.init_app(app, app.config["CAPYTALE"]["ACTIVITIES_DATABASE_URL"], models.SCHEMA)
    storage.init_app(app)
    kernels.init_app(app)
    presence.init_app(app)
    clock.init_app(app)
    window.init_app(app)
    pages.init_app(app)
    app.register_blueprint(api.bp, url_prefix=f"{URL_PREFIX}/api")
    app.register_blueprint(evaluation_api.bp, url_prefix=f"{URL_PREFIX}/api")
    app.add_url_rule("/", "root", lambda: redirect(f"{URL_PREFIX}/"))
    return app

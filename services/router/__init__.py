"""The router: ``/s/<code>`` takes a student to their own notebook.

It asks activities for the student's copy, places the student on a live node
(sticky, least loaded), asks that node's spawner over RabbitMQ to ensure the
server runs, and redirects with a single-use grant — or shows the waiting page.
"""
from __future__ import annotations

from typing import Any, Mapping

from flask import Flask

from capytale import db, web
from services.router import models, nodes, views


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    app = web.create_app("router", __name__, "/s", config)
    settings = app.config["CAPYTALE"]
    db.init_app(app, settings["ROUTER_DATABASE_URL"], models.SCHEMA)
    nodes.init_app(app)
    views.init_app(app)
    app.register_blueprint(views.bp)
    return app

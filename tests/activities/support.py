"""What the activities tests do as people do it: upload, ask for a copy, look at what is stored."""
from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timezone
from html.parser import HTMLParser
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from werkzeug.datastructures import FileStorage, MultiDict
from werkzeug.test import encode_multipart

from capytale import db
from capytale.tokens import Identity
from services.activities import models

DICE = "Calcul d'une paire de dés un peu particuliers.ipynb"


NOON = datetime(2026, 3, 12, 12, 0, tzinfo=timezone.utc)  # 13:00 in Paris: the evaluation tests' clock starts there


@dataclass
class Person:
    """Someone logged in: their identity, session token and a browser carrying the session cookie."""

    identity: Identity
    token: str
    client: FlaskClient

    def bearer(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]) -> dict:
    """Arguments of a test client call for a multipart body, encoded in memory.

    (The test client's own encoder spools big bodies to a temporary file it never closes.)
    """
    values = MultiDict(fields)
    for field, name, content in files:
        values.add(field, FileStorage(io.BytesIO(content), filename=name))
    boundary, body = encode_multipart(values)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(who: Person, name: str, content: bytes, title: str = "", annexes=(), headers=None,
           path: str = "/activities/api/activities"):
    """POST a notebook, its title and annex files as ``who`` (to the JSON interface unless ``path`` says)."""
    files = [("notebook", name, content), *(("annex", annex_name, data) for annex_name, data in annexes)]
    return who.client.post(path, headers=headers or {}, **multipart({"title": title}, files))


def ensure_copy(app: Flask, who: Person, code: str):
    """PUT …/share/<code>/copy as the router does: no cookie, the person's token as Bearer."""
    return app.test_client().put(f"/activities/api/share/{code}/copy", headers=who.bearer())


def stored(app: Flask, data_root: Path) -> tuple[int, list[str]]:
    """How many activities the database holds, and what the masters folder holds."""
    with app.app_context():
        count = db.session().scalar(select(func.count()).select_from(models.Activity))
    masters = data_root / "masters"
    return count, sorted(p.name for p in masters.iterdir()) if masters.exists() else []


URL_ATTRIBUTES = {"href", "src", "srcset", "cite", "action", "formaction", "poster", "data", "xlink:href"}


class _Addresses(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[tuple[str, str, str]] = []

    def handle_starttag(self, tag, attrs):
        self.found += [(tag, name, value or "") for name, value in attrs if name in URL_ATTRIBUTES]


def addresses(html: str) -> list[tuple[str, str, str]]:
    """Every (tag, attribute, address) of ``html``, the entities decoded as a browser decodes them."""
    parser = _Addresses()
    parser.feed(html)
    parser.close()
    return parser.found

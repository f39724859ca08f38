"""Opening a session, whichever provider said who the user is (CAS, the development login).

:func:`open_session` records the user and gives their identity; :func:`signed_in`
sends the browser on to a local path (:func:`safe_next`) with the session cookie,
signed here with the private key and verified everywhere with the public one.  The
cookie is set once per platform path (``/auth``, ``/activities``, ``/s``) so that
browsers never send it to ``/n/…``, where students' own code answers.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import unicodedata
import urllib.parse

from flask import Flask, Response, current_app, redirect

from capytale import db
from capytale.tokens import Identity, SessionSigner, load_private_key
from services.auth.models import User

COOKIE_PATHS = ("/auth", "/activities", "/s")


def init_app(app: Flask) -> None:
    settings = app.config["CAPYTALE"]
    if not settings["PRODUCTION"] and settings.is_default("SESSION_PRIVATE_KEY"):
        app.logger.warning("DEVELOPMENT session key in use (%s): never in production", settings["SESSION_PRIVATE_KEY"])
    app.extensions["capytale.signer"] = SessionSigner(
        load_private_key(settings["SESSION_PRIVATE_KEY"]), settings["SESSION_LIFETIME"]
    )
    app.extensions["capytale.user_key_secret"] = settings["USER_KEY_SECRET_FILE"].read_text().strip().encode()


def normalise_uid(uid: str) -> str:
    return unicodedata.normalize("NFC", uid.strip())


def user_key(uid: str, secret: bytes | None = None) -> str:
    """The opaque, stable key of a user: never the raw user name."""
    secret = secret if secret is not None else current_app.extensions["capytale.user_key_secret"]
    digest = hmac.new(secret, normalise_uid(uid).encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode().lower()[:20]


def new_session_id() -> str:
    return secrets.token_urlsafe(12)


def safe_next(target: str | None) -> str:
    """Follow only local paths; anything else goes to the home page."""
    if not target:
        return "/"
    parts = urllib.parse.urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ord(c) < 32 for c in target):
        return "/"
    return target


def open_session(uid: str, name: str, role: str, school: str = "", classes: tuple[str, ...] = ()) -> Identity:
    """Create or update the user, then give the identity of a new session (its cookie not yet set)."""
    uid = normalise_uid(uid)
    key = user_key(uid)
    session = db.session()
    user = session.get(User, uid)
    if user is None:
        user = User(uid=uid, key=key, name=name, role=role)
        session.add(user)
    user.name, user.role, user.school, user.classes = name, role, school, "\n".join(classes)
    session.commit()
    identity = Identity(uid=uid, name=name, role=role, key=key, sid=new_session_id(),
                        school=school, classes=tuple(classes))
    current_app.logger.info("session opened for %s (%s)", uid, role)
    return identity


def signed_in(identity: Identity, next_path: str) -> Response:
    """The browser sent on to ``next_path`` (already made safe) with ``identity``'s session cookie."""
    response = redirect(next_path)
    set_session_cookie(response, identity)
    return response


def set_session_cookie(response: Response, identity: Identity) -> None:
    settings = current_app.config["CAPYTALE"]
    token = current_app.extensions["capytale.signer"].sign(identity)
    secure = urllib.parse.urlsplit(settings["PUBLIC_URL"]).scheme == "https"
    for path in COOKIE_PATHS:
        response.set_cookie(
            settings["SESSION_COOKIE"], token, max_age=settings["SESSION_LIFETIME"], path=path,
            httponly=True, secure=secure, samesite="Lax",
        )


def clear_session_cookie(response: Response) -> None:
    settings = current_app.config["CAPYTALE"]
    for path in COOKIE_PATHS:
        response.delete_cookie(settings["SESSION_COOKIE"], path=path)

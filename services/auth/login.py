"""Login, logout and ``whoami``.

``/auth/login`` sends the browser to the identity provider: the ENT's CAS when
``CAPYTALE_CAS_SERVER_URL`` is set (:mod:`services.auth.cas`), the development login
when it is switched on (never both). The
provider comes back with a user; :func:`sessions.open_session` records it and
:func:`sessions.signed_in` sets the cookie.
"""
from __future__ import annotations

import time
import urllib.parse

from flask import Blueprint, Flask, jsonify, redirect, render_template, request
from flask_babel import gettext as _, lazy_gettext as _l

from capytale import web
from capytale.bidi import bidi_control_in, made_visible
from capytale.errors import PlatformError
from services.auth import cas, revoked, sessions

bp = Blueprint("auth", __name__, url_prefix="/auth", template_folder="templates")

ROLES = {"teacher": _l("Enseignant·e"), "student": _l("Élève")}
MAX_NAME = 64


def init_app(app: Flask) -> None:
    settings = app.config["CAPYTALE"]
    if settings["DEV_LOGIN"]:
        if settings["CAS_SERVER_URL"]:
            raise ValueError("CAPYTALE_DEV_LOGIN is refused when CAPYTALE_CAS_SERVER_URL is set")
        app.logger.warning("DEVELOPMENT LOGIN is on: anyone can pick any name and role")


def _dev_login_enabled() -> bool:
    return bool(web.settings()["DEV_LOGIN"])


@bp.get("/login")
def login():
    next_path = sessions.safe_next(request.args.get("next"))
    if cas.enabled():
        return cas.login_redirect(next_path)
    if _dev_login_enabled():
        return redirect("/auth/dev-login?" + urllib.parse.urlencode({"next": next_path}))
    raise PlatformError(
        _("Aucune méthode de connexion n'est configurée sur cette plateforme. Préviens la personne qui l'administre."),
        log_message="no identity provider: set CAPYTALE_CAS_SERVER_URL or CAPYTALE_DEV_LOGIN",
        reason="no_identity_provider", status=503,
    )


@bp.route("/dev-login", methods=["GET", "POST"])
def dev_login():
    if not _dev_login_enabled():
        raise PlatformError(_("Cette page n'existe pas."), reason="dev_login_off", status=404)
    next_path = sessions.safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("auth/dev_login.html", next=next_path, roles=ROLES)
    username = sessions.normalise_uid(request.form.get("username", ""))
    role = request.form.get("role", "")
    classes = tuple(name for name in (" ".join(part.split()) for part in request.form.get("classes", "").split(","))
                    if name and len(name) <= MAX_NAME and not any(ord(c) < 32 for c in name))
    error = None
    if not username or len(username) > MAX_NAME or any(ord(c) < 32 for c in username):
        error = _("Choisis un nom de 1 à %(limit)s caractères.", limit=MAX_NAME)
    elif code := bidi_control_in(username):
        error = _("Le nom « %(name)s » contient un caractère de contrôle d'écriture (%(code)s), invisible, qui "
                  "change l'ordre dans lequel les lettres s'affichent. Retire-le.", name=made_visible(username),
                  code=code)
    elif role not in ROLES:
        error = _("Choisis un rôle : élève ou enseignant·e.")
    elif spoiled := next((name for name in classes if bidi_control_in(name)), None):
        error = _("La classe « %(name)s » contient un caractère de contrôle d'écriture (%(code)s), invisible, "
                  "qui change l'ordre dans lequel les lettres s'affichent. Retire-le.", name=made_visible(spoiled),
                  code=bidi_control_in(spoiled))
    if error:
        if web.wants_json():
            raise PlatformError(error, reason="bad_dev_login", status=400)
        return render_template("auth/dev_login.html", next=next_path, roles=ROLES, error=error,
                               username=username, classes=request.form.get("classes", "")), 400
    return sessions.signed_in(sessions.open_session(username, username, role, classes=classes), next_path)


@bp.get("/whoami")
def whoami():
    identity = web.current_identity()
    if identity is None:
        return jsonify({"error": _("Tu n'es pas connecté·e."), "reason": "login_required"}), 401
    return jsonify(identity.public())


@bp.route("/logout", methods=["GET", "POST"])
def logout():
    """End the session here (and on every service), then at the ENT when CAS is configured."""
    identity = web.current_identity()
    if identity is not None and identity.sid:
        revoked.end_session(identity.sid, int(time.time()) + web.settings()["SESSION_LIFETIME"], "logout")
    response = redirect(cas.logout_url() if cas.enabled() else "/")
    sessions.clear_session_cookie(response)
    return response

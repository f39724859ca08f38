"""The Flask glue every web service shares.

:func:`create_app` builds a service's app with the same skeleton everywhere:
settings (defaults, then environment, then a test's mapping), logging, the
common page layout and stylesheet, French error pages (JSON under ``/api/``),
a cross-site check on unsafe methods, ``/_health`` for HAProxy, and the
session cookie verified with auth's public key.
"""
from __future__ import annotations

import functools
import logging
import urllib.parse
from typing import Any, Callable, Mapping

from flask import Blueprint, Flask, g, jsonify, redirect, render_template, request
from flask_babel import gettext as _, lazy_gettext as _l
from werkzeug.exceptions import HTTPException
from werkzeug.routing import IntegerConverter

from capytale import i18n, logs, revocations, settings as settings_module
from capytale.errors import PlatformError
from capytale.tokens import Identity, InvalidToken, SessionVerifier, load_public_key

log = logging.getLogger("capytale.web")

UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

common = Blueprint("capytale", __name__, template_folder="templates", static_folder="static")

STATUS_MESSAGES = {
    400: _l("La demande n'a pas pu être comprise."),
    401: _l("Il faut te connecter pour continuer."),
    403: _l("Tu n'as pas accès à cette page."),
    404: _l("Cette page n'existe pas (ou plus)."),
    405: _l("Cette action n'est pas possible ici."),
    413: _l("Le fichier envoyé est trop gros."),
    500: _l("Une erreur inattendue s'est produite. Réessaie dans un instant."),
    502: _l("Un service de la plateforme ne répond pas. Réessaie dans un instant."),
    503: _l("La plateforme est momentanément indisponible. Réessaie dans un instant."),
}

# Pages run no script but the platform's own files, load nothing from elsewhere, and cannot be framed:
# a notebook's HTML shown to a teacher (sanitized already) could not run anything even if it slipped through.
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                           "object-src 'none'; base-uri 'none'; form-action 'self'{notebooks}; "
                           "frame-ancestors 'none'")


def content_security_policy(notebook_url: str) -> str:
    """The pages' policy; a form may lead to the students' servers too (a login whose next step opens
    a notebook: form-action applies to every redirect the form's answer makes)."""
    notebooks = settings_module.origin(notebook_url.replace(settings_module.KEY, "*"))
    return CONTENT_SECURITY_POLICY.format(notebooks=f" {notebooks}")


def _security_headers(response):
    from flask import current_app

    response.headers.setdefault("Content-Security-Policy", current_app.config["CAPYTALE_CSP"])
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def create_app(service: str, import_name: str, url_prefix: str, config: Mapping[str, Any] | None = None) -> Flask:
    """A Flask app for ``service`` whose pages live under ``url_prefix``."""
    settings = settings_module.load(service, overrides=config)
    logs.configure(service, settings["LOG_LEVEL"])
    app = Flask(import_name)
    app.url_map.converters["id"] = DatabaseId
    app.config["CAPYTALE"] = settings
    app.config["URL_PREFIX"] = url_prefix
    app.config["CAPYTALE_CSP"] = content_security_policy(settings["NOTEBOOK_URL"])
    app.config["CAPYTALE_NOTEBOOK_ORIGINS"] = settings_module.notebook_origins(settings["NOTEBOOK_URL"],
                                                                              settings["PUBLIC_URL"])
    app.config["MAX_CONTENT_LENGTH"] = settings.get("MAX_UPLOAD_MB", 16) * 1024 * 1024
    app.extensions["capytale.sessions"] = SessionVerifier(load_public_key(settings["SESSION_PUBLIC_KEY"]))
    app.register_blueprint(common, url_prefix=f"{url_prefix}/_common")
    app.before_request(_refuse_cross_site)
    app.after_request(_security_headers)
    i18n.init_app(app)
    app.register_error_handler(PlatformError, _platform_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)
    app.add_url_rule("/_health", "health", lambda: {"status": "ok", "service": service})
    app.jinja_env.globals["public_url"] = settings["PUBLIC_URL"]
    app.jinja_env.globals["site_url"] = ""  # links of the common layout; absolute on a page shown elsewhere
    revocations.init_app(app)
    return app


def settings() -> settings_module.Settings:
    from flask import current_app

    return current_app.config["CAPYTALE"]


# --- who is asking -------------------------------------------------------------------


def session_token() -> str:
    """The session token of this request: cookie, or ``Authorization: Bearer`` for services."""
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        return header[len("Bearer "):].strip()
    return request.cookies.get(settings()["SESSION_COOKIE"], "")


def current_identity() -> Identity | None:
    if "identity" not in g:
        from flask import current_app

        if _from_another_site():
            g.identity = None  # a page elsewhere, a student's server above all, never acts as the person
            return None
        try:
            g.identity = current_app.extensions["capytale.sessions"].verify(session_token())
        except InvalidToken:
            g.identity = None
        if g.identity is not None and revocations.is_revoked(g.identity.sid):
            g.identity = None  # ended by a single logout
    return g.identity


def login_url(next_path: str | None = None) -> str:
    next_path = next_path if next_path is not None else request.full_path.rstrip("?")
    return "/auth/login?" + urllib.parse.urlencode({"next": next_path})


def login_required(role: str | None = None) -> Callable:
    """Pages: send the browser to the login; API: 401.  ``role``: 403 for the others."""

    def decorate(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            identity = current_identity()
            if identity is None:
                if wants_json():
                    raise PlatformError(_("Il faut te connecter pour continuer."), reason="login_required", status=401)
                return redirect(login_url())
            if role is not None and identity.role != role:
                raise PlatformError(
                    _("Cette page est réservée aux enseignants.") if role == "teacher"
                    else _("Cette page est réservée aux élèves."),
                    log_message=f"{identity.uid} ({identity.role}) refused a {role} page",
                    reason="wrong_role", status=403,
                )
            return view(*args, **kwargs)

        return wrapper

    return decorate


# --- requests and errors --------------------------------------------------------------


def wants_json() -> bool:
    return "/api/" in request.path or request.accept_mimetypes.best == "application/json"


def _allowed_origins() -> set[str]:
    return {settings_module.origin(settings()["PUBLIC_URL"]), f"{request.scheme}://{request.host}"}


def _from_another_site() -> bool:
    """A request another site's page made, not a navigation: it carries no one's credentials here.

    Browsers say so in ``Sec-Fetch-Site``/``Sec-Fetch-Mode``; the students' servers' origin
    (``NOTEBOOK_URL``), which their code controls, is also recognised by its ``Origin``.
    Scripts and the services calling each other send neither.
    """
    if request.headers.get("Sec-Fetch-Site") in ("same-site", "cross-site") and \
            request.headers.get("Sec-Fetch-Mode") != "navigate":
        return True
    return _is_notebook_origin(request.headers.get("Origin"))


def _is_notebook_origin(asked: str | None) -> bool:
    from flask import current_app

    origins = current_app.config["CAPYTALE_NOTEBOOK_ORIGINS"]
    return asked is not None and origins is not None and origins.fullmatch(asked) is not None


def _refuse_cross_site() -> None:
    """Unsafe methods from a foreign page are refused; scripts sending no Origin are served."""
    if request.method not in UNSAFE_METHODS:
        return
    origin = request.headers.get("Origin")
    if origin is None or (origin in _allowed_origins() and not _is_notebook_origin(origin)):
        return
    raise PlatformError(
        _("Cette action venait d'un autre site : elle a été refusée pour te protéger."),
        log_message=f"cross-site {request.method} {request.path} from Origin {origin}",
        reason="cross_site", status=403,
    )


def error_response(message: str, status: int, reason: str, **page: str):
    """JSON under ``/api/``, else the error page (``page``: heading, link, link_label)."""
    message = str(message)  # a lazily translated text becomes this request's language
    if wants_json():
        body = {"error": message, "reason": reason}
        if page.get("heading"):
            body["heading"] = str(page["heading"])  # a service showing this refusal on its own page uses it too
        return jsonify(body), status
    return render_template("capytale/error.html", message=message, status=status, **page), status


def _platform_error(error: PlatformError):
    level = logging.ERROR if error.status >= 500 else logging.INFO
    log.log(level, "%s %s -> %s %s: %s", request.method, request.path, error.status, error.reason, error.log_message)
    return error_response(error.user_message, error.status, error.reason,
                          heading=error.heading, link=error.link, link_label=error.link_label)


def _http_error(error: HTTPException):
    status = error.code or 500
    message = STATUS_MESSAGES.get(status, error.description or "")
    body, status = error_response(message, status, error.name.lower().replace(" ", "_"))
    # what the refusal says beside its page: a 405's Allow, a 401's WWW-Authenticate
    kept = {name: value for name, value in error.get_headers() if name.lower() != "content-type"}
    return body, status, kept


class DatabaseId(IntegerConverter):
    """``<id:…>`` in a URL: an integer a database key can hold (1 to 2**63 - 1); any other is a 404,
    where ``<int:…>`` would pass 2**64 on to the database and fail with a 500."""

    def __init__(self, url_map) -> None:
        super().__init__(url_map, min=1, max=2**63 - 1)


def _unexpected_error(error: Exception):
    log.exception("unexpected error on %s %s", request.method, request.path)
    return error_response(STATUS_MESSAGES[500], 500, "internal")

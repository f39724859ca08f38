"""Login through the ENT's CAS (versions 2 and 3), and its single logout.

``/auth/login?next=…`` → the CAS login page → ``/auth/callback?next=…&ticket=ST-…``:
the ticket is validated by the CAS server (python-cas builds the request; we read the
raw answer with :mod:`services.auth.ent_attributes`, since python-cas drops nested
attributes), the user is created or updated, the session cookie set, and the browser
sent to ``next`` (local paths only).  The CAS server's single logout request is a POST
to the same service URL; it names the service ticket, which we recorded with the
session it opened, and that session is revoked on every service.
"""
from __future__ import annotations

import time
import urllib.parse
import xml.etree.ElementTree as ElementTree

import requests
from cas import CASClient
from flask import Blueprint, Flask, current_app, redirect, request
from flask_babel import gettext as _

from capytale import db, web
from capytale.errors import PlatformError
from capytale.http import ServiceSession
from services.auth import ent_attributes, revoked, sessions
from services.auth.models import ServiceTicket

bp = Blueprint("cas", __name__, url_prefix="/auth", template_folder="templates")

SAMLP = "{urn:oasis:names:tc:SAML:2.0:protocol}"


class CasRefusal(PlatformError):
    """A login refused: the page says so and offers a link to go on (log in again, home)."""

    def __init__(self, user_message: str, **kwargs):
        super().__init__(user_message, heading=_("Connexion impossible"), **kwargs)


def init_app(app: Flask) -> None:
    settings = app.config["CAPYTALE"]
    if settings["CAS_SERVER_URL"]:
        if str(settings["CAS_VERSION"]) not in ("2", "3"):
            raise ValueError(f"CAPYTALE_CAS_VERSION must be 2 or 3, not {settings['CAS_VERSION']!r}")
        app.logger.info("CAS login through %s (version %s)", settings["CAS_SERVER_URL"], settings["CAS_VERSION"])


def enabled() -> bool:
    return bool(web.settings()["CAS_SERVER_URL"])


def service_url(next_path: str) -> str:
    return web.settings()["PUBLIC_URL"].rstrip("/") + "/auth/callback?" + urllib.parse.urlencode({"next": next_path})


def client(next_path: str):
    settings = web.settings()
    return CASClient(version=str(settings["CAS_VERSION"]), server_url=settings["CAS_SERVER_URL"].rstrip("/") + "/",
                     service_url=service_url(next_path),
                     # one try, bounded: a silent CAS server answers 503 within CAS_TIMEOUT
                     session=ServiceSession(retries=0, timeout=(settings["CAS_TIMEOUT"], settings["CAS_TIMEOUT"])))


def login_redirect(next_path: str):
    return redirect(client(next_path).get_login_url())


def logout_url() -> str:
    return client("/").get_logout_url(web.settings()["PUBLIC_URL"].rstrip("/") + "/")


def _login_again(next_path: str) -> str:
    return "/auth/login?" + urllib.parse.urlencode({"next": next_path})


def validate(ticket: str, next_path: str) -> ent_attributes.Profile:
    """The profile of the person the ticket names, or a :class:`CasRefusal` saying why not."""
    settings = web.settings()
    try:
        raw = client(next_path).get_verification_response(ticket)
    except requests.RequestException as exc:
        raise CasRefusal(
            _("Le serveur de connexion de l'ENT ne répond pas pour le moment. Réessaie dans quelques minutes ; "
              "si cela dure, préviens la personne qui administre l'ENT."),
            log_message=f"CAS {settings['CAS_SERVER_URL']} unreachable: {type(exc).__name__}: {exc}",
            reason="cas_unreachable", status=503, link=_login_again(next_path), link_label=_("Réessayer"),
        ) from None
    try:
        user = ent_attributes.parse_validation(raw)
    except ent_attributes.ValidationFailure as failure:
        if failure.code == "INVALID_RESPONSE":
            raise CasRefusal(
                _("Le serveur de connexion de l'ENT a répondu de façon inattendue. Réessaie dans quelques minutes."),
                log_message=f"CAS validation answer unreadable: {failure.message}: {raw[:300]!r}",
                reason="cas_bad_response", status=502, link=_login_again(next_path), link_label=_("Réessayer"),
            ) from None
        raise CasRefusal(
            _("Ta connexion a expiré, reconnecte-toi."),
            log_message=f"ticket refused by CAS: {failure.code} {failure.message}",
            reason="ticket_refused", status=403, link=_login_again(next_path), link_label=_("Me reconnecter"),
        ) from None
    try:
        return ent_attributes.derive(user, ent_attributes.Mapping.from_settings(settings))
    except ent_attributes.RoleRefused as refused:
        raise CasRefusal(
            _("Capytale est réservé aux enseignants et aux élèves. Ton compte ENT ne permet pas de l'utiliser ; "
              "si tu penses que c'est une erreur, adresse-toi à l'établissement."),
            log_message=f"{refused.uid} refused: profiles {refused.profiles}",
            reason="role_not_allowed", status=403, link=logout_url(), link_label=_("Me déconnecter de l'ENT"),
        ) from None


@bp.route("/callback", methods=["GET", "POST"])
def callback():
    if not enabled():
        raise PlatformError(_("Cette page n'existe pas."), reason="cas_off", status=404)
    if request.method == "POST":
        return single_logout(request.form.get("logoutRequest", ""))
    next_path = sessions.safe_next(request.args.get("next"))
    ticket = request.args.get("ticket", "")
    if not ticket:
        return login_redirect(next_path)
    session = db.session()
    if session.get(ServiceTicket, ticket) is not None:
        raise CasRefusal(_("Ta connexion a expiré, reconnecte-toi."), log_message=f"ticket {ticket[:12]}… replayed",
                         reason="ticket_replayed", status=403, link=_login_again(next_path),
                         link_label=_("Me reconnecter"))
    profile = validate(ticket, next_path)
    identity = sessions.open_session(profile.uid, profile.name, profile.role, profile.school, profile.classes)
    expires = int(time.time()) + int(web.settings()["SESSION_LIFETIME"])
    session.add(ServiceTicket(ticket=ticket, sid=identity.sid, uid=identity.uid, expires=expires))
    session.commit()
    return sessions.signed_in(identity, next_path)


def session_index(logout_request: str) -> str:
    """The service ticket a SAML ``LogoutRequest`` names, or ``""``."""
    try:
        root = ElementTree.fromstring(logout_request)
    except ElementTree.ParseError:
        return ""
    found = root.find(f".//{SAMLP}SessionIndex")
    return (found.text or "").strip() if found is not None else ""


def single_logout(logout_request: str):
    ticket = session_index(logout_request)
    if not ticket:
        raise PlatformError(_("Demande de déconnexion illisible."), log_message="unreadable logoutRequest",
                            reason="bad_logout_request", status=400)
    session = db.session()
    row = session.get(ServiceTicket, ticket)
    if row is None:
        current_app.logger.info("single logout for an unknown ticket %s…", ticket[:12])
        return "", 200
    row.revoked = True
    revoked.end_session(row.sid, row.expires, "single_logout")  # commits the ticket's flag too
    current_app.logger.info("single logout: session %s of %s ended", row.sid, row.uid)
    return "", 200


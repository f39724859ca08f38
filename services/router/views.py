"""``GET /s/<code>``: from a share URL to the student's own notebook."""
from __future__ import annotations

import logging
import re
import urllib.parse

from flask import Blueprint, Flask, current_app, jsonify, redirect, render_template, request
from flask_babel import gettext as _
import requests

from capytale import i18n, web
from capytale.errors import PlatformError
from capytale.http import ServiceSession
from capytale.messaging import Envelope, MessagingUnavailable, RpcTimeout
from capytale.settings import notebook_url
from capytale.tokens import GrantSigner, Identity, load_private_key
from services.router import nodes

bp = Blueprint("router", __name__, url_prefix="/s", template_folder="templates")
log = logging.getLogger("capytale.router")

SHARE_CODE_IN_PATH = re.compile(r"/notebooks/[^/]* \(([a-z0-9]{4,16})\)/")  # the copy's folder ends with its code
API_IN_PATH = re.compile(r"^/n/\d+/u/[a-z0-9]+/(lab/)?api/")  # a call of Jupyter's page, not a page
LAB_IN_PATH = re.compile(r"^/n/\d+/u/[a-z0-9]+/lab(/|$|\?)")  # a teacher's space
SHARE_CODE = re.compile(r"[A-Za-z0-9]{4,16}")
RETRY_SECONDS = 2
MAX_ATTEMPTS = 45  # about a minute and a half of a silent node before saying it failed
NODE_ANSWER_MARGIN = 2.0  # seconds the router waits for a node's answer beyond what it asked the node to wait
# What a poll of the waiting page (its URL carries ``attempt``) waits for a start, at most: the page asks
# again RETRY_SECONDS later anyway. The first click waits SPAWN_WAIT, so that most students never see the
# page; a class polling every 2 s would otherwise hold every thread of the router for SPAWN_WAIT each time,
# and HAProxy, whose health checks wait behind them, would take the router for dead.
POLL_WAIT = 1.0


def init_app(app: Flask) -> None:
    settings = app.config["CAPYTALE"]
    if not settings["PRODUCTION"] and settings.is_default("GRANT_PRIVATE_KEY"):
        app.logger.warning("DEVELOPMENT grant key in use (%s): never in production", settings["GRANT_PRIVATE_KEY"])
    app.extensions["capytale.grants"] = GrantSigner(load_private_key(settings["GRANT_PRIVATE_KEY"]),
                                                    settings["GRANT_LIFETIME"])
    app.extensions["capytale.activities"] = ServiceSession()


@bp.get("/")
def enter_code():
    """Where a student types the short code the teacher shows (``/s/?code=AB12CD34`` goes there)."""
    typed = "".join(request.args.get("code", "").split())
    if typed:
        if SHARE_CODE.fullmatch(typed):
            return redirect(f"/s/{typed.lower()}")
        return render_template("router/enter_code.html", code=typed, error=True), 400
    return render_template("router/enter_code.html", code="", error=False)


@bp.get("/<code>")
def open_share(code: str):
    identity = web.current_identity()
    if identity is None:
        return redirect(web.login_url(f"/s/{code}"))
    attempt = request.args.get("attempt", default=0, type=int)
    copy = ensure_copy(code)
    node = nodes.place(identity.key)
    try:
        reply = ensure_server(node, identity, polled="attempt" in request.args)
    except RpcTimeout:
        return waiting_page(f"/s/{urllib.parse.quote(code)}", attempt, copy["activity"]["title"])
    if reply.get("state") != "running":
        return waiting_page(f"/s/{urllib.parse.quote(code)}", attempt, copy["activity"]["title"], reply)
    path = urllib.parse.quote(copy["copy"]["path"])
    return redirect_to_server(reply, identity, f"notebooks/{path}")


SPACE_PATH = "/s/_espace"


@bp.get("/_espace")
def teacher_space():
    """Mon espace Jupyter: the teacher's own server, in JupyterLab (the same server their copies open in)."""
    identity = web.current_identity()
    if identity is None:
        return redirect(web.login_url(SPACE_PATH))
    if identity.role != "teacher":
        raise PlatformError(_("Cet espace Jupyter est celui des enseignant·es. Pour travailler sur une activité, "
                              "ouvre le lien donné par ton enseignant·e."),
                            log_message=f"{identity.uid} ({identity.role}) asked for a teacher space",
                            reason="wrong_role", status=403)
    node = nodes.place(identity.key)
    attempt = request.args.get("attempt", default=0, type=int)
    try:
        reply = ensure_server(node, identity, polled="attempt" in request.args)
    except RpcTimeout:
        return waiting_page(SPACE_PATH, attempt, _("Mon espace Jupyter"))
    if reply.get("state") != "running":
        return waiting_page(SPACE_PATH, attempt, _("Mon espace Jupyter"), reply)
    return redirect_to_server(reply, identity, "lab")


def redirect_to_server(reply: dict, identity: Identity, page: str):
    """To ``page`` of the server ``reply`` names, on the students' servers' origin, with a grant for it."""
    grant = current_app.extensions["capytale.grants"].issue(identity.key, reply["instance"], identity)
    return redirect(f"{notebook_url(web.settings()['NOTEBOOK_URL'], identity.key)}{reply['prefix']}{page}?grant={grant}")


PROXY_STATUSES = frozenset({404, 502, 503, 504})  # what a node's CHP asks this page for


@bp.get("/_proxy-error/<int:status>")
def proxy_error(status: int):
    """What a node's CHP shows when a student's server is not there (culled, stopped, starting)."""
    url = urllib.parse.unquote(request.args.get("url", ""))
    code = SHARE_CODE_IN_PATH.search(url)
    reopen = f"/s/{code.group(1)}" if code else (SPACE_PATH if LAB_IN_PATH.search(url) else None)
    status = status if status in PROXY_STATUSES else 404  # the URL says it, so it must be one CHP sends
    if API_IN_PATH.search(url):  # the open notebook page's call: Jupyter shows "message", keeps the edits, tries again
        return jsonify({"message": _("Ton serveur Jupyter ne répond pas pour l'instant : tes modifications restent dans "
                                     "la page et seront enregistrées quand il sera revenu."),
                        "reason": "server_gone"}), status
    site = web.settings()["PUBLIC_URL"].rstrip("/")  # the page is shown on the students' servers' origin
    return render_template("router/server_gone.html", reopen=reopen and site + reopen, status=status,
                           site_url=site), status


def ensure_copy(code: str) -> dict:
    """Ask activities for the student's copy (made on the first visit, untouched after)."""
    url = f"{web.settings()['ACTIVITIES_URL']}/activities/api/share/{urllib.parse.quote(code)}/copy"
    try:
        answer = current_app.extensions["capytale.activities"].put(  # its refusals in the student's language
            url, headers={"Authorization": f"Bearer {web.session_token()}"}, cookies={i18n.COOKIE: i18n.language()})
    except requests.RequestException as exc:
        raise PlatformError(
            _("Les activités sont momentanément injoignables. Réessaie dans un instant."),
            log_message=f"activities unreachable: {exc}", reason="activities_unreachable", status=503,
        ) from exc
    if answer.status_code == 200:
        return answer.json()
    try:
        refusal = answer.json()
        message, heading = refusal.get("error"), refusal.get("heading")
    except ValueError:
        message = heading = None
    if answer.status_code == 404:
        message = message or _("Ce lien d'activité n'existe pas. Vérifie-le auprès de ton enseignant·e.")
    status, reason = answer.status_code if answer.status_code < 500 else 502, f"activities_{answer.status_code}"
    if answer.status_code == 507 and message:  # the storage is full: said as it is, not as a failing service
        status, reason = 507, "disk_full"
    raise PlatformError(
        message or _("Ta copie n'a pas pu être préparée. Réessaie dans un instant."),
        log_message=f"activities answered {answer.status_code} for share code {code!r}",
        reason=reason, status=status, heading=heading,
    )


def ensure_server(node: int, identity: Identity, polled: bool = False) -> dict:
    """Ask the node's spawner to run the student's server, waiting for it at most ``SPAWN_WAIT`` (a poll of
    the waiting page: ``POLL_WAIT``): the reply says it runs, or where its start is (queued, starting);
    RpcTimeout when the node is silent."""
    # a teacher's server also loads JupyterLab: it is their own space ("Mon espace Jupyter") too
    wait = min(POLL_WAIT, web.settings()["SPAWN_WAIT"]) if polled else web.settings()["SPAWN_WAIT"]
    message = Envelope("server.ensure", {"user_key": identity.key, "lab": identity.role == "teacher", "wait": wait,
                                         "owner": {"uid": identity.uid, "name": identity.name}})
    try:
        reply = nodes.bus().call_node(node, message, timeout=wait + NODE_ANSWER_MARGIN)
    except MessagingUnavailable as exc:
        nodes.board().forget(node)
        raise PlatformError(
            _("La plateforme n'arrive pas à joindre les serveurs de carnets. Réessaie dans un instant."),
            log_message=f"node {node}: {exc}", reason="node_unreachable", status=503,
        ) from exc
    if not reply.body.get("ok"):
        raise PlatformError(  # the node tried twice
            _("Ton serveur de carnets n'a pas pu démarrer, même après un second essai. Recharge la page dans un "
              "instant ; si cela recommence, préviens ton enseignant·e."),
            log_message=f"node {node} failed to start {identity.key}: {reply.body}",
            reason="spawn_failed", status=502,
        )
    return reply.body


def waiting_page(retry_path: str, attempt: int, title: str, start: dict | None = None):
    """The page that asks again in a moment; ``start`` is the node's word on the start (its place in the
    queue), None when the node did not answer in time.  Only a node that says nothing counts against
    :data:`MAX_ATTEMPTS`: a start in the queue or under way is waited for (the node bounds it)."""
    if start is None and attempt >= MAX_ATTEMPTS:
        raise PlatformError(
            _("Ton serveur de carnets met beaucoup trop de temps à démarrer. Recharge la page dans une minute ; si "
              "cela recommence, préviens ton enseignant·e."),
            log_message=f"server for {retry_path} still not ready after {attempt} attempts",
            reason="spawn_too_slow", status=504,
        )
    retry_url = f"{retry_path}?attempt={attempt + (start is None)}"
    position = int(start.get("position") or 0) if start else 0
    return render_template("router/waiting.html", retry_url=retry_url, retry_seconds=RETRY_SECONDS,
                           title=title, attempt=attempt, position=position, starting=bool(start) and not position), 200

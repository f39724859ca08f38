"""Who may use a student's server: the holder of a grant, then of the cookie it earned.

The router hands the browser a short-lived grant (an EdDSA JWT, audience
``capytale-grant:<owner key>``, single use, see :mod:`capytale.tokens`) in
the ``grant`` query argument.  :class:`GrantIdentityProvider` checks it with
the grant *public* key, refuses a ``jti`` it has already seen, and sets the
server's own login cookie, signed with the server's in-memory cookie secret
and scoped to the server's ``base_url``.  Later requests (pages, API,
kernel websockets) carry that cookie.  There is no token login, no password
and no login form: an unknown browser gets a French 403 page, an API client a
403 JSON answer.

A grant names the platform session it was issued for (``sid``), and the cookie
keeps it beside the user.  The node's agent lists the sessions ended by a logout
or the ENT's single logout in a file this server reads
(:mod:`services.spawner.jupyter.revoked`, ``revocations_file``): a grant or a
cookie of an ended session is refused (the cookie cleared, the browser then
treated as unknown), and the kernel websockets such a cookie opened are closed
within a second.
"""
from __future__ import annotations

import dataclasses
import json
import time
import weakref
from pathlib import Path
from typing import Any

from jupyter_server.auth.decorator import allow_unauthenticated
from jupyter_server.auth.identity import IdentityProvider, User
from jupyter_server.auth.login import LoginFormHandler
from tornado import web
from tornado.ioloop import PeriodicCallback
from tornado.websocket import WebSocketHandler
from traitlets import Bool, Type, Unicode, default

from capytale.tokens import GrantVerifier, InvalidToken, load_public_key
from services.spawner.jupyter.revoked import RevokedSessions

GRANT_ARGUMENT = "grant"
NOT_YOURS_PAGE = Path(__file__).with_name("templates") / "not_yours.html"
SWEEP_MS = 1000  # how often open websockets are checked against the revocations


@dataclasses.dataclass
class SessionUser(User):
    """A visitor, with the platform session that let them in (kept in the cookie, never shown)."""

    session: str = ""


class UsedGrants:
    """The ``jti`` of the grants already accepted, each remembered until it expires."""

    def __init__(self) -> None:
        self._expiry: dict[str, float] = {}

    def claim(self, jti: str, exp: float, now: float | None = None) -> bool:
        """True the first time ``jti`` is claimed before it expires, False ever after."""
        now = time.time() if now is None else now
        self._expiry = {seen: until for seen, until in self._expiry.items() if until >= now}
        if jti in self._expiry:
            return False
        self._expiry[jti] = exp
        return True


class NotYoursHandler(LoginFormHandler):
    """Where Jupyter sends a browser it does not know: a French page, status 403, no form."""

    @allow_unauthenticated
    def get(self) -> None:
        if self.current_user:
            self._redirect_safe(self.get_argument("next", default=self.base_url))
            return
        self.set_status(403)
        self.set_header("Content-Type", "text/html; charset=UTF-8")
        self.finish(NOT_YOURS_PAGE.read_bytes())

    @allow_unauthenticated
    def post(self) -> None:
        raise web.HTTPError(403)


class GrantIdentityProvider(IdentityProvider):
    """Lets in the holder of a valid, unused grant for this server, then its cookie."""

    owner_key = Unicode("", config=True, help="User key of the student who owns this server.")
    instance = Unicode("", config=True, help="Id of this start of the server: grants must name it.")
    grant_public_key_file = Unicode("", config=True, help="PEM Ed25519 public key that verifies grants.")
    revocations_file = Unicode("", config=True, help="The node's list of ended sessions (written by its agent).")

    # no shared token, nothing to type
    need_token = Bool(False)
    login_handler_class = Type(NotYoursHandler, klass=web.RequestHandler, config=True,
                               help="Handler of the login URL: a 403 page, there is no login form.")

    @default("token")
    def _token_default(self) -> str:
        return ""

    @default("cookie_name")
    def _cookie_name_default(self) -> str:
        return f"capytale-{self.owner_key}"

    @default("cookie_options")
    def _cookie_options_default(self) -> dict:
        # a browser-session cookie: it ends with the browser, and with the server's secret
        return {"expires_days": None, "samesite": "Lax"}

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        if not self.owner_key or not self.instance or not self.grant_public_key_file or not self.revocations_file:
            raise ValueError("GrantIdentityProvider needs owner_key, instance, grant_public_key_file and "
                             "revocations_file")
        self._verifier = GrantVerifier(load_public_key(Path(self.grant_public_key_file)))
        self._used = UsedGrants()
        self._revoked = RevokedSessions(self.revocations_file)
        self._sockets: weakref.WeakKeyDictionary[WebSocketHandler, str] = weakref.WeakKeyDictionary()
        self._sweeper: PeriodicCallback | None = None

    @property
    def auth_enabled(self) -> bool:
        return True

    @property
    def login_available(self) -> bool:
        return True  # registers NotYoursHandler at /login

    def get_user(self, handler: web.RequestHandler) -> User | None:
        """The grant's user (then the cookie is set), else the cookie's, else None; never the
        visitor of a session that has ended (its cookie is cleared).

        A grant is spent the first time it is presented, even by a browser that
        already holds this server's cookie: a grant never outlives its first use.
        """
        token = handler.get_query_argument(GRANT_ARGUMENT, "")
        if token:
            user = self._spend_grant(token)
            if user is not None:
                self.set_login_cookie(handler, user)
                return self._watch(handler, user)
        user = self.get_user_cookie(handler)
        if isinstance(user, SessionUser) and user.session in self._revoked:
            self.log.info("%s's session %s has ended: cookie cleared", user.username, user.session)
            self.clear_login_cookie(handler)
            return None
        return self._watch(handler, user) if isinstance(user, SessionUser) else None

    def _spend_grant(self, token: str) -> SessionUser | None:
        try:
            grant = self._verifier.verify(token, server=self.owner_key, instance=self.instance)
        except InvalidToken as exc:
            self.log.warning("refused a grant for %s: %s", self.owner_key, exc)
            return None
        if not self._used.claim(grant.jti, grant.exp):
            self.log.info("grant for %s already used (jti %s)", self.owner_key, grant.jti)
            return None
        if grant.session in self._revoked:
            self.log.info("refused a grant for %s: session %s has ended", self.owner_key, grant.session)
            return None
        self.log.info("%s (%s) let in with a grant", grant.visitor, grant.role or "?")
        return SessionUser(username=grant.visitor, name=grant.name or grant.visitor, session=grant.session)

    # --- the cookie keeps the session ----------------------------------------------------------

    def user_to_cookie(self, user: User) -> str:
        return json.dumps({"username": user.username, "name": user.name,
                           "session": user.session if isinstance(user, SessionUser) else ""})

    def user_from_cookie(self, cookie_value: str) -> SessionUser | None:
        """The cookie's user; None for a cookie that names no session (it could never be ended)."""
        value = json.loads(cookie_value)
        if not isinstance(value, dict) or not value.get("session") or not value.get("username"):
            return None
        return SessionUser(username=value["username"], name=value.get("name") or value["username"],
                           session=value["session"])

    def identity_model(self, user: User) -> dict[str, Any]:
        model = dataclasses.asdict(user)
        model.pop("session", None)  # the page of this server (student code, maybe) never learns it
        return model

    # --- open websockets of an ended session ---------------------------------------------------

    def _watch(self, handler: web.RequestHandler, user: SessionUser) -> SessionUser:
        """Remember a websocket's session, to close it when that session ends."""
        if isinstance(handler, WebSocketHandler):
            self._sockets[handler] = user.session
            if self._sweeper is None:  # started here, on the server's event loop
                self._sweeper = PeriodicCallback(self._sweep, SWEEP_MS)
                self._sweeper.start()
        return user

    def _sweep(self) -> None:
        for handler, session in list(self._sockets.items()):  # a stat of the file each: a few, once a second
            if session in self._revoked:
                self.log.info("closing a websocket of ended session %s", session)
                self._sockets.pop(handler, None)
                handler.close(4403, "session ended")

    def is_token_authenticated(self, handler: web.RequestHandler) -> bool:
        return False  # every request is cookie- or grant-authenticated: origin and XSRF checks apply

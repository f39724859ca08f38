"""Signed tokens: the session cookie and the grant that opens a notebook server.

Both are JWTs signed with Ed25519 (EdDSA).  The private keys stay with their
issuer (auth for sessions, the router for grants); everyone else, notebook
servers included, holds only the public keys, so nothing a student's code can
read lets it forge either.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

ALGORITHM = "EdDSA"
SESSION_AUDIENCE = "capytale-session"
GRANT_AUDIENCE_PREFIX = "capytale-grant:"


class InvalidToken(Exception):
    """A token is missing, malformed, forged, expired or meant for someone else."""


# --- keys ----------------------------------------------------------------------


def load_private_key(path: Path) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{path}: not an Ed25519 private key")
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(Path(path).read_bytes())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path}: not an Ed25519 public key")
    return key


def write_key_pair(private_path: Path, public_path: Path) -> None:
    """Generate an Ed25519 pair; the private half is readable by its owner only."""
    key = Ed25519PrivateKey.generate()
    private_path.parent.mkdir(parents=True, exist_ok=True)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.touch(mode=0o600)
    private_path.write_bytes(private_pem)
    public_path.write_bytes(public_pem)


def ensure_development_keys(keys_dir: Path) -> Path:
    """Create the development keys and secret under ``keys_dir`` when missing.

    Used by ``make run`` and the tests only; production is given its own keys
    (and refuses these defaults, see :mod:`capytale.settings`).
    """
    keys_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    for name in ("session", "grant"):
        if not (keys_dir / f"{name}.key").exists():
            write_key_pair(keys_dir / f"{name}.key", keys_dir / f"{name}.pub")
    secret = keys_dir / "user-key.secret"
    if not secret.exists():
        secret.touch(mode=0o600)
        secret.write_text(secrets.token_urlsafe(32))
    return keys_dir


# --- sessions --------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who a request comes from, as the session cookie says."""

    uid: str
    name: str
    role: str  # "teacher" or "student"
    key: str  # opaque, stable user key (workspace and server names)
    sid: str = ""  # session id, for single logout
    school: str = ""
    classes: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_teacher(self) -> bool:
        return self.role == "teacher"

    def public(self) -> dict:
        return {"uid": self.uid, "name": self.name, "role": self.role}


class SessionSigner:
    def __init__(self, private_key: Ed25519PrivateKey, lifetime: int):
        self._key = private_key
        self.lifetime = lifetime

    def sign(self, identity: Identity, now: float | None = None) -> str:
        now = time.time() if now is None else now
        claims = asdict(identity)
        claims["classes"] = list(identity.classes)
        claims.update(aud=SESSION_AUDIENCE, iat=int(now), exp=int(now + self.lifetime))
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class SessionVerifier:
    def __init__(self, public_key: Ed25519PublicKey):
        self._key = public_key

    def verify(self, token: str) -> Identity:
        claims = _decode(token, self._key, SESSION_AUDIENCE, ("uid", "name", "role", "key"))
        return Identity(
            uid=claims["uid"], name=claims["name"], role=claims["role"], key=claims["key"],
            sid=claims.get("sid", ""), school=claims.get("school", ""),
            classes=tuple(claims.get("classes", ())),
        )


# --- grants ----------------------------------------------------------------------


@dataclass(frozen=True)
class Grant:
    """Permission for one visitor to open one server, once, for a short while."""

    server: str  # the server's owner key
    instance: str  # which start of that server (a restarted server refuses older grants)
    visitor: str  # the visitor's user key
    name: str
    role: str
    jti: str
    exp: int
    session: str  # the visitor's platform session (``sid``): its single logout closes the server to them


class GrantSigner:
    def __init__(self, private_key: Ed25519PrivateKey, lifetime: int = 60):
        self._key = private_key
        self.lifetime = lifetime

    def issue(self, server: str, instance: str, visitor: Identity, now: float | None = None) -> str:
        """A grant for ``visitor`` to open ``server``'s start ``instance``, bound to the visitor's session."""
        if not visitor.sid:
            raise ValueError("a grant names the session it is issued for: the identity has no sid")
        now = time.time() if now is None else now
        claims = {
            "aud": GRANT_AUDIENCE_PREFIX + server,
            "ins": instance,
            "sub": visitor.key,
            "sid": visitor.sid,
            "name": visitor.name,
            "role": visitor.role,
            "jti": secrets.token_urlsafe(16),
            "iat": int(now),
            "exp": int(now + self.lifetime),
        }
        return jwt.encode(claims, self._key, algorithm=ALGORITHM)


class GrantVerifier:
    def __init__(self, public_key: Ed25519PublicKey):
        self._key = public_key

    def verify(self, token: str, server: str, instance: str) -> Grant:
        claims = _decode(token, self._key, GRANT_AUDIENCE_PREFIX + server, ("sub", "jti", "exp", "ins", "sid"))
        if claims["ins"] != instance:
            raise InvalidToken("grant for another start of this server")
        if not isinstance(claims["sid"], str) or not claims["sid"]:
            raise InvalidToken("grant without a session")
        return Grant(server=server, instance=instance, visitor=claims["sub"], name=claims.get("name", ""),
                     role=claims.get("role", ""), jti=claims["jti"], exp=claims["exp"], session=claims["sid"])


def _decode(token: str, key: Ed25519PublicKey, audience: str, required: tuple[str, ...]) -> dict:
    if not token:
        raise InvalidToken("no token")
    try:
        return jwt.decode(
            token, key, algorithms=[ALGORITHM], audience=audience,
            options={"require": ["exp", "aud", *required]},
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(str(exc)) from None

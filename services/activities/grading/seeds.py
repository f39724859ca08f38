"""Each student's random values in an activity: a stable seed, derived from a platform secret.

``seed_for(student_key, activity_id)`` is the first four bytes of
``HMAC-SHA256(secret, "capytale-seed\\0<activity id>\\0<student key>")``, an integer from 0 to
2**32 - 1 (what ``numpy.random.seed`` takes): the same student gets the same values in the same
activity every time, another student or another activity other values, and nobody can work out
someone else's seed without the secret (``CAPYTALE_SEED_SECRET_FILE``, activities' alone, as the
user-key secret is auth's; a new secret gives everyone new values).

A kernel is given its seed as the environment variable ``CAPYTALE_SEED``
(:func:`kernel_environment`); the grading runs give it this way.  A student's own server serves all
their activities, so there the seed of one activity is the file :data:`SEED_FILE` in the activity's
folder (the kernel's working folder), :func:`seed_file_text` being its content.  In the kernel, the
module ``capytale_alea`` (``environment/kernels/capytale_alea.py``) reads either and gives
``graine()`` and ``aleatoire(nom)``; :func:`generator` is ``aleatoire`` on the platform's side, so
that the teacher's view recomputes each student's values.  A student who edits their seed file
changes only what they see: the grading runs with the seed computed here.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import random
import secrets
from pathlib import Path

from flask import Flask, current_app

from capytale.settings import PREFIX, SettingsError

SEED_VARIABLE = "CAPYTALE_SEED"
SEED_FILE = ".capytale-graine"
EXTENSION = "grading.seed_secret"


def seed_for(student_key: str, activity_id: int | str, secret: bytes | None = None) -> int:
    """The seed of ``student_key`` (the opaque user key) in activity ``activity_id``.

    ``secret``: default, the secret of the app handling the request (``CAPYTALE_SEED_SECRET_FILE``)."""
    secret = secret if secret is not None else secret_of(current_app)
    message = f"capytale-seed\0{activity_id}\0{student_key}".encode()
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:4], "big")


def kernel_environment(seed: int) -> dict[str, str]:
    """What a kernel's environment gets for this seed."""
    return {SEED_VARIABLE: str(seed)}


def seed_file_text(seed: int) -> str:
    """The content of :data:`SEED_FILE` in a student's activity folder."""
    return f"{seed}\n"


def derived_seed(seed: int, name: str = "") -> int:
    """The seed of the generator named ``name``: ``seed`` itself for the nameless one.  The same
    function as in ``capytale_alea`` (a test keeps them equal)."""
    if not name:
        return seed
    return int.from_bytes(hashlib.sha256(f"{seed}\0{name}".encode()).digest()[:8], "big")


def generator(seed: int, name: str = "") -> random.Random:
    """What ``capytale_alea.aleatoire(name)`` is in a kernel whose seed is ``seed``."""
    return random.Random(derived_seed(seed, name))


# --- the secret ---------------------------------------------------------------------------------

def read_secret(path: Path) -> bytes:
    try:
        secret = Path(path).read_text().strip().encode()
    except OSError as exc:
        raise SettingsError(f"{PREFIX}SEED_SECRET_FILE: cannot read {path}: {exc.strerror}") from None
    if len(secret) < 16:
        raise SettingsError(f"{PREFIX}SEED_SECRET_FILE: {path} holds less than 16 characters")
    return secret


def ensure_secret(path: Path) -> bytes:
    """The secret of ``path``, made (random, 0600) when there is none yet.  Several processes may ask
    at once: the file is written aside and linked into place, so all of them read the same secret."""
    path = Path(path)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        draft = path.with_name(f".{path.name}.{secrets.token_hex(6)}")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first: its secret is the one
        finally:
            draft.unlink()
    return read_secret(path)


def secret_of(app: Flask) -> bytes:
    """The seed secret of ``app``, read once.  The development default (``var/keys/seed.secret``) is
    made when missing, as ``capytale.stack`` makes the development keys; production names its own
    file (the default is refused), which must exist."""
    secret = app.extensions.get(EXTENSION)
    if secret is None:
        settings = app.config["CAPYTALE"]
        path = settings["SEED_SECRET_FILE"]
        if settings.is_default("SEED_SECRET_FILE"):
            app.logger.warning("DEVELOPMENT seed secret in use (%s): never in production", path)
            secret = ensure_secret(path)
        else:
            secret = read_secret(path)
        app.extensions[EXTENSION] = secret
    return secret

"""The platform's languages: French first, English on request.

Texts are written in French in the code and templates (``_("…")``, Flask-Babel's
gettext) and translated in ``capytale/translations/<lang>/LC_MESSAGES/messages.po``,
one catalogue for every service.  A page is in French unless the person asked for
another language: ``?lang=en`` on any page (remembered in the ``capytale_lang``
cookie, for a year, on every platform path), or the cookie itself.  The browser's
``Accept-Language`` is not followed: a class sees the same French pages whatever
the school's computers are set to.

The catalogues are compiled (``.po`` → ``.mo``) when a service starts, into a
folder of its own: nothing compiled is kept in the repository, and a read-only
installation works.  ``make messages`` extracts the texts and updates the
catalogues (``babel.cfg``).
"""
from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from flask import Flask, Response, g, has_request_context, request
from flask_babel import Babel, get_locale

from capytale.files import replacing

LANGUAGES = {"fr": "Français", "en": "English"}
DEFAULT = "fr"
COOKIE = "capytale_lang"
COOKIE_LIFETIME = 365 * 24 * 3600
CATALOGUES = Path(__file__).parent / "translations"


def compiled_catalogues(source: Path = CATALOGUES) -> Path:
    """A folder with every ``.po`` of ``source`` compiled, made once per catalogue content."""
    po_files = sorted(source.glob("*/LC_MESSAGES/messages.po"))
    digest = hashlib.sha256(b"".join(path.read_bytes() for path in po_files)).hexdigest()[:16]
    target = Path(tempfile.gettempdir()) / f"capytale-translations-{digest}"
    for po_file in po_files:
        mo_file = target / po_file.relative_to(source).with_suffix(".mo")
        if mo_file.exists():
            continue
        mo_file.parent.mkdir(parents=True, exist_ok=True)
        with po_file.open("rb") as read:
            catalogue = read_po(read)
        with replacing(mo_file) as out:  # several workers may compile at once: each rename is whole
            write_mo(out, catalogue)
    return target


def chosen_language() -> str:
    """The language of this request: ``?lang=``, then the cookie, then French (and French outside any
    request: a background thread's texts, such as a refusal met by a sweep)."""
    if not has_request_context():
        return DEFAULT
    asked = request.args.get("lang", "")
    if asked in LANGUAGES:
        g.capytale_lang_asked = asked
        return asked
    remembered = request.cookies.get(COOKIE, "")
    return remembered if remembered in LANGUAGES else DEFAULT


def _remember(response: Response) -> Response:
    asked = g.get("capytale_lang_asked")
    if asked and request.cookies.get(COOKIE) != asked:
        response.set_cookie(COOKIE, asked, max_age=COOKIE_LIFETIME, path="/", samesite="Lax", httponly=True)
    return response


def language() -> str:
    return str(get_locale() or DEFAULT)


def other_languages() -> list[tuple[str, str]]:
    """The languages a page offers to switch to: (code, name in that language)."""
    current = language()
    return [(code, name) for code, name in LANGUAGES.items() if code != current]


def init_app(app: Flask) -> None:
    Babel(app, locale_selector=chosen_language, default_domain="messages",
          default_translation_directories=str(compiled_catalogues()))
    app.after_request(_remember)
    app.jinja_env.globals.update(lang=language, other_languages=other_languages)

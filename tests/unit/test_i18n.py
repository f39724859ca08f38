"""Languages: every text of the code and templates has its English translation; pages are French
unless English is asked for, and then no French text of the catalogue is left on the main pages."""
from __future__ import annotations

import re
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from capytale.i18n import CATALOGUES, COOKIE
from services.activities import create_app as activities_app
from services.auth import create_app as auth_app
from services.router import create_app as router_app
from tests.activities.support import DICE, ensure_copy, upload
from tests.conftest import make_identity

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def english() -> dict:
    with (CATALOGUES / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {message.id: message for message in read_po(po) if message.id}


def extracted() -> dict[str, str]:
    """Every text the code and templates mark for translation, with where it is."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {}
    for filename, line, message, _comments, _context in extract_from_dir(
            ROOT, method_map, options_map, keywords={"_": None, "_l": None, "N_": None, "gettext": None,
                                                     "ngettext": (1, 2), "lazy_gettext": None}):
        found[message if isinstance(message, str) else tuple(message)] = f"{filename}:{line}"
    return found


def test_every_text_has_an_english_translation():
    catalogue = english()
    missing = {text: where for text, where in extracted().items() if text not in catalogue}
    assert not missing, "texts missing from the English catalogue (make messages, then translate):\n" + \
        "\n".join(f"  {where}: {text!r}" for text, where in missing.items())
    for message in catalogue.values():
        assert "fuzzy" not in message.flags, message.id
        forms = message.string if isinstance(message.string, tuple) else (message.string,)
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        assert all(forms), f"no translation for {message.id!r}"
        for form in forms:
            assert set(PLACEHOLDER.findall(form)) == set(PLACEHOLDER.findall(ids[0])), message.id


class _Text(HTMLParser):
    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "svg")
        self.parts.extend(value for name, value in attrs if name in ("placeholder", "aria-label", "title") and value)

    def handle_endtag(self, tag):
        self.skip -= tag in ("script", "style", "svg")

    def handle_data(self, data):
        if not self.skip:
            self.parts.append(data)


def visible(page: str) -> str:
    parser = _Text()
    parser.feed(page)
    return " ".join(" ".join(parser.parts).split())


def french_pieces() -> set[str]:
    """Pieces of French text that must not be seen on an English page (long enough not to be English too)."""
    pieces = set()
    for message in english().values():
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for text in ids:
            for piece in PLACEHOLDER.split(text)[::2]:
                piece = " ".join(piece.split()).strip(" :«»·()")
                if len(piece) >= 8 and piece not in " ".join(strings):
                    pieces.add(piece)
    return pieces


def assert_english(page: str) -> None:
    assert '<html lang="en">' in page
    text = visible(page)
    left = sorted(piece for piece in french_pieces() if piece in text)
    assert not left, f"French left on an English page: {left}"


@pytest.fixture
def pages(var_dir, sign, corpus):
    """The main pages of every service, each as a path and the app serving it."""
    settings = {"VAR_DIR": var_dir, "DEV_LOGIN": True}
    activities = activities_app({**settings, "ACTIVITIES_DATABASE_URL": f"sqlite:///{var_dir / 'a.sqlite'}"})
    teacher, student = make_identity("mme.durand", "teacher"), make_identity("léa.moreau", "student", ("2nde B",))
    client = activities.test_client()
    client.set_cookie("capytale_session", sign(teacher), path="/activities")

    class Who:
        pass

    who = Who()
    who.client, who.token = client, sign(teacher)
    answer = upload(who, DICE, (corpus / DICE).read_bytes(), title="Dés", annexes=[("données.csv", b"1;2\n")])
    activity = answer.json
    pupil = Who()
    pupil.bearer = lambda: {"Authorization": f"Bearer {sign(student)}"}
    ensure_copy(activities, pupil, activity["code"])
    number = activity["id"]
    uid = urllib.parse.quote("léa.moreau")
    main = ["/activities/", "/activities/new", f"/activities/{number}", f"/activities/{number}/copies/{uid}",
            f"/activities/{number}/delete", f"/activities/{number}/project", "/activities/424242"]
    yield [(client, path) for path in main] + [
        (auth_app(settings).test_client(), "/auth/dev-login"),
        (router_app(settings).test_client(), "/s/"),
        (router_app(settings).test_client(), "/s/?code=%3F%3F"),
    ]


def test_pages_are_french_by_default_and_english_on_request(pages):
    for client, path in pages:
        french = client.get(path).get_data(as_text=True)
        assert '<html lang="fr">' in french, path
        joiner = "&" if "?" in path else "?"
        answer = client.get(f"{path}{joiner}lang=en")
        assert answer.status_code < 500, path
        assert_english(answer.get_data(as_text=True))
        client.delete_cookie(COOKIE, path="/")  # back to French for the next page


def test_english_is_remembered_and_an_unknown_language_is_french(pages):
    client, path = pages[0]
    assert f"{COOKIE}=en" in client.get(path + "?lang=en").headers["Set-Cookie"]
    assert '<html lang="en">' in client.get(path).get_data(as_text=True)  # the cookie, no ?lang
    assert "My activities" in client.get(path).get_data(as_text=True)
    other = pages[-2][0]
    assert '<html lang="fr">' in other.get(path.replace("/activities/", "/s/") + "?lang=xx").get_data(as_text=True)

"""Languages: every text of the code and templates has its English translation; pages are French
unless English is asked for, and then no French text of the catalogue is left on the main pages."""
from __future__ import annotations

import re
import urllib.parse
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from capytale.i18n import CATALOGUES, COOKIE
from services.activities import create_app as activities_app
from services.auth import create_app as auth_app
from services.router import create_app as router_app
from tests.activities.conftest import TEST_TOPOLOGY
from tests.activities.support import DICE, Person, ensure_copy, upload
from tests.conftest import make_identity

ROOT = Path(__file__).resolve().parents[2]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "N_": None}  # what `make messages` extracts (-k _l -k N_)


def english() -> dict:
    with (CATALOGUES / "en" / "LC_MESSAGES" / "messages.po").open("rb") as po:
        return {message.id: message for message in read_po(po) if message.id}


def extracted() -> dict:
    """Every text the code and templates mark for translation (babel.cfg), with where it is."""
    with (ROOT / "babel.cfg").open() as config:
        method_map, options_map = parse_mapping_cfg(config)
    found = {}
    for filename, line, message, _comments, _context in extract_from_dir(ROOT, method_map, options_map,
                                                                          keywords=KEYWORDS):
        found.setdefault(message if isinstance(message, str) else tuple(message), f"{filename}:{line}")
    return found


def forms(text) -> tuple[str, ...]:
    """A message's id or translation as a tuple: one text, or the singular and plural forms."""
    return text if isinstance(text, tuple) else (text,)


def test_every_text_has_an_english_translation():
    catalogue = english()
    missing = {text: where for text, where in extracted().items() if text not in catalogue}
    assert not missing, "texts missing from the English catalogue (make messages, then translate):\n" + \
        "\n".join(f"  {where}: {text!r}" for text, where in missing.items())
    for message in catalogue.values():
        assert "fuzzy" not in message.flags, f"fuzzy translation of {message.id!r}"
        assert all(forms(message.string)), f"no English for {message.id!r}"
        expected = set(PLACEHOLDER.findall(forms(message.id)[0]))
        for translation in forms(message.string):
            assert set(PLACEHOLDER.findall(translation)) == expected, f"placeholders differ in {translation!r}"


class _Text(HTMLParser):
    """The text a person sees: the page's text and the attributes read to them, no script or style."""

    def __init__(self):
        super().__init__()
        self.parts, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        self.skip += tag in ("script", "style", "svg")
        self.parts.extend(value for name, value in attrs if name in ("placeholder", "aria-label", "title", "alt")
                          and value)

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
    """Pieces of the French texts that must not be seen on an English page (long enough not to be English too)."""
    pieces = set()
    for message in english().values():
        translations = " ".join(forms(message.string))
        for text in forms(message.id):
            for piece in PLACEHOLDER.split(text)[::2]:
                piece = " ".join(piece.split()).strip(" :«»·()")
                if len(piece) >= 8 and piece not in translations:
                    pieces.add(piece)
    return pieces


# The main pages: path (``{id}`` the activity's number), service, a French text and its English on the page.
MAIN_PAGES = {
    "my activities": ("/activities/", "activities", "Mes activités", "My activities"),
    "new activity": ("/activities/new", "activities", "Nouvelle activité", "New activity"),
    "activity": ("/activities/{id}", "activities", "Partager avec les élèves", "Share with the students"),
    "copy": ("/activities/{id}/copies/l%C3%A9a.moreau", "activities", "Copie de léa.moreau", "Copy of léa.moreau"),
    "delete": ("/activities/{id}/delete", "activities", "Supprimer définitivement", "Delete for good"),
    "projector": ("/activities/{id}/project", "activities", "Code : ", "Code: "),
    "missing activity": ("/activities/424242", "activities", "Cette activité n'existe pas (ou plus).",
                         "This activity does not exist (or no longer does)."),
    "development login": ("/auth/dev-login", "auth", "Connexion de développement", "Development login"),
    "code entry": ("/s/", "router", "Ouvrir une activité", "Open an activity"),
    "wrong code": ("/s/?code=%3F%3F", "router", "n'est pas un code d'activité", "is not an activity code"),
    "server gone": ("/s/_proxy-error/503", "router", "Ton serveur Jupyter n'est plus actif",
                    "Your Jupyter server is no longer running"),
}


@pytest.fixture
def platform(var_dir, sign, corpus):
    """A browser per service (the teacher's on activities) and the number of an activity with a student's copy."""
    settings = {"VAR_DIR": var_dir, "DEV_LOGIN": True, "AMQP_NAMESPACE": TEST_TOPOLOGY.namespace}
    activities = activities_app({**settings, "ACTIVITIES_DATABASE_URL": f"sqlite:///{var_dir / 'a.sqlite'}"})
    teacher_identity = make_identity("mme.durand", "teacher")
    teacher = Person(teacher_identity, sign(teacher_identity), activities.test_client())
    teacher.client.set_cookie("capytale_session", teacher.token, path="/activities")
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="Dés", annexes=[("données.csv", b"1;2\n")])
    assert answer.status_code == 201, answer.json
    student_identity = make_identity("léa.moreau", "student", ("2nde B",))
    student = Person(student_identity, sign(student_identity), activities.test_client())
    assert ensure_copy(activities, student, answer.json["code"]).status_code == 200
    browsers = {"activities": teacher.client, "auth": auth_app(settings).test_client(),
                "router": router_app(settings).test_client()}
    return browsers, answer.json["id"]


def with_lang(path: str, lang: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}lang={lang}"


@pytest.mark.parametrize("page", MAIN_PAGES)
def test_a_main_page_is_french_by_default_and_english_on_request(platform, page):
    browsers, number = platform
    template, service, french_text, english_text = MAIN_PAGES[page]
    path, browser = template.format(id=number), browsers[service]

    answer = browser.get(path)
    french = answer.get_data(as_text=True)
    assert '<html lang="fr">' in french
    assert french_text in visible(french)

    english_answer = browser.get(with_lang(path, "en"))
    assert english_answer.status_code == answer.status_code
    english_page = english_answer.get_data(as_text=True)
    assert '<html lang="en">' in english_page
    text = visible(english_page)
    assert english_text in text
    left = sorted(piece for piece in french_pieces() if piece in text)
    assert not left, f"French left on the English page {path}: {left}"


def test_english_is_remembered_by_a_cookie(platform):
    browser = platform[0]["activities"]
    answer = browser.get("/activities/?lang=en")
    assert f"{COOKIE}=en" in answer.headers["Set-Cookie"]
    again = browser.get("/activities/").get_data(as_text=True)  # no ?lang: the cookie speaks
    assert '<html lang="en">' in again and "My activities" in again
    back = browser.get("/activities/?lang=fr").get_data(as_text=True)
    assert '<html lang="fr">' in back and "Mes activités" in back


def test_an_unknown_language_is_french(platform):
    answer = platform[0]["router"].get("/s/?lang=xx")
    assert '<html lang="fr">' in answer.get_data(as_text=True)
    assert COOKIE not in answer.headers.get("Set-Cookie", "")


@pytest.mark.parametrize(("lang", "refusal"), [
    ("fr", "est trop gros (1,5 Mo) : la limite est de 1 Mo."),
    ("en", "is too big (1.5 MB): the limit is 1 MB."),
])
def test_a_refusal_with_sizes_speaks_the_language_of_the_page(var_dir, sign, lang, refusal):
    app = activities_app({"VAR_DIR": var_dir, "ACTIVITIES_DATABASE_URL": f"sqlite:///{var_dir / 'a.sqlite'}",
                          "AMQP_NAMESPACE": TEST_TOPOLOGY.namespace, "MAX_NOTEBOOK_MB": 1})
    identity = make_identity("mme.durand", "teacher")
    teacher = Person(identity, sign(identity), app.test_client())
    teacher.client.set_cookie("capytale_session", teacher.token, path="/activities")
    answer = upload(teacher, "gros.ipynb", b" " * (3 * 1024 * 1024 // 2),
                    path=f"/activities/api/activities?lang={lang}")
    assert answer.status_code == 400 and refusal in answer.json["error"]

"""File names and share codes, on their own."""
from __future__ import annotations

import unicodedata

import pytest

from capytale.errors import PlatformError
from services.activities.codes import ALPHABET, LENGTH, new_code
from services.activities.names import checked_path, folder_name, inside


@pytest.mark.parametrize("name", [
    "Calcul d'une paire de dés un peu particuliers.ipynb",
    "TP Civiles_Espions_DPR (corrige).ipynb",
    "données/météo 2014.csv",
    "..cachées mais permises.txt",
])
def test_names_are_kept_as_given(name):
    assert checked_path(name, "fichier annexe", folders=True) == name


def test_names_are_normalised_to_nfc():
    nfd = unicodedata.normalize("NFD", "Élodie.ipynb")
    assert checked_path(nfd, "notebook", folders=False) == "Élodie.ipynb"


@pytest.mark.parametrize(("name", "folders", "why"), [
    ("../x", True, "il sortirait de son dossier"),
    ("a/../../x", True, "il sortirait de son dossier"),
    ("a//b", True, "il sortirait de son dossier"),
    (".", True, "il sortirait de son dossier"),
    ("/etc/passwd", True, "chemin absolu"),
    ("a\x00b", True, "caractère invisible"),
    ("ligne\nsuivante", True, "caractère invisible"),
    ("C:\\fakepath\\x.csv", True, "barre oblique inverse"),
    ("sous/dossier.ipynb", False, "ne doit pas contenir de « / »"),
    ("é" * 200, True, "trop long"),
])
def test_names_that_could_escape_or_break_are_refused(name, folders, why):
    with pytest.raises(PlatformError) as refused:
        checked_path(name, "fichier annexe", folders=folders)
    assert refused.value.status == 400
    assert why in refused.value.user_message


@pytest.mark.parametrize(("name", "code"), [
    ("exercice\u202egnp.ipynb", "U+202E"),  # shown as exercicebnypi.png
    ("img/\u2066x.png", "U+2066"),
    ("\u202a\u202bcours\u202c.ipynb", "U+202A"),
    ("tp\u2069.ipynb", "U+2069"),
    ("\u200fدرس.ipynb", "U+200F"),
    ("a\u200eb.csv", "U+200E"),
    ("a\u061cb.csv", "U+061C"),
])
def test_a_bidirectional_control_in_a_name_is_refused_and_shown(name, code):
    with pytest.raises(PlatformError) as refused:
        checked_path(name, "fichier annexe", folders=True)
    message = refused.value.user_message
    assert refused.value.status == 400 and refused.value.reason == "bad_file_name"
    assert f"il contient un caractère de contrôle d'écriture ({code}), invisible" in message
    assert "\N{REPLACEMENT CHARACTER}" in message and not any(c in message for c in "\u202a\u202b\u202c\u202e\u2066"
                                                                "\u2069\u200e\u200f\u061c")


@pytest.mark.parametrize("name", ["", "   "])
def test_an_empty_name_is_refused(name):
    with pytest.raises(PlatformError) as refused:
        checked_path(name, "fichier annexe", folders=True)
    assert refused.value.user_message == "Un fichier annexe envoyé n'a pas de nom."


def test_inside_refuses_what_leaves_the_folder(tmp_path):
    assert inside(tmp_path, "a/b.txt") == tmp_path.resolve() / "a" / "b.txt"
    (tmp_path / "lien").symlink_to("/etc")
    for relative in ("../x", "/etc/passwd", "lien/passwd", "."):
        with pytest.raises(PlatformError):
            inside(tmp_path, relative)


@pytest.mark.parametrize(("title", "folder"), [
    ("Dés particuliers", "Dés particuliers (abc)"),
    ("  ../../etc/passwd ", "etcpasswd (abc)"),
    (".cachée", "cachée (abc)"),
    ("a\x00b\nc", "abc (abc)"),
    ("...", "Activité (abc)"),
    (unicodedata.normalize("NFD", "Élève"), "Élève (abc)"),
    ("TP\u202e fnoc", "TP fnoc (abc)"),  # a title stored before such titles were refused
])
def test_an_activity_folder_is_the_title_made_safe(title, folder):
    assert folder_name(title, "abc") == folder


def test_a_long_title_gives_a_folder_name_a_file_system_accepts():
    folder = folder_name("é" * 300, "abcdefgh")
    assert len(folder.encode()) <= 255 and folder.endswith(" (abcdefgh)")


def test_share_codes_are_random_and_unambiguous():
    codes = {new_code() for _ in range(500)}
    assert len(codes) == 500
    assert all(len(code) == LENGTH and set(code) <= set(ALPHABET) for code in codes)
    assert not set("0o1il5s2z") & set(ALPHABET)

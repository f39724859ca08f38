"""A teacher shares a notebook: what is kept, what is refused and how the refusal reads."""
from __future__ import annotations

import json
import unicodedata
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.activities.support import DICE, multipart, stored, upload

P21 = "P21_simulation_onde.ipynb"  # 2 MB: over the tests' 1 MB notebook limit
METEO = "Mini-projet-meteo-data.ipynb"  # nbformat 3
ARBRES = "tnsi_arbres.ipynb"  # CRLF line endings


def test_the_dice_notebook_keeps_its_name_in_nfc_and_its_bytes(app, teacher, corpus, data_root):
    content = (corpus / DICE).read_bytes()
    sent_as = unicodedata.normalize("NFD", DICE)  # as a Mac sends it
    answer = upload(teacher, sent_as, content, title="Dés particuliers")
    assert answer.status_code == 201, answer.json
    body = answer.json
    assert body["notebook"] == DICE and unicodedata.is_normalized("NFC", body["notebook"])
    assert body["title"] == "Dés particuliers"
    assert body["share_url"] == f"http://127.0.0.1:8080/s/{body['code']}"
    assert len(body["code"]) == 8
    assert (data_root / "masters" / str(body["id"]) / "1" / DICE).read_bytes() == content


def test_a_notebook_in_format_3_is_upgraded_to_format_4(app, teacher, corpus, data_root):
    answer = upload(teacher, METEO, (corpus / METEO).read_bytes(), title="Météo")
    assert answer.status_code == 201, answer.json
    stored_notebook = json.loads((data_root / "masters" / str(answer.json["id"]) / "1" / METEO).read_bytes())
    assert stored_notebook["nbformat"] == 4
    assert "worksheets" not in stored_notebook and stored_notebook["cells"]


def test_a_crlf_notebook_stays_byte_exact(app, teacher, corpus, data_root):
    content = (corpus / ARBRES).read_bytes()
    assert b"\r\n" in content
    answer = upload(teacher, ARBRES, content)
    assert answer.status_code == 201, answer.json
    assert (data_root / "masters" / str(answer.json["id"]) / "1" / ARBRES).read_bytes() == content


def test_without_a_title_the_notebook_name_is_the_title(app, teacher, corpus):
    answer = upload(teacher, ARBRES, (corpus / ARBRES).read_bytes(), title="   ")
    assert answer.json["title"] == "tnsi_arbres"


def test_annex_files_keep_their_names_and_folders(app, teacher, corpus, data_root):
    annexes = [("données météo (2014).csv", b"jour;temp\n"), ("images/l'arbre.png", b"\x89PNG"),
               ("vide.txt", b"")]
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), annexes=annexes)
    assert answer.status_code == 201, answer.json
    folder = data_root / "masters" / str(answer.json["id"]) / "1"
    for name, content in annexes:
        assert (folder / name).read_bytes() == content


def test_the_teacher_lists_their_activities_only(app, teacher, other_teacher, activity, corpus):
    upload(other_teacher, ARBRES, (corpus / ARBRES).read_bytes())
    mine = teacher.client.get("/activities/api/activities").json
    assert [(a["id"], a["code"], a["title"], a["notebook"], a["copies"]) for a in mine] == [
        (activity["id"], activity["code"], "Dés particuliers", DICE, 0)]


def _invalid_cell(corpus: Path) -> tuple[bytes, str]:
    notebook = json.loads((corpus / ARBRES).read_bytes())
    index = next(i for i, cell in enumerate(notebook["cells"]) if cell["cell_type"] == "code")
    del notebook["cells"][index]["outputs"]
    return json.dumps(notebook).encode(), f"cellule {index + 1} : il manque le champ « outputs »"


BAD_UPLOADS = {
    "truncated JSON": (lambda corpus: ((corpus / DICE).read_bytes()[:4000], DICE, []),
                       "n'est pas un fichier JSON valide (erreur ligne", "not_json"),
    "JSON that is not a notebook": (lambda corpus: (b'{"classe": "1re NSI"}', "classe.ipynb", []),
                                    "est du JSON, mais pas un notebook Jupyter", "not_notebook"),
    "a cell without its outputs": (lambda corpus: (_invalid_cell(corpus)[0], ARBRES, []),
                                   "ne respecte pas le format des notebooks Jupyter", "invalid_notebook"),
    "wrong extension": (lambda corpus: ((corpus / DICE).read_bytes(), "dés.json", []),
                        "son nom doit finir par .ipynb", "not_ipynb"),
    "empty file": (lambda corpus: (b"", "vide.ipynb", []), "est vide (0 octet)", "empty_notebook"),
    "too big": (lambda corpus: ((corpus / P21).read_bytes(), P21, []),
                "est trop gros (1,9 Mo) : la limite est de 1 Mo", "notebook_too_big"),
    "annex escaping its folder": (lambda corpus: ((corpus / DICE).read_bytes(), DICE, [("../evil.py", b"x")]),
                                  "« ../evil.py » n'est pas accepté : il sortirait de son dossier", "bad_file_name"),
    "annex with an absolute path": (lambda corpus: ((corpus / DICE).read_bytes(), DICE, [("/etc/evil.py", b"x")]),
                                    "« /etc/evil.py » n'est pas accepté : c'est un chemin absolu", "bad_file_name"),
    "annex with a NUL": (lambda corpus: ((corpus / DICE).read_bytes(), DICE, [("a\x00b.py", b"x")]),
                         "il contient un caractère invisible", "bad_file_name"),
    "annex named '.'": (lambda corpus: ((corpus / DICE).read_bytes(), DICE, [("data/.", b"x")]),
                        "il sortirait de son dossier", "bad_file_name"),
    "notebook name reversed by U+202E": (
        lambda corpus: ((corpus / DICE).read_bytes(), "exercice\u202egnp.ipynb", []),
        "Le nom du notebook « exercice\ufffdgnp.ipynb » n'est pas accepté : il contient un caractère de contrôle "
        "d'écriture (U+202E), invisible, qui change l'ordre dans lequel les lettres s'affichent.", "bad_file_name"),
    "annex in a folder with U+2066": (
        lambda corpus: ((corpus / DICE).read_bytes(), DICE, [("img/\u2066x.png", b"\x89PNG")]),
        "Le nom du fichier annexe « img/\ufffdx.png » n'est pas accepté : il contient un caractère de contrôle "
        "d'écriture (U+2066)", "bad_file_name"),
    "annex named like the notebook": (lambda corpus: ((corpus / DICE).read_bytes(), DICE, [(DICE, b"x")]),
                                      "Deux fichiers envoyés portent le même nom", "duplicate_name"),
}


@pytest.mark.parametrize(("make", "message", "reason"), BAD_UPLOADS.values(), ids=BAD_UPLOADS.keys())
def test_a_bad_upload_is_refused_in_plain_french_and_stores_nothing(app, teacher, corpus, data_root,
                                                                    make, message, reason):
    content, name, annexes = make(corpus)
    before = stored(app, data_root)
    answer = upload(teacher, name, content, title="Essai", annexes=annexes)
    assert answer.status_code == 400
    assert answer.json["reason"] == reason
    assert message in answer.json["error"]
    assert stored(app, data_root) == before


def test_an_invalid_cell_is_named_with_its_number(app, teacher, corpus):
    content, where = _invalid_cell(corpus)
    answer = upload(teacher, ARBRES, content)
    assert where in answer.json["error"]


def test_an_upload_without_a_notebook_says_so(app, teacher, data_root):
    answer = teacher.client.post("/activities/api/activities", **multipart({"title": "Sans notebook"}, []))
    assert answer.status_code == 400
    assert answer.json["error"] == "Aucun notebook n'a été envoyé : choisis un fichier .ipynb."
    assert stored(app, data_root) == (0, [])


def test_a_title_too_long_is_refused(app, teacher, corpus, data_root):
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="T" * 201)
    assert answer.status_code == 400
    assert answer.json["error"] == "Le titre est trop long (201 caractères) : 200 au plus."
    assert stored(app, data_root) == (0, [])


def test_a_title_with_a_bidirectional_control_is_refused(app, teacher, corpus, data_root):
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="Dés \u202eparticuliers")
    assert answer.status_code == 400
    assert answer.json == {"error": "Le titre « Dés \ufffdparticuliers » n'est pas accepté : il contient un caractère "
                                    "de contrôle d'écriture (U+202E), invisible, qui change l'ordre dans lequel les "
                                    "lettres s'affichent.", "reason": "bad_title"}
    assert stored(app, data_root) == (0, [])


def test_a_title_with_a_bidirectional_control_is_explained_on_the_page(app, teacher, corpus, data_root):
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), title="TP\u2067 noté", path="/activities/new")
    assert answer.status_code == 400
    assert "contrôle d&#39;écriture (U+2067)" in answer.get_data(as_text=True)
    assert stored(app, data_root) == (0, [])


def test_an_upload_over_the_total_limit_is_a_clear_413(app, teacher, corpus, data_root):
    before = stored(app, data_root)
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), annexes=[("gros.bin", b"0" * (4 * 1024 * 1024))])
    assert answer.status_code == 413
    assert answer.json == {"error": "L'envoi est trop gros : le notebook et ses fichiers annexes ensemble ne "
                                    "doivent pas dépasser 3 Mo.", "reason": "upload_too_big"}
    assert stored(app, data_root) == before


def test_a_failure_after_the_files_are_in_place_leaves_nothing(app, teacher, corpus, data_root, monkeypatch):
    def fail(_session):
        raise OSError("the database went away")

    monkeypatch.setattr(Session, "commit", fail)
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), annexes=[("données/a.csv", b"1")])
    monkeypatch.undo()
    assert answer.status_code == 500
    assert answer.json["error"] == "Une erreur inattendue s'est produite. Réessaie dans un instant."
    assert stored(app, data_root) == (0, [])


def test_a_student_cannot_upload(app, student, corpus, data_root):
    answer = upload(student, DICE, (corpus / DICE).read_bytes())
    assert answer.status_code == 403
    assert answer.json["error"] == "Cette page est réservée aux enseignants."
    assert stored(app, data_root) == (0, [])


def test_without_a_session_the_api_answers_401(app, corpus):
    answer = app.test_client().get("/activities/api/activities")
    assert answer.status_code == 401 and answer.json["reason"] == "login_required"


def test_a_cross_site_upload_is_refused(app, teacher, corpus, data_root):
    answer = upload(teacher, DICE, (corpus / DICE).read_bytes(), headers={"Origin": "https://evil.example"})
    assert answer.status_code == 403
    assert answer.json["reason"] == "cross_site"
    assert stored(app, data_root) == (0, [])

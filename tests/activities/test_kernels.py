"""A notebook opens on one of the students' kernels: the copy names it, the teacher is told which or that it
is missing."""
from __future__ import annotations

import json

import nbformat
import pytest

from capytale.settings import SettingsError
from services.activities import create_app
from tests.activities.conftest import LIMITS, TEST_TOPOLOGY
from tests.activities.support import DICE, ensure_copy, multipart, upload

OCAML = "Exemple de notebook dans un autre langage interprété OCaml.ipynb"  # kernelspec ocaml-jupyter
VSCODE = "2_Exercices_recursivite_corr.ipynb"  # kernelspec python36964bit9f899ef1f6144dc3be0f32d67042f5ff
METEO = "Mini-projet-meteo-data.ipynb"  # nbformat 3: no kernelspec

MISSING_FR = ("Le noyau « ir » demandé par ce carnet n'est pas installé sur la plateforme : les élèves pourront "
              "lire le carnet mais pas exécuter ses cellules.")
MISSING_EN = ("The kernel “ir” this notebook asks for is not installed on the platform: students will be able to "
              "read the notebook but not run its cells.")


def r_notebook(name: str = "ir") -> bytes:
    """A notebook for the R kernel (IRkernel names itself ``ir``), which the students' environment lacks."""
    notebook = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_markdown_cell("# Statistiques avec R"), nbformat.v4.new_code_cell("summary(cars)")],
        metadata={"kernelspec": {"name": name, "display_name": "R", "language": "R"},
                  "language_info": {"name": "R", "version": "4.3.1"}})
    return nbformat.writes(notebook).encode()


def students_copy(app, data_root, student, answer) -> bytes:
    ensured = ensure_copy(app, student, answer["code"])
    assert ensured.status_code == 200, ensured.json
    return (data_root / "users" / student.identity.key / ensured.json["copy"]["path"]).read_bytes()


def master(data_root, answer) -> bytes:
    return (data_root / "masters" / str(answer["id"]) / "1" / answer["notebook"]).read_bytes()


def test_an_ocaml_notebook_opens_on_the_ocaml_kernel_and_the_master_stays(app, teacher, student, corpus, data_root):
    sent = (corpus / OCAML).read_bytes()
    answer = upload(teacher, OCAML, sent, title="OCaml")
    assert answer.status_code == 201, answer.json
    assert answer.json["kernel"] == {"name": "ocaml", "display_name": "OCaml", "missing": False,
                                     "asked": "ocaml-jupyter"}
    assert {"id", "code", "share_url", "title", "notebook"} <= set(answer.json)  # the design's fields stay

    copy = json.loads(students_copy(app, data_root, student, answer.json))
    assert copy["metadata"]["kernelspec"] == {"name": "ocaml", "display_name": "OCaml", "language": "ocaml"}
    original = json.loads(sent)
    others = {key: value for key, value in original["metadata"].items() if key != "kernelspec"}
    assert {key: copy["metadata"][key] for key in others} == others  # language_info, toc… kept
    assert [cell["source"] for cell in copy["cells"]] == [cell["source"] for cell in original["cells"]]
    nbformat.validate(nbformat.reads(json.dumps(copy), as_version=4))
    assert master(data_root, answer.json) == sent


def test_a_vs_code_kernel_name_opens_on_python_3(app, teacher, student, corpus, data_root):
    sent = (corpus / VSCODE).read_bytes()
    answer = upload(teacher, VSCODE, sent)
    assert answer.status_code == 201, answer.json
    assert answer.json["kernel"] == {"name": "python3", "display_name": "Python 3", "missing": False,
                                     "asked": "python36964bit9f899ef1f6144dc3be0f32d67042f5ff"}
    copy = json.loads(students_copy(app, data_root, student, answer.json))
    assert copy["metadata"]["kernelspec"] == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert copy["metadata"]["colab"] == json.loads(sent)["metadata"]["colab"]
    assert master(data_root, answer.json) == sent


def test_a_notebook_in_format_3_opens_on_python_3(app, teacher, student, corpus, data_root):
    answer = upload(teacher, METEO, (corpus / METEO).read_bytes())
    assert answer.json["kernel"] == {"name": "python3", "display_name": "Python 3", "missing": False, "asked": ""}
    stored = master(data_root, answer.json)
    assert "kernelspec" not in json.loads(stored)["metadata"]
    assert json.loads(students_copy(app, data_root, student, answer.json))["metadata"]["kernelspec"]["name"] == \
        "python3"
    assert master(data_root, answer.json) == stored


def test_a_notebook_naming_its_kernel_exactly_is_copied_byte_for_byte(app, teacher, student, activity, corpus,
                                                                       data_root):
    assert activity["kernel"] == {"name": "python3", "display_name": "Python 3", "missing": False,
                                  "asked": "python3"}
    assert students_copy(app, data_root, student, activity) == (corpus / DICE).read_bytes()


def test_protected_cells_and_the_kernel_both_reach_the_copy(app, teacher, student, corpus, data_root):
    answer = upload(teacher, OCAML, (corpus / OCAML).read_bytes(), title="OCaml")
    teacher.client.post(f"/activities/{answer.json['id']}/options", data={"protect_cells": "on"})
    copy = nbformat.reads(students_copy(app, data_root, student, answer.json).decode(), as_version=4)
    assert copy.metadata.kernelspec.name == "ocaml"
    assert all(cell.metadata["editable"] is False for cell in copy.cells)


def test_an_r_notebook_is_accepted_and_the_missing_kernel_is_said(app, teacher, student, data_root):
    sent = r_notebook()
    answer = upload(teacher, "statistiques.ipynb", sent, title="Statistiques")
    assert answer.status_code == 201, answer.json
    assert answer.json["kernel"] == {"name": None, "display_name": "R", "missing": True, "asked": "ir"}

    page = teacher.client.get(f"/activities/{answer.json['id']}").get_data(as_text=True)
    assert MISSING_FR in page
    assert "Noyau :" not in page
    english = teacher.client.get(f"/activities/{answer.json['id']}?lang=en").get_data(as_text=True)
    assert MISSING_EN in english and MISSING_FR not in english

    # the copy keeps the teacher's kernelspec: nothing to map it to
    assert students_copy(app, data_root, student, answer.json) == sent == master(data_root, answer.json)


def test_the_missing_kernels_name_is_shown_as_text(app, teacher):
    answer = upload(teacher, "statistiques.ipynb", r_notebook("<b>ir</b>"), title="Statistiques")
    page = teacher.client.get(f"/activities/{answer.json['id']}").get_data(as_text=True)
    assert "Le noyau « &lt;b&gt;ir&lt;/b&gt; » demandé" in page and "<b>ir</b>" not in page


def test_the_activity_page_says_which_kernel_the_copies_open_on(app, teacher, corpus):
    answer = upload(teacher, OCAML, (corpus / OCAML).read_bytes(), title="OCaml")
    page = teacher.client.get(f"/activities/{answer.json['id']}").get_data(as_text=True)
    assert '<p class="muted" id="kernel">Noyau : OCaml</p>' in page and "kernel-missing" not in page
    english = teacher.client.get(f"/activities/{answer.json['id']}?lang=en").get_data(as_text=True)
    assert '<p class="muted" id="kernel">Kernel: OCaml</p>' in english


def test_an_upload_from_the_page_lands_on_the_missing_kernel_notice(app, teacher):
    answer = upload(teacher, "statistiques.ipynb", r_notebook(), title="Statistiques", path="/activities/new")
    assert answer.status_code == 303
    page = teacher.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert MISSING_FR in page


def test_a_new_version_on_another_kernel_changes_what_the_page_says(app, teacher, activity, corpus):
    sent = teacher.client.post(f"/activities/{activity['id']}/versions",
                               **multipart({}, [("notebook", "statistiques.ipynb", r_notebook())]))
    assert sent.status_code == 303
    page = teacher.client.get(f"/activities/{activity['id']}").get_data(as_text=True)
    assert MISSING_FR in page


@pytest.mark.parametrize(("table", "message"), [
    (None, "CAPYTALE_KERNELS_FILE: {path}: cannot read the kernels table"),
    ('[python3]\ndisplay_name = "Python 3"\n',
     "CAPYTALE_KERNELS_FILE: {path}: table [python3]: field 'language' must be a non-empty string"),
])
def test_a_wrong_kernels_table_stops_the_service_at_start(var_dir, table, message):
    path = var_dir / "kernels.toml"
    if table is not None:
        path.write_text(table)
    with pytest.raises(SettingsError) as refused:
        create_app({"VAR_DIR": var_dir, "ACTIVITIES_DATABASE_URL": f"sqlite:///{var_dir / 'a.sqlite'}",
                    "AMQP_NAMESPACE": TEST_TOPOLOGY.namespace, "KERNELS_FILE": path, **LIMITS})
    assert str(refused.value).startswith(message.format(path=path))

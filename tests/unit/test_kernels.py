"""A notebook's kernelspec is mapped to one of the students' kernels: exact name, prefix, then language."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

from capytale import kernels
from capytale.kernels import DEFAULT_FILE, KernelChoice, KernelsError, load
from capytale.settings import load as load_settings


@pytest.fixture(scope="module")
def table() -> kernels.Kernels:
    """The repository's table, the one the platform reads by default."""
    return load(DEFAULT_FILE)


def spec(name: str, language: str = "", display_name: str = "") -> dict:
    return {"kernelspec": {"name": name, "display_name": display_name or name, "language": language}}


NAMES = {
    # kernelspec name (and language) -> the kernel it opens on
    "python3": (spec("python3", "python"), "python3"),
    "python": (spec("python", "python"), "python3"),
    "Python3, another case": (spec("Python3", "python"), "python3"),
    "VS Code's name": (spec("python36964bit9f899ef1f6144dc3be0f32d67042f5ff", "python"), "python3"),
    "a conda env, by its language": (spec("conda-env-nsi-py", "python"), "python3"),
    "ocaml-jupyter": (spec("ocaml-jupyter", "OCaml"), "ocaml"),
    "ocaml": (spec("ocaml", "ocaml"), "ocaml"),
    "an OCaml version, by its prefix": (spec("ocaml-4.14", ""), "ocaml"),
    "sql": (spec("sql", "sql"), "sql"),
    "xsqlite, by its prefix": (spec("xsqlite-3", ""), "sql"),
    "language_info only": ({"language_info": {"name": "OCaml"}}, "ocaml"),
    "no kernelspec at all (nbformat 3)": ({}, "python3"),
    "an empty kernelspec": ({"kernelspec": {}}, "python3"),
    "a kernelspec that is not a mapping": ({"kernelspec": "python3"}, "python3"),
}


@pytest.mark.parametrize("case", NAMES)
def test_every_name_form_maps_to_its_kernel(table, case):
    metadata, expected = NAMES[case]
    choice = table.resolve(metadata)
    assert choice.name == expected and not choice.missing
    found = table.find(expected)
    assert (choice.display_name, choice.language) == (found.display_name, found.language)


def test_the_exact_name_wins_over_the_language(table):
    assert table.resolve(spec("sql", "python")).name == "sql"
    assert table.resolve(spec("ocaml-jupyter", "python")).name == "ocaml"


def test_asked_is_what_the_notebook_named(table):
    assert table.resolve(spec("ocaml-jupyter", "OCaml")).asked == "ocaml-jupyter"
    assert table.resolve({"language_info": {"name": "OCaml"}}).asked == "OCaml"
    assert table.resolve({}).asked == ""


def test_an_r_notebook_is_missing_and_says_what_it_asked(table):
    choice = table.resolve({"kernelspec": {"name": "ir", "display_name": "R", "language": "R"},
                            "language_info": {"name": "R"}})
    assert choice == KernelChoice(None, "R", "R", "ir")
    assert choice.missing and choice.kernelspec() is None
    assert choice.as_json() == {"name": None, "display_name": "R", "missing": True, "asked": "ir"}


def test_the_answer_of_an_upload_names_the_kernel(table):
    assert table.resolve(spec("ocaml-jupyter", "OCaml")).as_json() == {
        "name": "ocaml", "display_name": "OCaml", "missing": False, "asked": "ocaml-jupyter"}


def test_a_copy_gets_the_kernels_own_kernelspec_unless_the_name_is_exact(table):
    assert table.kernelspec_for(spec("ocaml-jupyter", "OCaml")) == {
        "name": "ocaml", "display_name": "OCaml", "language": "ocaml"}
    assert table.kernelspec_for({}) == {"name": "python3", "display_name": "Python 3", "language": "python"}
    assert table.kernelspec_for(spec("python3", "python", "Python 3 (ipykernel)")) is None  # left as it is
    assert table.kernelspec_for(spec("ir", "R")) is None  # missing: the teacher's kernelspec stays


def test_every_notebook_of_the_corpus_maps_to_a_kernel_of_the_environment(table, corpus):
    found = {}
    for path in sorted(corpus.glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)  # format 3 notebooks read as the platform stores them
        found[path.name] = table.resolve(notebook.metadata).name
    assert set(found.values()) == {"python3", "ocaml", "sql"}, found
    assert found["Exemple de notebook dans un autre langage interprété OCaml.ipynb"] == "ocaml"
    assert found["mp_opt_1_intro.ipynb"] == "ocaml"
    assert found["mp_2_sql.ipynb"] == "sql"
    assert found["2_Exercices_recursivite_corr.ipynb"] == "python3"
    assert found["Mini-projet-meteo-data.ipynb"] == "python3"  # nbformat 3: no kernelspec


def test_the_module_resolves_with_the_repositorys_table_by_default():
    assert kernels.resolve(spec("ocaml-jupyter")).name == "ocaml"


def test_the_setting_defaults_to_the_repositorys_table():
    settings = load_settings("activities", environ={})
    assert settings["KERNELS_FILE"] == DEFAULT_FILE and DEFAULT_FILE.is_file()
    assert load_settings("activities", environ={"CAPYTALE_KERNELS_FILE": "/etc/capytale/kernels.toml"})[
        "KERNELS_FILE"] == Path("/etc/capytale/kernels.toml")


GOOD = '[julia]\ndisplay_name = "Julia"\nlanguage = "julia"\n'

BAD_TABLES = {
    "not TOML": ("[python3\n", "not valid TOML"),
    "empty": ("", "no kernel in the table"),
    "a field that is not a table": ('python3 = "Python 3"\n', "table [python3]: expected a table"),
    "display_name missing": ('[python3]\nlanguage = "python"\n',
                             "table [python3]: field 'display_name' must be a non-empty string (it is missing)"),
    "language not a string": ('[python3]\ndisplay_name = "Python 3"\nlanguage = 3\n',
                              "table [python3]: field 'language' must be a non-empty string (got 3)"),
    "names not a list": (GOOD + 'names = "julia"\n',
                         "table [julia]: field 'names' must be a list of non-empty strings"),
    "a prefix not a string": (GOOD + "prefixes = [1]\n", "table [julia]: field 'prefixes' must be a list"),
    "a misspelt field": (GOOD + 'prefix = ["julia"]\n',
                         "table [julia]: unknown field 'prefix'; did you mean 'prefixes'?"),
    "a bad kernel name": ('["py 3"]\ndisplay_name = "P"\nlanguage = "python"\n', "is not a kernelspec name"),
    "a name claimed twice": (GOOD + 'names = ["jl"]\n[julia2]\ndisplay_name = "J"\nlanguage = "julia"\n'
                             'names = ["JL"]\n', "table [julia2]: names 'jl' is already claimed by table [julia]"),
    "a language claimed twice": (GOOD + 'languages = ["julia"]\n[julia2]\ndisplay_name = "J"\nlanguage = "julia"\n'
                                 'languages = ["julia"]\n', "languages 'julia' is already claimed by table [julia]"),
}


@pytest.mark.parametrize("case", BAD_TABLES)
def test_a_wrong_table_is_refused_naming_the_file_and_the_table(tmp_path, case):
    text, message = BAD_TABLES[case]
    path = tmp_path / "kernels.toml"
    path.write_text(text)
    with pytest.raises(KernelsError) as refused:
        load(path)
    assert str(refused.value).startswith(f"{path}: ") and message in str(refused.value)


def test_a_missing_table_is_refused_naming_the_file(tmp_path):
    with pytest.raises(KernelsError, match="cannot read the kernels table"):
        load(tmp_path / "absent.toml")


def test_a_kernel_added_by_an_academie_is_found_by_its_own_name(tmp_path):
    path = tmp_path / "kernels.toml"
    path.write_text(DEFAULT_FILE.read_text() + "\n" + GOOD + 'languages = ["julia"]\n')
    table = load(path)
    assert table.resolve(spec("julia")).name == "julia"
    assert table.resolve(spec("julia-1.10", "julia")).name == "julia"  # by its language
    assert table.resolve(spec("ir")).missing

"""Every code cell of every corpus notebook runs in a student's kernel, through the real flow.

A teacher uploads the notebook (with the annex files it reads, made here), a student opens the share
URL, reads the copy through the contents API, and starts the kernel its metadata names as Notebook 7
does (a session for the notebook); each code cell is then sent in order over the kernel websocket
(HAProxy → node proxy → server → kernel).  What must hold: no environment error at all (missing
module, unknown magic, no such kernel, kernel died), and the only errors are those listed in
:data:`EXPECTED_ERRORS`, each with its reason, each of which does happen.

The process backend's kernels have this machine's network, so before a cell is sent its shell escapes
and URL fetches are neutralised (replaced by ``pass``), whichever backend: :data:`NEUTRALISED` says
which; the test checks that no other line of the corpus reaches for the network.
"""
from __future__ import annotations

import re
import sqlite3
import struct
import tempfile
import textwrap
import urllib.parse
import zlib
from pathlib import Path

import nbformat
import pytest

from tests.conftest import CORPUS
from tests.e2e.browser import KernelDied
from tests.e2e.test_corpus import corpus_names, corpus_student, corpus_teacher  # noqa: F401 - fixtures

pytestmark = pytest.mark.e2e

CELL_TIMEOUT = 120.0

# Lines a test never sends to a kernel (Python kernels): shell escapes (`!cmd`, `%%bash`, `%sx`, and the
# aliases IPython runs through the shell, such as `%cat`), and anything that names a URL outside a comment.
SHELL_LINE = re.compile(r"^\s*(?:!|%%?(?:sx|system|bash|sh|script|cat|ls|ll|rm|cp|mv|mkdir|rmdir|less|more|man)\b)")
URL = re.compile(r"https?://")

# Which lines of the corpus that neutralises, named so that a new one is seen (notebook → line starts).
NEUTRALISED = {
    "Introduction aux notebooks Jupyter.ipynb": ["!file ", "!head ", "!grep ", "!ls ", "!wget "],
    "P21_simulation_onde.ipynb": ["!pip install matplotlib", "!pip install numpy"],
    "notebook_filtre.ipynb": ["!pip install Pillow"],
    "demo02-moreargs.ipynb": ["%cat ../exercises/curve.py"],
}

# Errors a notebook gives on purpose, or for a reason that is not the students' environment:
# notebook → {code cell index: (exception name, reason)}.
# Cells whose computation the author never saw end (no execution count, output cut short): the test lets each
# run this many seconds, then interrupts the kernel, as a student presses ■ (a KeyboardInterrupt, expected).
INTERRUPTED = {"Calcul d'une paire de dés un peu particuliers.ipynb": {19: 1.5, 21: 1.5, 22: 1.5, 23: 1.5, 24: 1.5,
                                                                       25: 1.5}}
NEVER_ENDED = "a search the author interrupted (no execution count in the notebook); interrupted here too"

# Notebooks whose cells compute for tens of seconds (simulations, a tour of the libraries): run in a
# student's container only (tests/docker/e2e/test_corpus_runs.py), what a school runs; what they compute
# does not depend on the backend, and the other notebooks cover the process backend's environment.
CONTAINERS_ONLY = {"Calcul d'une paire de dés un peu particuliers.ipynb", "Introduction aux notebooks Jupyter.ipynb",
                   "Oraux_CentraleSupelec_PSI__Juin_2019.ipynb", "P21_simulation_onde.ipynb"}

LEFT_TO_THE_STUDENT = "an exercise the student has still to write"
EXPECTED_ERRORS: dict[str, dict[int, tuple[str, str]]] = {
    "Calcul d'une paire de dés un peu particuliers.ipynb": {
        cell: ("KeyboardInterrupt", NEVER_ENDED) for cell in INTERRUPTED["Calcul d'une paire de dés un peu particuliers.ipynb"]
    },
    "Introduction aux notebooks Jupyter.ipynb": {
        15: ("cairo.IOError", "draws into figs/penrose.png, a folder of the tutorial's repository the corpus does not hold"),
    },
    "mp_opt_1_intro.ipynb": {
        3: ("Error", f"{LEFT_TO_THE_STUDENT}: OCaml functions whose body is « (*à compléter*) »"),
        4: ("Error", LEFT_TO_THE_STUDENT),
        5: ("Error", LEFT_TO_THE_STUDENT),
    },
    "Mini-projet-meteo-data.ipynb": {
        0: ("SyntaxError", "Python 2 (a 2014 notebook, nbformat 3): print without parentheses"),
        4: ("ModuleNotFoundError", "xkcd is the course's own module beside the notebook, which the corpus does not hold"),
        6: ("SyntaxError", "Python 2: print without parentheses"),
    },
    "w7-s05-x1-checkers.ipynb": {
        8: ("AttributeError", f"{LEFT_TO_THE_STUDENT} (checkers returns a placeholder string); np.float is gone "
                              "since NumPy 1.24 anyway"),
    },
    "tnsi_arbres.ipynb": {
        2: ("AttributeError", f"{LEFT_TO_THE_STUDENT}: the methods are to be put into the class ArbreB"),
        4: ("AttributeError", LEFT_TO_THE_STUDENT),
        6: ("AttributeError", LEFT_TO_THE_STUDENT),
        9: ("NameError", "follows from cell 8, whose tree needs the methods left to the student"),
        10: ("NameError", "the same"),
        11: ("NameError", "the same"),
        12: ("NameError", "the same"),
        15: ("ValueError", "networkx is given None for the unfinished tree"),
    },
    "phrase_de_passe-v2-Corrige.ipynb": {
        9: ("AssertionError", "on purpose: shows the function refusing a bad argument (the teacher's output shows it)"),
        11: ("AssertionError", "on purpose, the same"),
        27: ("StdinNotImplementedError", "asks the student to type an answer (input()); this test types nothing"),
    },
    "mp_1_motifs.ipynb": {
        22: ("IndentationError", f"{LEFT_TO_THE_STUDENT}: a function whose body is to be written"),
    },
    "problem1.ipynb": {  # nbgrader: the student's copy is the student version (services/activities/grading)
        1: ("NotImplementedError", f"{LEFT_TO_THE_STUDENT}: squares() is the platform's stub in the student's copy"),
        2: ("NotImplementedError", "a check cell calling the stubbed squares()"),
        3: ("NotImplementedError", "the same"),
        5: ("NotImplementedError", f"{LEFT_TO_THE_STUDENT}: sum_of_squares() is stubbed too"),
        6: ("NotImplementedError", "a check cell calling the stubbed sum_of_squares()"),
        7: ("NotImplementedError", "the same"),
        8: ("NotImplementedError", f"{LEFT_TO_THE_STUDENT}: a written answer, stubbed"),
    },
    "Oraux_CentraleSupelec_PSI__Juin_2019.ipynb": {
        53: ("NameError", "uses pi, which a later cell imports (the notebook was run out of order)"),
        55: ("NameError", "the same"),
    },
}

# Exceptions that say the environment lacks something (never expected).
ENVIRONMENT_ERRORS = ("ModuleNotFoundError", "ImportError", "UsageError", "NoSuchKernel")


def neutralised(source: str, python: bool) -> tuple[str, list[str]]:
    """``source`` with its shell escapes and URL fetches replaced by ``pass`` (Python kernels), and the
    lines replaced."""
    if not python:
        return source, []
    kept, dropped, in_string = [], [], False
    for line in source.splitlines():
        code = line.split("#", 1)[0]
        starts_in_string = in_string
        in_string ^= (line.count('"""') + line.count("'''")) % 2 == 1  # a line of a triple-quoted string is text
        if not starts_in_string and (SHELL_LINE.match(line) or URL.search(code)):
            indent = line[: len(line) - len(line.lstrip())]
            kept.append(f"{indent}pass  # neutralised by the test")
            dropped.append(line.strip())
        else:
            kept.append(line)
    return "\n".join(kept), dropped


# --- annex files the notebooks read (made here: the corpus holds the notebooks only) -------------

def _png(width: int, height: int) -> bytes:
    """A small RGB gradient as a PNG (Pillow opens a file by its content, whatever its extension)."""
    rows = b"".join(b"\0" + bytes(v for x in range(width) for v in (x * 4 % 256, y * 5 % 256, 128))
                    for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


CURVE = textwrap.dedent('''\
    """The exercise of the nbautoeval demo (its repository keeps it in exercises/curve.py)."""
    from nbautoeval.args import Args
    from nbautoeval.exercise_function import ExerciseFunction


    def curve(a, b, c=12):
        return a ** 2 + 3 * a * b + c


    exo_curve = ExerciseFunction(curve, [Args(1, 2), Args(2, 2), Args(3, 1, c=0), Args(0, 4)], nb_examples=2)
''')

CHECKERS = textwrap.dedent('''\
    """The checkers exercise of the MOOC (its course keeps it in corrections/exo_checkers.py)."""
    import numpy as np
    from nbautoeval.args import Args
    from nbautoeval.exercise_function import ExerciseFunction


    def checkers(size, corner_0_0=True):
        rows, columns = np.indices((size, size))
        return ((rows + columns + (0 if corner_0_0 else 1)) % 2 == 0).astype(int).tolist()  # nbautoeval compares with ==


    exo_checkers = ExerciseFunction(checkers, [Args(3), Args(4, False), Args(5), Args(6, corner_0_0=False)],
                                    nb_examples=2)
''')


def _sqlite_database() -> bytes:
    """A small database with the three tables the SQL lab names (its own data set is not public)."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "superieur.db"
        with sqlite3.connect(path) as db:
            db.executescript("""
                CREATE TABLE Communes (code TEXT PRIMARY KEY, nom TEXT, departement TEXT, region TEXT);
                CREATE TABLE Etablissements (id INTEGER PRIMARY KEY, nom TEXT, commune TEXT REFERENCES Communes(code));
                CREATE TABLE Eleves (id INTEGER PRIMARY KEY, etablissement INTEGER REFERENCES Etablissements(id),
                                     formation TEXT, effectif INTEGER);
                INSERT INTO Communes VALUES ('59000', 'Lille', 'Nord', 'Hauts-de-France'),
                                            ('69001', 'Lyon', 'Rhône', 'Auvergne-Rhône-Alpes');
                INSERT INTO Etablissements VALUES (1, 'Lycée Faidherbe', '59000'), (2, 'Lycée du Parc', '69001');
                INSERT INTO Eleves VALUES (1, 1, 'MPSI', 48), (2, 2, 'PCSI', 45);
            """)
        db.close()
        return path.read_bytes()


ANNEXES = {
    "notebook_filtre.ipynb": lambda: [("bananes.jpg", _png(40, 30)), ("ciel profond.jpg", _png(32, 24))],
    "demo02-moreargs.ipynb": lambda: [("exercises/curve.py", CURVE.encode())],
    "w7-s05-x1-checkers.ipynb": lambda: [("corrections/exo_checkers.py", CHECKERS.encode())],
    "mp_2_sql.ipynb": lambda: [("superieur.db", _sqlite_database())],
}


# --- the test -------------------------------------------------------------------------------------

def test_every_neutralised_line_is_listed_and_nothing_else_reaches_out():
    for name in corpus_names():
        notebook = nbformat.read(CORPUS / name, as_version=4)
        python = "python" in notebook.metadata.get("kernelspec", {}).get("name", "python")
        dropped = [line for cell in notebook.cells if cell.cell_type == "code"
                   for line in neutralised(cell.source, python)[1]]
        listed = NEUTRALISED.get(name, [])
        assert len(dropped) == len(listed) and all(line.startswith(start) for line, start in zip(dropped, listed)), (
            name, dropped)


@pytest.mark.parametrize("name", corpus_names())
def test_every_code_cell_of_a_corpus_notebook_runs_in_a_students_kernel(name, corpus_teacher, corpus_student, platform):
    if name in CONTAINERS_ONLY and platform.base_env().get("CAPYTALE_SPAWNER_BACKEND", "process") == "process":
        pytest.skip("long computations: run in a student's container only (tests/docker/e2e/test_corpus_runs.py)")
    annexes = ANNEXES.get(name, lambda: [])()
    answer = corpus_teacher.upload(CORPUS / name, f"Exécution — {name}", annexes)
    assert answer.status_code == 201, answer.text
    link = corpus_student.open_share(urllib.parse.urlsplit(answer.json()["share_url"]).path)
    assert corpus_student.enter(link).status_code == 200
    copy = nbformat.from_dict(corpus_student.contents(link).json()["content"])
    kernel_name = copy.metadata.get("kernelspec", {}).get("name", "python3")
    python = kernel_name == "python3"

    errors: dict[int, tuple[str, str]] = {}
    code_cells = [cell for cell in copy.cells if cell.cell_type == "code"]
    with corpus_student.kernel(link, kernel_name, notebook_path=link.path) as kernel:
        for index, cell in enumerate(code_cells):
            source, _dropped = neutralised(cell.source, python)
            if not source.strip():
                continue  # Notebook 7 sends an empty cell too; nothing to run
            try:
                result = kernel.execute(source, CELL_TIMEOUT,
                                        interrupt_after=INTERRUPTED.get(name, {}).get(index))
            except KernelDied as exc:
                pytest.fail(f"{name}, code cell {index}: the kernel died ({exc})")
            if result.error is not None:
                errors[index] = (result.error["ename"], result.error["evalue"][:200])

    expected = EXPECTED_ERRORS.get(name, {})
    environment = {i: e for i, e in errors.items() if e[0] in ENVIRONMENT_ERRORS and i not in expected}
    assert not environment, f"{name}: environment errors {environment}"
    assert {i: e[0] for i, e in errors.items()} == {i: e[0] for i, e in expected.items()}, (
        f"{name}: errors {errors}, expected {expected}")

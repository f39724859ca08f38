"""The students' kernels for real: kernelspecs written by ``capytale_kernels.install``, kernels driven by jupyter_client.

OCaml (Debian's toplevel behind ``capytale_kernels.ocaml``), SQL over SQLite
(``capytale_kernels.sql``), and the ``python3`` spec, each started from the students' environment
(the ``students_env`` fixture) as a student's Jupyter server would start it.
"""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import pytest
from jupyter_client.blocking.client import BlockingKernelClient
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager

PLATFORM_PREFIX = Path(sys.prefix)


@dataclass
class Execution:
    """One cell run: its reply, and the iopub messages it produced, in order."""

    reply: dict[str, Any]
    outputs: list[dict[str, Any]]

    @property
    def status(self) -> str:
        return self.reply["status"]

    def streams(self, name: str = "stdout") -> str:
        return "".join(o["content"]["text"] for o in self.outputs
                       if o["msg_type"] == "stream" and o["content"]["name"] == name)

    def result(self, mime: str = "text/plain") -> str | None:
        results = [o["content"]["data"] for o in self.outputs if o["msg_type"] == "execute_result"]
        assert len(results) <= 1, results
        return results[0].get(mime) if results else None

    def displays(self, mime: str = "text/plain") -> list[str]:
        return [o["content"]["data"][mime] for o in self.outputs if o["msg_type"] == "display_data"]

    @property
    def error(self) -> dict[str, Any] | None:
        errors = [o["content"] for o in self.outputs if o["msg_type"] == "error"]
        return errors[0] if errors else None

    def kinds(self) -> list[str]:
        return [o["msg_type"] for o in self.outputs if o["msg_type"] not in ("status", "execute_input")]


class Kernel:
    """A kernel of the students' environment, started in ``cwd`` by jupyter_client."""

    def __init__(self, students_env: Path, name: str, cwd: Path):
        specs = KernelSpecManager(kernel_dirs=[str(students_env / "share" / "jupyter" / "kernels")],
                                  ensure_native_kernel=False)
        self.manager = KernelManager(kernel_name=name, kernel_spec_manager=specs)
        self.manager.start_kernel(cwd=str(cwd))
        self.client: BlockingKernelClient = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=60)

    def run(self, code: str, timeout: float = 30) -> Execution:
        outputs: list[dict[str, Any]] = []
        reply = self.client.execute_interactive(code, output_hook=outputs.append, timeout=timeout,
                                                allow_stdin=False)
        return Execution(reply["content"], outputs)

    def start(self, code: str) -> str:
        """Send a cell without waiting for it (to interrupt it); returns its msg_id."""
        return self.client.execute(code)

    def finish(self, msg_id: str, timeout: float = 30) -> Execution:
        outputs: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout
        while True:
            message = self.client.get_iopub_msg(timeout=max(deadline - time.monotonic(), 0.1))
            if message["parent_header"].get("msg_id") != msg_id:
                continue
            outputs.append(message)
            if message["msg_type"] == "status" and message["content"]["execution_state"] == "idle":
                break
        reply = self.client.get_shell_msg(timeout=max(deadline - time.monotonic(), 0.1))
        assert reply["parent_header"]["msg_id"] == msg_id
        return Execution(reply["content"], outputs)

    def kernel_info(self) -> dict[str, Any]:
        return self.client.kernel_info(reply=True, timeout=30)["content"]

    def children(self) -> list[int]:
        """The pids of the kernel process's children (the OCaml toplevel)."""
        return children_of(self.manager.provisioner.process.pid)

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def wait_until(condition, timeout: float, message: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{message} after {timeout} s")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def kernels_dir(students_env: Path) -> Path:
    return students_env / "share" / "jupyter" / "kernels"


@pytest.fixture(scope="module")
def ocaml(students_env: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kernel]:
    if shutil.which("ocaml") is None:
        pytest.fail("no ocaml on PATH: apt-get install ocaml-nox (environment/debian.txt)")
    kernel = Kernel(students_env, "ocaml", tmp_path_factory.mktemp("ocaml-notebook"))
    yield kernel
    kernel.stop()


# ---------------------------------------------------------------- the install


def test_install_writes_the_three_kernelspecs(students_env: Path, kernels_dir: Path):
    python = str(students_env / "bin" / "python")
    expected_env = {"PATH": f"{students_env}/bin:/usr/local/bin:/usr/bin:/bin", "VIRTUAL_ENV": str(students_env)}
    specs = {name: json.loads((kernels_dir / name / "kernel.json").read_text())
             for name in ("python3", "ocaml", "sql")}
    assert specs["python3"]["argv"][0] == python
    assert os.path.isabs(specs["python3"]["argv"][0])
    assert specs["python3"]["argv"][-4:] == ["-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert specs["ocaml"]["argv"] == [python, "-m", "capytale_kernels.ocaml", "-f", "{connection_file}"]
    assert specs["sql"]["argv"] == [python, "-m", "capytale_kernels.sql", "-f", "{connection_file}"]
    assert (specs["ocaml"]["display_name"], specs["ocaml"]["language"]) == ("OCaml", "ocaml")
    assert (specs["sql"]["display_name"], specs["sql"]["language"]) == ("SQL (SQLite)", "sql")
    assert (specs["python3"]["display_name"], specs["python3"]["language"]) == ("Python 3", "python")
    for spec in specs.values():
        assert {key: spec["env"][key] for key in expected_env} == expected_env


def test_install_writes_the_turtle_pth_into_the_environment(students_env: Path):
    python = students_env / "bin" / "python"
    purelib = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                  capture_output=True, text=True, check=True).stdout.strip())
    assert purelib.is_relative_to(students_env)
    pth = purelib / "capytale-turtle.pth"
    had_it = pth.exists()
    subprocess.run([str(python), "-m", "capytale_kernels.install", "--prefix", str(students_env)],
                   check=True, capture_output=True)
    try:
        assert pth.read_text().splitlines() == ["import capytale_kernels.turtle_hook"]
    finally:
        if not had_it:
            pth.unlink()  # the fixture took it away: the hook is not there yet


# ---------------------------------------------------------------- python3


def test_python3_runs_on_the_students_environment(students_env: Path, tmp_path: Path):
    kernel = Kernel(students_env, "python3", tmp_path)
    try:
        run = kernel.run("import os, shutil, sys; print(sys.prefix); print(os.environ['VIRTUAL_ENV']); "
                         "print(shutil.which('python'))")
    finally:
        kernel.stop()
    assert run.status == "ok", run.error
    prefix, virtual_env, python = run.streams().split()
    assert Path(prefix) == students_env
    assert virtual_env == str(students_env)
    assert Path(python) == students_env / "bin" / "python"
    assert not Path(prefix).is_relative_to(PLATFORM_PREFIX)


# ---------------------------------------------------------------- OCaml


def test_ocaml_kernel_info(ocaml: Kernel):
    info = ocaml.kernel_info()["language_info"]
    assert info["name"] == "ocaml"
    assert info["mimetype"] == "text/x-ocaml"
    assert info["file_extension"] == ".ml"
    assert info["codemirror_mode"] in ("mllike", "text/x-ocaml")
    assert info["pygments_lexer"] == "ocaml"
    assert info["version"][:1].isdigit()


def test_ocaml_answers_are_the_cell_result_and_state_persists(ocaml: Kernel):
    run = ocaml.run("let rec fact = function\n| 0 -> 1\n| n -> n * (fact (n-1))\n;;")
    assert run.status == "ok"
    assert run.result() == "val fact : int -> int = <fun>\n"
    assert ocaml.run("fact 10;;").result() == "- : int = 3628800\n"


def test_ocaml_several_phrases_with_and_without_double_semicolons(ocaml: Kernel):
    run = ocaml.run("let entier = 0\nand chaine = \"Superman\";;\n"
                    "let double x = 2 * x\n"
                    "type couleur = Rouge | Vert\n"
                    "let c = Vert;; double 21")
    assert run.status == "ok", run.error
    assert run.result() == ("val entier : int = 0\nval chaine : string = \"Superman\"\n"
                            "val double : int -> int = <fun>\ntype couleur = Rouge | Vert\n"
                            "val c : couleur = Vert\n- : int = 42\n")


def test_ocaml_a_module_signature_is_an_answer(ocaml: Kernel):
    run = ocaml.run("module Pile = struct\n  type t = int list\n  let vide : t = []\n"
                    "  let empiler x (p : t) : t = x :: p;;\nend")
    assert run.result() == ("module Pile :\n  sig type t = int list val vide : t val empiler : int -> t -> t end\n")


def test_ocaml_printed_output_is_a_stdout_stream_before_the_result(ocaml: Kernel):
    run = ocaml.run('for i = 0 to 3 do\n    Printf.printf "carre(%i) = %i\\n" i (i * i);\ndone;\nflush_all();;')
    assert run.status == "ok"
    assert run.streams() == "carre(0) = 0\ncarre(1) = 1\ncarre(2) = 4\ncarre(3) = 9\n"
    assert run.result() == "- : unit = ()\n"
    assert run.kinds() == ["stream", "execute_result"]
    # unflushed output comes too, and accents arrive whole
    run = ocaml.run('print_string "Calcul effectué"; 1 + 1')
    assert run.streams() == "Calcul effectué"
    assert run.result() == "- : int = 2\n"


def test_ocaml_stderr_is_a_stderr_stream(ocaml: Kernel):
    run = ocaml.run('prerr_endline "attention"')
    assert run.streams("stderr") == "attention\n"


def test_ocaml_type_error_is_an_error_reply(ocaml: Kernel):
    run = ocaml.run('let x = 1 + "deux";;')
    assert run.status == "error"
    assert run.reply["ename"] == "Error"
    assert "This expression has type string" in run.reply["evalue"]
    assert run.error is not None and run.error["ename"] == "Error"
    traceback = "\n".join(run.reply["traceback"])
    assert traceback.startswith("Line 1, characters 12-18:")
    assert "capytale-ocaml" not in traceback and "cell.ml" not in traceback  # the cell, not a temporary file
    assert run.result() is None


def test_ocaml_syntax_error_and_incomplete_phrases(ocaml: Kernel):
    run = ocaml.run("let var (v: char): formule = (*à compléter*)")
    assert (run.status, run.reply["ename"], run.reply["evalue"]) == ("error", "Error", "Syntax error")
    run = ocaml.run("let s = (* un commentaire jamais fermé")
    assert run.status == "error" and "Comment not terminated" in run.reply["evalue"]
    run = ocaml.run('let s = "une chaîne jamais fermée')
    assert run.status == "error" and "String literal not terminated" in run.reply["evalue"]


def test_ocaml_exception_is_an_error_reply(ocaml: Kernel):
    run = ocaml.run('let premier = function [] -> failwith "liste vide" | x :: _ -> x;;\npremier []')
    assert run.status == "error"
    assert (run.reply["ename"], run.reply["evalue"]) == ("Exception", 'Failure "liste vide".')
    # the answer of the phrase before the error is shown, the error is the cell's outcome
    assert run.displays() == ["val premier : 'a list -> 'a = <fun>\n"]
    assert run.kinds() == ["display_data", "error"]


def test_ocaml_a_cell_stops_at_its_first_error(ocaml: Kernel):
    run = ocaml.run("let avant = 1;;\nlet erreur = avant + 1.0;;\nlet apres = 3;;")
    assert run.status == "error"
    assert run.displays() == ["val avant : int = 1\n"]
    assert ocaml.run("avant").result() == "- : int = 1\n"
    assert ocaml.run("apres").status == "error"


def test_ocaml_warnings_name_the_cell_line(ocaml: Kernel):
    run = ocaml.run("let f x = let inutile = 3 in x\nlet g = function 0 -> 1")
    assert run.status == "ok"
    assert "Line 1, characters 14-21:" in run.streams()
    assert "Warning 26 [unused-var]: unused variable inutile." in run.streams()
    assert "Warning 8 [partial-match]" in run.streams()
    assert run.result() == "val f : 'a -> 'a = <fun>\nval g : int -> int = <fun>\n"


def test_ocaml_a_cell_starting_with_a_dereference_is_ocaml(ocaml: Kernel):
    assert ocaml.run("let compteur = ref 41;;").status == "ok"
    assert ocaml.run("!compteur + 1").result() == "- : int = 42\n"


def test_ocaml_reading_stdin_does_not_hang(ocaml: Kernel):
    run = ocaml.run("read_line ()", timeout=10)
    assert (run.status, run.reply["evalue"]) == ("error", "End_of_file.")


def test_ocaml_a_computation_of_seconds(ocaml: Kernel):
    run = ocaml.run("let debut = Sys.time () in\nwhile Sys.time () -. debut < 1.5 do () done;\n"
                    'print_endline "fini"; 42', timeout=30)
    assert (run.status, run.streams(), run.result()) == ("ok", "fini\n", "- : int = 42\n")


def test_ocaml_an_infinite_loop_is_interrupted_and_the_kernel_goes_on(ocaml: Kernel):
    assert ocaml.run("let gardee = 7;;").status == "ok"
    msg_id = ocaml.start("let n = ref 0;;\nwhile true do incr n done")
    time.sleep(1.0)
    ocaml.manager.interrupt_kernel()
    run = ocaml.finish(msg_id, timeout=20)
    assert (run.status, run.reply["ename"]) == ("error", "Interrupted")
    assert run.displays() == ["val n : int ref = {contents = 0}\n"]
    assert ocaml.run("gardee * 6").result() == "- : int = 42\n"
    assert ocaml.run("!n > 0").result() == "- : bool = true\n"


def test_ocaml_interrupting_a_command_it_runs(ocaml: Kernel):
    msg_id = ocaml.start('Sys.command "sleep 30"')
    time.sleep(1.0)
    ocaml.manager.interrupt_kernel()
    run = ocaml.finish(msg_id, timeout=20)
    assert run.status in ("ok", "error")  # sleep is killed; the toplevel says so its own way
    assert ocaml.run("1 + 1").result() == "- : int = 2\n"


def test_ocaml_exit_restarts_the_toplevel(ocaml: Kernel):
    run = ocaml.run("exit 0")
    assert (run.status, run.reply["ename"]) == ("error", "ToplevelExited")
    assert ocaml.run("1 + 2").result() == "- : int = 3\n"


def test_ocaml_runs_in_the_notebook_folder_and_restarts_fresh(students_env: Path, tmp_path: Path):
    (tmp_path / "donnees.txt").write_text("bonjour\n")
    kernel = Kernel(students_env, "ocaml", tmp_path)
    try:
        run = kernel.run('let f = open_in "donnees.txt" in let l = input_line f in close_in f; l')
        assert run.result() == '- : string = "bonjour"\n'
        assert kernel.run("let avant_redemarrage = 1;;").status == "ok"
        toplevels = kernel.children()
        assert toplevels
        kernel.manager.restart_kernel(now=False)
        kernel.client.wait_for_ready(timeout=60)
        wait_until(lambda: not any(alive(pid) for pid in toplevels), 10, "the old toplevel still runs")
        run = kernel.run("avant_redemarrage")
        assert run.status == "error" and "Unbound value avant_redemarrage" in run.reply["evalue"]
        assert kernel.run("let apres = 2;;").result() == "val apres : int = 2\n"
        toplevels = kernel.children()
    finally:
        kernel.stop()
    wait_until(lambda: not any(alive(pid) for pid in toplevels), 10, "the toplevel outlived its kernel")


# ---------------------------------------------------------------- SQL


@pytest.fixture(scope="module")
def school(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A notebook's folder with its database, as a teacher hands it out."""
    folder = tmp_path_factory.mktemp("sql-notebook")
    with sqlite3.connect(folder / "communes.db") as connection:
        connection.execute("CREATE TABLE Communes (code TEXT PRIMARY KEY, nom TEXT, population INTEGER)")
        connection.executemany("INSERT INTO Communes VALUES (?, ?, ?)",
                               [("14118", "Caen", 106230), ("76351", "Le Havre", 166462)])
    connection.close()
    (folder / "zz-other.sqlite").write_bytes(b"")  # not the first in sorted order: not opened
    return folder


@pytest.fixture(scope="module")
def sql_kernel(students_env: Path, school: Path) -> Iterator[Kernel]:
    kernel = Kernel(students_env, "sql", school)
    yield kernel
    kernel.stop()


@pytest.fixture
def sql(sql_kernel: Kernel) -> Kernel:
    """The module's SQL kernel, on the folder's database again (a test may have opened another)."""
    assert sql_kernel.run(".open communes.db").status == "ok"
    return sql_kernel


def test_sql_kernel_info(sql_kernel: Kernel):
    info = sql_kernel.kernel_info()["language_info"]
    assert (info["name"], info["mimetype"], info["file_extension"], info["codemirror_mode"]) == (
        "sql", "text/x-sql", ".sql", "sql")


def test_sql_opens_the_folder_database(sql_kernel: Kernel, school: Path):
    sql = sql_kernel  # as it started: no .open yet
    assert str(school / "communes.db") in sql.run(".databases").streams()
    run = sql.run(".tables")
    assert (run.status, run.streams().strip()) == ("ok", "Communes")
    run = sql.run("SELECT * FROM Communes")
    assert run.status == "ok"
    html = run.result("text/html")
    assert "<th>nom</th>" in html and "<td>Caen</td>" in html and "106230" in html
    assert "(2 lignes)" in html
    text = run.result("text/plain")
    assert text.splitlines()[0].split(" | ") == ["code ", "nom     ", "population"]
    assert "Le Havre" in text


def test_sql_statements_run_in_order_and_changes_are_written(sql: Kernel, school: Path):
    run = sql.run("CREATE TABLE Eleves (id INTEGER PRIMARY KEY, nom TEXT, code TEXT);\n"
                  "INSERT INTO Eleves (nom, code) VALUES ('Ada', '14118'), ('Alan', '76351');\n"
                  "UPDATE Eleves SET nom = 'Ada L.' WHERE nom = 'Ada';\n"
                  "SELECT nom FROM Eleves ORDER BY id;\n"
                  "SELECT e.nom, c.nom AS ville FROM Eleves e JOIN Communes c ON c.code = e.code ORDER BY e.id")
    assert run.status == "ok", run.error
    assert run.kinds() == ["display_data", "execute_result"]  # each query's table, the last as the result
    assert "<td>Ada L.</td>" in run.displays("text/html")[0]
    assert "<th>ville</th>" in run.result("text/html") and "<td>Le Havre</td>" in run.result("text/html")
    with sqlite3.connect(school / "communes.db") as connection:  # committed: another connection sees it
        assert connection.execute("SELECT COUNT(*) FROM Eleves").fetchone() == (2,)
    connection.close()


def test_sql_errors_are_error_replies(sql: Kernel):
    run = sql.run("SELECT * FROM Commune")
    assert run.status == "error"
    assert (run.reply["ename"], run.reply["evalue"]) == ("OperationalError", "no such table: Commune")
    assert run.error is not None
    run = sql.run("SELECT nom FROM Communes WHERE code = '14118';\nSELEC 1;\nSELECT 2")
    assert run.status == "error" and "syntax error" in run.reply["evalue"]
    assert run.kinds() == ["display_data", "error"]
    assert sql.run(".frobnicate").reply["ename"] == "ShellError"


def test_sql_open_another_database(sql: Kernel, school: Path):
    assert sql.run(".open autre.db").status == "ok"
    assert (school / "autre.db").exists()
    assert "aucune table" in sql.run(".tables").streams()
    run = sql.run("SELECT * FROM Communes")
    assert (run.status, run.reply["evalue"]) == ("error", "no such table: Communes")
    sql.run("CREATE TABLE t (x); INSERT INTO t VALUES (1);")
    assert sql.run(".open communes.db").status == "ok"
    assert sql.run("SELECT COUNT(*) AS n FROM Communes").result("text/html").count("<td") == 1


def test_sql_values_are_escaped_in_html(sql: Kernel):
    run = sql.run("SELECT '<script>alert(1)</script>' AS \"<b>\", NULL AS rien")
    html = run.result("text/html")
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<th>&lt;b&gt;</th>" in html
    assert "NULL" in html
    assert "<script>alert(1)</script>" in run.result("text/plain")


def test_sql_caps_the_rows_shown(sql: Kernel):
    run = sql.run("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 1500) SELECT i FROM n")
    html = run.result("text/html")
    assert html.count("<tr>") == 1 + 1000
    assert "1000 lignes affichées sur 1500 (500 de plus)" in html


def test_sql_schema_read_and_help(sql: Kernel, school: Path):
    assert "CREATE TABLE Communes" in sql.run(".schema Communes").streams()
    (school / "script.sql").write_text("-- un script\nCREATE TABLE Notes (valeur REAL);\n"
                                       "INSERT INTO Notes VALUES (12.5);\n")
    assert sql.run(".read script.sql").status == "ok"
    assert "12.5" in sql.run("SELECT * FROM Notes;").result("text/plain")
    assert ".open" in sql.run(".help").streams()
    assert sql.run(".headers on").status == "ok"


def test_sql_without_a_database_file_is_in_memory(students_env: Path, tmp_path: Path):
    kernel = Kernel(students_env, "sql", tmp_path)
    try:
        assert "mémoire" in kernel.run(".databases").streams()
        run = kernel.run("CREATE TABLE t (x);\nINSERT INTO t VALUES (42);\nSELECT x FROM t;")
        assert "42" in run.result("text/plain")
    finally:
        kernel.stop()
    assert list(tmp_path.iterdir()) == []

"""``make run`` killed hard (``kill -9`` of its main process) takes with it every process it started: the
gunicorns and their workers, CHP, HAProxy, the spawner, its zygote, a student's server and its kernel; and
each of them stops on SIGTERM.  Whatever a failing test leaves is killed by its pid."""
from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import pytest

from capytale.messaging import Topology, delete_topology
from capytale.settings import load
from capytale.stack.processes import free_port
from services.spawner import procfs
from tests.e2e.browser import Browser, Kernel

pytestmark = pytest.mark.e2e

NOTEBOOK = {"cells": [{"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": [],
                       "source": "print(6 * 7)"}],
            "metadata": {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}},
            "nbformat": 4, "nbformat_minor": 5}


@dataclass
class MakeRun:
    """``python -m capytale.stack run`` in a subprocess, and every process of its tree seen so far."""

    process: subprocess.Popen
    port: int
    var_dir: Path
    log_path: Path
    seen: dict[int, float] = field(default_factory=dict)  # pid -> start time: a recycled pid is not ours

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def tree(self) -> dict[int, float]:
        """The main process and everything below it now (remembered for the cleanup)."""
        now = {}
        for pid in (self.process.pid, *procfs.descendants(self.process.pid)):
            started = procfs.start_time(pid)
            if started is not None:
                now[pid] = started
        self.seen.update(now)
        return now

    def server_pid(self, key: str) -> int:
        return int(json.loads((self.var_dir / "run" / "1" / f"{key}.json").read_text())["pid"])

    def log(self) -> str:
        """The end of make run's output, and the spawner's threads if its shutdown outlived its limit."""
        stacks = self.var_dir / "run" / "1" / "shutdown-stacks.txt"
        stuck = stacks.read_text(errors="replace") if stacks.exists() else ""
        return self.log_path.read_text(errors="replace")[-3000:] + (f"\nspawner stuck at:\n{stuck}" if stuck else "")


def alive(pids: dict[int, float]) -> dict[int, float]:
    """Those of ``pids`` still running as the same process (a zombie has ended)."""
    return {pid: started for pid, started in pids.items() if procfs.start_time(pid) == started}


def wait_gone(pids: dict[int, float], timeout: float) -> dict[int, float]:
    """Wait until none of ``pids`` runs; those still running after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while (left := alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    return left


def describe(pids) -> str:
    lines = []
    for pid in pids:
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            command = "?"
        lines.append(f"{pid} (parent {procfs.parent_pid(pid)}): {command[:160]}")
    return "\n".join(lines)


def kill_left(seen: dict[int, float]) -> None:
    """SIGKILL, by pid, what is left of the tree (and what those left started since)."""
    left = alive(seen)
    children = procfs.children_map()
    for pid in list(left):
        for below in procfs.descendants(pid, children):
            started = procfs.start_time(below)
            if started is not None:
                left[below] = started
    for pid, started in left.items():
        if procfs.start_time(pid) == started:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def make_run(tmp_path: Path) -> Iterator[MakeRun]:
    """``make run``'s process on a free port and a temporary var dir, one node; nothing left after it."""
    port = free_port()
    env = {**os.environ, "CAPYTALE_AMQP_NAMESPACE": f"capytale-run-{port}"}
    log_path = tmp_path / "run.log"
    with log_path.open("w") as log:
        process = subprocess.Popen([sys.executable, "-m", "capytale.stack", "run", "--port", str(port), "--nodes", "1",
                                    "--var-dir", str(tmp_path / "var")], env=env, stdout=log,
                                   stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    run = MakeRun(process, port, tmp_path / "var", log_path)
    try:
        deadline = time.monotonic() + 120
        while "Capytale tourne sur" not in log_path.read_text():
            assert process.poll() is None and time.monotonic() < deadline, run.log()
            time.sleep(0.5)
        run.tree()
        yield run
    finally:
        if process.poll() is None:
            run.tree()
            process.send_signal(signal.SIGINT)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(60)
        kill_left(run.seen)
        if process.poll() is None:
            process.kill()
        process.wait()
        with contextlib.suppress(Exception):  # the node's queue and the exchange of this run's namespace
            settings = load("router", environ={name: value for name, value in env.items()
                                               if name.startswith("CAPYTALE_")})
            delete_topology(settings["AMQP_URL"], Topology(env["CAPYTALE_AMQP_NAMESPACE"]), 1)


def open_notebook_with_a_kernel(run: MakeRun, tmp_path: Path) -> tuple[str, Kernel]:
    """A teacher shares a notebook, a student opens it and runs a cell: the student's key and kernel."""
    teacher = Browser(run.url, "prof", f"http://{{key}}.nb.localhost:{run.port}").login("prof.hardkill", "teacher")
    notebook = tmp_path / "calcul.ipynb"
    notebook.write_text(json.dumps(NOTEBOOK))
    shared = teacher.upload(notebook, "Calcul")
    assert shared.status_code == 201, shared.text
    student = Browser(run.url, "eleve", f"http://{{key}}.nb.localhost:{run.port}").login("eleve.hardkill", "student")
    link = student.open_share(urllib.parse.urlsplit(shared.json()["share_url"]).path)
    assert student.enter(link).status_code == 200
    kernel = student.kernel(link)
    assert kernel.execute("print(6 * 7)").printed.strip() == "42"
    return link.key, kernel


def test_make_run_killed_hard_takes_every_process_it_started_with_it(tmp_path):
    with make_run(tmp_path) as run:
        key, kernel = open_notebook_with_a_kernel(run, tmp_path)
        try:
            before = run.tree()
            server = run.server_pid(key)
            kernels = procfs.descendants(server)
            assert server in before and kernels and set(kernels) <= set(before), describe(before)
            commands = describe(before)
            for part in ("gunicorn", "chp.mjs", "-m services.spawner", "services.spawner.zygote", "haproxy"):
                assert part in commands, f"no {part} in the tree:\n{commands}"

            os.kill(run.process.pid, signal.SIGKILL)
            run.process.wait()
            left = wait_gone(before, 20)
            assert not left, f"still running 20 s after the kill -9 of make run:\n{describe(left)}\n{run.log()}"
        finally:
            kernel.conn.close()


def test_a_students_server_and_each_process_of_make_run_stop_on_sigterm(tmp_path):
    with make_run(tmp_path) as run:
        key, kernel = open_notebook_with_a_kernel(run, tmp_path)
        try:
            server = run.server_pid(key)
            run.tree()
            its_kernels = {pid: procfs.start_time(pid) for pid in procfs.descendants(server)}
            assert its_kernels
            os.kill(server, signal.SIGTERM)
            left = wait_gone({server: run.seen[server], **its_kernels}, 15)
            assert not left, f"the student's server ignored SIGTERM:\n{describe(left)}"
        finally:
            kernel.conn.close()

        below = {pid: started for pid, started in run.tree().items() if pid != run.process.pid}
        for child in procfs.children_map().get(run.process.pid, []):  # gunicorns, CHP, the spawner, HAProxy
            os.kill(child, signal.SIGTERM)
        left = wait_gone(below, 20)
        assert not left, f"still running 20 s after SIGTERM:\n{describe(left)}"

        run.process.send_signal(signal.SIGINT)  # Ctrl-C: make run stops cleanly what is no longer there
        assert run.process.wait(60) == 0, run.log()

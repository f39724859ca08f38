"""A child of the supervisor dies with it, even killed hard, and stops on the usual signals whatever it inherited."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from capytale import parent_death
from capytale.stack.processes import Process, Supervisor
from services.spawner import procfs

pytestmark = pytest.mark.skipif(not parent_death.SUPPORTED, reason="Linux's parent-death signal only")

ROOT = Path(__file__).resolve().parents[2]


def gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` ends within ``timeout`` seconds (a zombie counts as ended)."""
    deadline = time.monotonic() + timeout
    while procfs.start_time(pid) is not None:
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def ignored_signals(status: str) -> set[int]:
    mask = int(next(line.split()[1] for line in status.splitlines() if line.startswith("SigIgn:")), 16)
    return {signum for signum in range(1, 65) if mask & (1 << (signum - 1))}


def test_a_supervised_process_ends_when_the_supervisor_is_killed_hard():
    script = textwrap.dedent("""
        import time
        from capytale.stack.processes import Process, Supervisor
        supervisor = Supervisor()
        started = supervisor.start(Process("sleeper", ["sleep", "60"], {"PATH": "/usr/bin:/bin"}))
        print(started.pid, flush=True)
        time.sleep(60)
    """)
    supervisor = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    child = 0
    try:
        child = int(supervisor.stdout.readline())
        assert procfs.parent_pid(child) == supervisor.pid
        supervisor.kill()
        supervisor.wait()
        assert gone(child, 5), "the sleeper outlived its supervisor"
    finally:
        kill(supervisor.pid)
        supervisor.wait()
        if child:
            kill(child)
        supervisor.stdout.close()


def test_a_process_started_from_a_thread_that_ends_keeps_running():
    """The parent-death signal comes when the thread that forked ends: the supervisor forks from one that lasts."""
    supervisor = Supervisor(terminal=open(os.devnull, "w"))
    started: list[Process] = []

    def start_then_end() -> None:
        started.append(supervisor.start(Process("sleeper", ["sleep", "30"], {"PATH": "/usr/bin:/bin"})))
        time.sleep(1)  # ends once the sleeper has asked for the signal

    thread = threading.Thread(target=start_then_end)
    thread.start()
    thread.join()
    try:
        time.sleep(0.5)
        assert started[0].popen.poll() is None, "the sleeper ended with the thread that started it"
    finally:
        supervisor.stop_all()
        supervisor.terminal.close()


def test_the_program_gets_the_default_action_of_the_stop_signals_whatever_its_parent_ignored():
    # sh ignores INT and TERM (as a script's background job, or nohup, would), then starts the program
    argv = parent_death.command(["cat", "/proc/self/status"])
    argv[argv.index(str(os.getpid()))] = "$$"  # the expected parent: the shell
    wrapped = " ".join(argv)
    shell = subprocess.run(["sh", "-c", f"trap '' INT TERM QUIT HUP; {wrapped}; true"], capture_output=True,
                           text=True, timeout=10)
    assert shell.returncode == 0, shell.stderr
    ignored = ignored_signals(shell.stdout)
    assert not ignored & {signal.SIGINT, signal.SIGTERM, signal.SIGQUIT, signal.SIGHUP, signal.SIGPIPE}, ignored


def test_a_program_whose_parent_died_before_the_setting_never_runs(tmp_path):
    """The race: the parent ended between the fork and prctl; no signal would ever come."""
    marker = tmp_path / "ran"
    argv = parent_death.command(["touch", str(marker)])
    argv[argv.index(str(os.getpid()))] = "1"  # "the parent was pid 1": not this child's parent
    finished = subprocess.run(argv, capture_output=True, timeout=10)
    assert finished.returncode == 128 + signal.SIGTERM
    assert not marker.exists()

"""Start processes, wait until they are ready, and stop exactly those, by pid.

Each process starts in a session of its own, so stopping it also stops what it
forked (gunicorn's workers, the spawner's zygote) and nothing else. Each also
gets SIGTERM from the kernel when the supervisor's process ends, even killed
hard (:mod:`capytale.parent_death`), and stops as it would on Ctrl-C: nothing
outlives a ``make run`` killed with SIGKILL. Output is either prefixed and
written to the terminal (``make run``) or kept in one file a process (tests,
benchmark).
"""
from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, TextIO

import requests

from capytale import parent_death

Ready = Callable[[], bool]


class StartFailed(Exception):
    """A process exited, or did not become ready in time; the message says which."""


def http_ready(url: str, expect: int | tuple[int, ...] = 200) -> Ready:
    accepted = (expect,) if isinstance(expect, int) else expect

    def check() -> bool:
        try:
            return requests.get(url, timeout=1, allow_redirects=False).status_code in accepted
        except requests.RequestException:
            return False

    return check


def tcp_ready(port: int, host: str = "127.0.0.1") -> Ready:
    def check() -> bool:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            return sock.connect_ex((host, port)) == 0

    return check


def _ephemeral_ports() -> range:
    """The ports Linux gives outgoing connections (``ip_local_port_range``)."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        low, high = 32768, 60999
    return range(low, high + 1)


_handed_out: set[int] = set()
_handed_out_lock = threading.Lock()


def free_port() -> int:
    """A loopback port nothing listens on, for a process to bind a moment later.

    Never one of the ephemeral range: any outgoing connection of the machine can take such a
    port between this choice and the bind (seen: a private broker's distribution port taken
    under a test suite's load), and none of the ports already handed out by this process."""
    ephemeral = _ephemeral_ports()
    candidates = [port for port in range(10000, 65536) if port not in ephemeral]
    rng = random.SystemRandom()
    with _handed_out_lock:
        for _ in range(200):
            port = rng.choice(candidates)
            if port in _handed_out:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("127.0.0.1", port))
                except OSError:
                    continue
            _handed_out.add(port)
            return port
    raise RuntimeError(f"no free port outside the ephemeral range {ephemeral.start}-{ephemeral.stop - 1}")


@dataclass
class Process:
    name: str
    argv: list[str]
    env: dict[str, str]
    ready: Ready | None = None
    log_line: Callable[[str], bool] | None = None  # ready when a line of output says so
    popen: subprocess.Popen | None = None
    log_path: Path | None = None
    _saw_ready_line: threading.Event = field(default_factory=threading.Event)

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def is_ready(self) -> bool:
        if self.log_line is not None and not self._saw_ready_line.is_set():
            return False
        return self.ready() if self.ready is not None else True


class Supervisor:
    """The processes of one platform, in start order."""

    def __init__(self, log_dir: Path | None = None, terminal: TextIO | None = None):
        self.log_dir = log_dir
        self.terminal = terminal if terminal is not None else sys.stdout
        self.processes: list[Process] = []
        self._write_lock = threading.Lock()
        # The parent-death signal comes when the *thread* that forked ends: a process started from
        # another thread than the main one (which lives as long as the process) is forked by this
        # one, which lives as long as the supervisor.
        self._forker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="supervisor-fork")

    def start(self, process: Process) -> Process:
        """Start ``process``; it gets SIGTERM when this process ends, however it ends."""
        if threading.current_thread() is threading.main_thread():
            process.popen = self._popen(process)
        else:
            process.popen = self._forker.submit(self._popen, process).result()
        self.processes.append(process)
        sink: TextIO | None = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            process.log_path = self.log_dir / f"{process.name}.log"
            sink = process.log_path.open("a", encoding="utf-8")
        threading.Thread(target=self._pump, args=(process, sink), name=f"log-{process.name}", daemon=True).start()
        return process

    @staticmethod
    def _popen(process: Process) -> subprocess.Popen:
        return subprocess.Popen(
            parent_death.command(process.argv, signal.SIGTERM), env=process.env, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True, bufsize=1, text=True,
            errors="replace",
        )

    def _pump(self, process: Process, sink: TextIO | None) -> None:
        assert process.popen is not None and process.popen.stdout is not None
        for line in process.popen.stdout:
            if process.log_line is not None and process.log_line(line):
                process._saw_ready_line.set()
            if sink is not None:
                sink.write(line)
                sink.flush()
            else:
                with self._write_lock:
                    self.terminal.write(f"{process.name:>12} | {line}")
                    self.terminal.flush()
        process.popen.stdout.close()
        if sink is not None:
            sink.close()

    def wait_ready(self, processes: list[Process], timeout: float) -> None:
        deadline = time.monotonic() + timeout
        waiting = list(processes)
        while waiting:
            for process in list(waiting):
                if process.popen.poll() is not None:
                    raise StartFailed(f"{process.name} exited with code {process.popen.returncode}"
                                      + self._tail(process))
                if process.is_ready():
                    waiting.remove(process)
            if waiting and time.monotonic() > deadline:
                names = ", ".join(p.name for p in waiting)
                raise StartFailed(f"not ready after {timeout:.0f}s: {names}" + self._tail(waiting[0]))
            if waiting:
                time.sleep(0.05)

    def stop(self, process: Process, timeout: float = 10.0) -> None:
        """TERM, then KILL, to the process's own session."""
        if process.popen is None or process.popen.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(process.pid, sig)
            except ProcessLookupError:
                return
            try:
                process.popen.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # the session may still hold children that outlived their parent
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for process in reversed(self.processes):
            self.stop(process)

    def _tail(self, process: Process, lines: int = 30) -> str:
        if process.log_path is None or not process.log_path.exists():
            return ""
        text = process.log_path.read_text(errors="replace").splitlines()[-lines:]
        return "\n--- last lines of " + process.name + " ---\n" + "\n".join(text)

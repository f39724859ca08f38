"""Debian's OCaml toplevel (``ocaml``, package ``ocaml-nox``) run as a child and driven cell by cell.

The toplevel is not driven through its prompt: ``ocaml_toplevel.ml`` (loaded with ``-init``) says why
and defines the protocol.  In short, for each cell the kernel writes the cell to a file, sends
``let () = Capytale_kernel.run ();;`` on a command pipe, and reads both stdout and stderr until the
END marker made of its random token; what comes before the marker is the program's output (streamed
as it comes), what follows it on stdout is the toplevel's answers and the cell's error.  The markers
go on both streams so that nothing the program wrote is still in a pipe when the cell is over.

The child runs in a session of its own: an interrupt reaches it once, from :meth:`Toplevel.interrupt`
(as SIGINT to its process group, so that a ``Sys.command`` it runs is stopped too), never twice
through Jupyter's signal to the kernel's group.  Being in its own session it would outlive a kernel
killed by Jupyter, so it is also made to die with its parent (``PR_SET_PDEATHSIG``).
"""
from __future__ import annotations

import codecs
import ctypes
import os
import re
import secrets
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

INIT_FILE = Path(__file__).with_name("ocaml_toplevel.ml")

# ``ocaml`` from PATH, unless the environment names one (tests, or an académie's own build).
EXECUTABLE_VARIABLE = "CAPYTALE_OCAML"

STARTUP_TIMEOUT = 30.0  # seconds for the toplevel to load the init file and say hello

RUN_COMMAND = b"let () = Capytale_kernel.run ();;\n"
HELLO_COMMAND = b"let () = Capytale_kernel.hello ();;\n"

OutputCallback = Callable[[str, str], None]  # (stream name, text): "stdout" or "stderr"


class ToplevelError(RuntimeError):
    """The toplevel could not be started, or stopped while a cell ran."""


@dataclass(frozen=True)
class CellOutcome:
    """What the toplevel said about a cell, once its output has been streamed."""

    succeeded: bool
    answers: str  # "val fact : int -> int = <fun>\n"…, of every phrase that ran
    error: str  # the toplevel's message for the phrase that failed ("" when succeeded)


def find_executable() -> str | None:
    return os.environ.get(EXECUTABLE_VARIABLE) or shutil.which("ocaml")


class _Stream:
    """One of the child's output pipes, cut at the markers of the cell being run.

    Works on bytes (the markers and the cell's path are bytes) and decodes what it passes on
    incrementally, so that a UTF-8 character split between two reads arrives whole.
    """

    def __init__(self, name: str, begin: bytes, end: bytes, cell_path: bytes):
        self.name = name
        self.begin = begin
        self.end = end
        # The toplevel names the cell's file in warnings; the student knows only the cell:
        # 'File "/tmp/…/cell.ml", line 3, characters…' becomes 'Line 3, characters…'.
        self.file_prefix = b'File "' + cell_path + b'", l'
        self.pending = b""
        self.skipped = b""  # what came before BEGIN, kept (its end) to say why a toplevel failed
        self.started = False
        self.ended = False
        self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

    def reset(self) -> None:
        """Before a cell: what is left from the previous one (a late "Interrupted.") is dropped at BEGIN."""
        self.started = False
        self.ended = False
        self.skipped = b""
        self.decoder.reset()

    def feed(self, data: bytes, emit: OutputCallback) -> None:
        self.pending += data
        if not self.started:
            index = self.pending.find(self.begin)
            if index < 0:
                cut = max(len(self.pending) - len(self.begin), 0)
                self.skipped = (self.skipped + self.pending[:cut])[-4096:]
                self.pending = self.pending[cut:]
                return
            self.skipped = (self.skipped + self.pending[:index])[-4096:]
            self.pending = self.pending[index + len(self.begin):]
            self.started = True
        if self.ended:
            return
        index = self.pending.find(self.end)
        if index >= 0:
            body, self.pending = self.pending[:index], self.pending[index + len(self.end):]
            self._emit(self.rewrite(body), emit, final=True)
            self.ended = True
            return
        body = self.rewrite(self.pending)
        keep = max(_partial_suffix(body, self.end), _partial_suffix(body, self.file_prefix))
        self.pending = body[len(body) - keep:] if keep else b""
        self._emit(body[:len(body) - keep], emit, final=False)

    def rewrite(self, data: bytes) -> bytes:
        return data.replace(self.file_prefix, b"L")

    def _emit(self, data: bytes, emit: OutputCallback, final: bool) -> None:
        text = self.decoder.decode(data, final=final)
        if text:
            emit(self.name, text)


def _partial_suffix(data: bytes, needle: bytes) -> int:
    """The length of the longest end of ``data`` that begins ``needle`` (held back until more comes)."""
    for length in range(min(len(needle) - 1, len(data)), 0, -1):
        if data.endswith(needle[:length]):
            return length
    return 0


_REPLY_HEADER = re.compile(rb"(ok|error) (\d+) (\d+)\n")


class Toplevel:
    """One OCaml toplevel whose state (the student's definitions) lives as long as it does."""

    def __init__(self, cwd: str | None = None, executable: str | None = None):
        self.cwd = cwd
        self.executable = executable or find_executable()
        self.version = ""
        self.process: subprocess.Popen[bytes] | None = None
        self._commands: int | None = None
        self._workdir: Path | None = None
        self._streams: dict[int, _Stream] = {}

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> str:
        """Start the toplevel and wait until it is ready; returns OCaml's version."""
        if self.executable is None:
            raise ToplevelError(
                "OCaml n'est pas installé dans cet environnement (paquet Debian ocaml-nox).")
        self._workdir = Path(tempfile.mkdtemp(prefix="capytale-ocaml-"))
        cell_path = self._workdir / "cell.ml"
        token = secrets.token_hex(16)
        read_end, self._commands = os.pipe()
        env = dict(os.environ, CAPYTALE_OCAML_TOKEN=token, CAPYTALE_OCAML_CELL=str(cell_path),
                   CAPYTALE_OCAML_COMMAND_FD=str(read_end))
        try:
            self.process = subprocess.Popen(
                [self.executable, "-noprompt", "-nopromptcont", "-no-version", "-color", "never",
                 "-init", str(INIT_FILE)],
                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(read_end,), env=env, cwd=self.cwd,
                start_new_session=True, preexec_fn=_die_with_parent)
        except OSError as exc:
            raise ToplevelError(f"cannot start {self.executable}: {exc}") from exc
        finally:
            os.close(read_end)
        begin, end = f"\x02{token}\x02".encode(), f"\x03{token}\x03".encode()
        path = os.fsencode(cell_path)
        assert self.process.stdout is not None and self.process.stderr is not None
        self._streams = {
            self.process.stdout.fileno(): _Stream("stdout", begin, end, path),
            self.process.stderr.fileno(): _Stream("stderr", begin, end, path),
        }
        for fd in self._streams:
            os.set_blocking(fd, False)
        outcome = self._exchange(HELLO_COMMAND, lambda _name, _text: None, timeout=STARTUP_TIMEOUT)
        self.version = outcome.answers.strip()
        return self.version

    def run(self, code: str, emit: OutputCallback) -> CellOutcome:
        """Run one cell: its output goes to ``emit`` as it comes; returns once the toplevel is done.

        A KeyboardInterrupt (Jupyter's interrupt, delivered to the kernel) while the cell runs is
        passed on to the toplevel, and the cell then ends as "Interrupted.".
        """
        if not self.alive:
            raise ToplevelError("the OCaml toplevel is not running")
        assert self._workdir is not None
        (self._workdir / "cell.ml").write_text(code, encoding="utf-8")
        return self._exchange(RUN_COMMAND, emit, timeout=None)

    def interrupt(self) -> None:
        if self.alive:
            assert self.process is not None
            try:
                os.killpg(self.process.pid, signal.SIGINT)
            except ProcessLookupError:
                pass

    def stop(self) -> None:
        """Stop the toplevel (and whatever it started) now: it has nothing to save."""
        if self._commands is not None:
            os.close(self._commands)
            self._commands = None
        if self.process is not None:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.process.wait()
            for pipe in (self.process.stdout, self.process.stderr):
                if pipe is not None:
                    pipe.close()
            self.process = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def _exchange(self, command: bytes, emit: OutputCallback, timeout: float | None) -> CellOutcome:
        for stream in self._streams.values():
            stream.reset()
        try:
            assert self._commands is not None
            os.write(self._commands, command)
        except OSError as exc:
            raise ToplevelError(self._death_notice()) from exc
        with selectors.DefaultSelector() as selector:
            for fd in self._streams:
                selector.register(fd, selectors.EVENT_READ)
            while True:
                try:
                    outcome = self._reply()
                    if outcome is not None:
                        return outcome
                    ready = selector.select(timeout)
                    if not ready:
                        raise ToplevelError(f"the OCaml toplevel did not answer within {timeout:.0f} s"
                                            + self._last_words())
                    for key, _events in ready:
                        data = os.read(key.fd, 65536)
                        if not data:
                            raise ToplevelError(self._death_notice())
                        self._streams[key.fd].feed(data, emit)
                except KeyboardInterrupt:
                    self.interrupt()

    def _reply(self) -> CellOutcome | None:
        """The outcome, once both streams have reached END and stdout's reply is complete."""
        if not all(stream.ended for stream in self._streams.values()):
            return None
        assert self.process is not None and self.process.stdout is not None
        stdout = self._streams[self.process.stdout.fileno()]
        header = _REPLY_HEADER.match(stdout.pending)
        if header is None:
            return None
        start = header.end()
        answers_end = start + int(header[2])
        error_end = answers_end + int(header[3])
        if len(stdout.pending) < error_end:
            return None
        answers = stdout.pending[start:answers_end]
        error = stdout.pending[answers_end:error_end]
        stdout.pending = stdout.pending[error_end:]
        return CellOutcome(succeeded=header[1] == b"ok",
                           answers=stdout.rewrite(answers).decode(errors="replace"),
                           error=stdout.rewrite(error).decode(errors="replace"))

    def _death_notice(self) -> str:
        code = None
        if self.process is not None:
            try:
                code = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        return f"the OCaml toplevel stopped (exit code {code})" + self._last_words()

    def _last_words(self) -> str:
        """What the toplevel printed outside any cell (an error in the init file, say)."""
        said = b"".join(stream.skipped + (b"" if stream.started else stream.pending)
                        for stream in self._streams.values()).decode(errors="replace").strip()
        return f":\n{said}" if said else ""


_PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    """In the child, before exec: be killed when the kernel dies (the kernel's process group is not ours)."""
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)

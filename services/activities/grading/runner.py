"""Running a notebook to grade it: a fresh kernel each time, and only how each cell ended comes back.

:class:`Runner` is the contract a backend fulfils: :meth:`Runner.run` executes every code cell of
the notebook it is given, in order, in a kernel started for this run alone, in a folder holding only
the activity's annex files, with the environment variables it is given (``CAPYTALE_SEED``), and
returns one :class:`CellRun` per cell: ``ok``, ``error`` (with the error's last line), ``timeout``
or ``not_run``.  No output comes back: what a cell printed is nobody's business, and a grading
decision never rests on what a student's code could print.  A run that could not happen at all (no
kernel) raises :class:`RunnerError`; a run that the student's code stopped (the kernel died, the
whole run took too long) returns what it reached, the rest ``not_run``.

:class:`LocalRunner` runs the kernel as a process of this machine, from the students' environment
(``CAPYTALE_STUDENTS_ENV``, the kernelspecs of ``capytale.stack.students_env``), under nbclient with a
timeout per cell (the cell is interrupted and fails; the run goes on) and one for the whole run (the
kernel is stopped).  Its kernel has the platform's rights and this machine's network, so it is for
one machine and the tests: shell escapes and URL fetches are taken out of Python cells first
(:mod:`.offline`), the kernel gets an empty environment of its own (no platform setting or secret, a
home in the run's folder, proxies that lead nowhere) — and production refuses it.  **Production
runs grading in a container**, as students' servers: :class:`~.docker_runner.DockerRunner`, the
same run driven from here, its kernel in a container of the notebook image (its students'
environment), ``--network none``, a read-only root filesystem, memory, CPU and process limits, only
the run's folder mounted.  Both are :class:`KernelRunner`: the folder, nbclient, the limits and
what comes back are one code; where the kernel lives is theirs.
"""
from __future__ import annotations

import abc
import asyncio
import logging
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError
from nbformat import NotebookNode

from capytale.errors import PlatformError
from services.activities.grading.offline import neutralised
from services.activities.grading.reading import as_notebook

log = logging.getLogger("capytale.activities.grading")

OK = "ok"
ERROR = "error"
TIMEOUT = "timeout"
NOT_RUN = "not_run"

TIMEOUT_NAME = "CapytaleTimeout"  # the error nbclient gives a cell it interrupted after its timeout
MAX_ERROR = 300
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


@dataclass(frozen=True)
class CellRun:
    """How one cell ended: its status, and for an error its last line (``AssertionError: …``)."""

    status: str
    error: str = ""

    @property
    def passed(self) -> bool:
        return self.status == OK


@dataclass(frozen=True)
class RunResult:
    """One :class:`CellRun` per cell of the notebook run; ``stopped`` says why the run ended early."""

    cells: tuple[CellRun, ...]
    stopped: str = ""  # "", "kernel_died" or "timeout"
    seconds: float = 0.0


class RunnerError(PlatformError):
    """The run could not happen (no kernel): nobody's answer is to blame, nothing is counted."""

    def __init__(self, log_message: str):
        super().__init__("La correction automatique n'a pas pu se lancer. Réessaie dans un moment.",
                         log_message=log_message, reason="grading_unavailable", status=503)


class Runner(abc.ABC):
    """Runs a notebook in a fresh, isolated kernel (see the module's docstring).  Backends override
    :meth:`run`."""

    @abc.abstractmethod
    def run(self, notebook: NotebookNode, files: Path | None = None,
            env: Mapping[str, str] | None = None) -> RunResult:
        """Execute ``notebook``'s code cells in order in a new kernel whose folder holds a copy of
        ``files`` (a folder, the activity's master version: its notebooks are left out) and whose
        environment holds ``env``; one :class:`CellRun` per cell, markdown cells ``not_run``."""
        raise NotImplementedError


def annex_copy(files: Path | None, destination: Path) -> None:
    """The annex files of ``files`` into ``destination``: no notebook (a teacher's holds the hidden tests),
    no link, no checkpoint folder."""
    if files is None:
        return

    def left_out(folder: str, names: list[str]) -> set[str]:
        return {name for name in names if name.endswith(".ipynb") or name == ".ipynb_checkpoints"
                or os.path.islink(os.path.join(folder, name))}

    shutil.copytree(files, destination, ignore=left_out, dirs_exist_ok=True)


def error_line(ename: str, evalue: str) -> str:
    """The last line of a traceback, ``Name: first line of the value``, no terminal colours, not too long."""
    first = next((line for line in str(evalue).splitlines() if line.strip()), "")
    line = f"{ename}: {first}" if first else str(ename)
    return _ANSI.sub("", line)[:MAX_ERROR]


class KernelRunner(Runner):
    """A run driven here by nbclient, in a run's folder of its own (``<tmp>/run/``: ``activite/``, the
    kernel's working folder with the annex files, and the kernel's sockets); subclasses say where the
    kernel lives (:meth:`_manager`, :meth:`_environment`, :meth:`_kill`)."""

    run_root: str | None = None  # where the runs' temporary folders are made (None: the system's)

    def __init__(self, cell_timeout: float = 30.0, timeout: float = 180.0, kernel_name: str = "python3",
                 startup_timeout: float = 60.0):
        self.cell_timeout = cell_timeout
        self.timeout = timeout
        self.kernel_name = kernel_name
        self.startup_timeout = startup_timeout

    def run(self, notebook: NotebookNode, files: Path | None = None,
            env: Mapping[str, str] | None = None) -> RunResult:
        notebook = self._prepared(as_notebook(notebook))
        kernel = str((notebook.metadata.get("kernelspec") or {}).get("name") or self.kernel_name)
        if "/" in kernel or not self._has_kernel(kernel):
            raise RunnerError(f"no kernel {kernel!r} for {type(self).__name__}")
        with tempfile.TemporaryDirectory(prefix="capytale-grading-", dir=self.run_root) as folder:
            run_dir = Path(folder) / "run"
            work = run_dir / "activite"
            work.mkdir(parents=True)
            annex_copy(files, work)
            environment = self._environment(run_dir, env or {})
            return asyncio.run(self._run(notebook, kernel, self._manager(kernel, run_dir), run_dir, environment))

    def _prepared(self, notebook: NotebookNode) -> NotebookNode:
        """The notebook as it is sent to the kernel (the local runner takes the network out of it)."""
        return notebook

    @abc.abstractmethod
    def _has_kernel(self, kernel: str) -> bool:
        """Whether this runner has the kernel ``kernel``."""

    @abc.abstractmethod
    def _manager(self, kernel: str, run_dir: Path) -> AsyncKernelManager:
        """The kernel manager of this run: its sockets in ``run_dir`` (Unix sockets, the ``ipc`` transport)."""

    @abc.abstractmethod
    def _environment(self, run_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
        """The kernel's environment variables: nothing of the platform's, plus ``extra``."""

    @abc.abstractmethod
    def _kill(self, manager: AsyncKernelManager) -> None:
        """Kill the kernel and whatever it started, now (called from the run's event loop)."""

    async def _run(self, notebook: NotebookNode, kernel: str, manager: AsyncKernelManager, run_dir: Path,
                   env: dict[str, str]) -> RunResult:
        began = time.monotonic()
        runs = [CellRun(NOT_RUN)] * len(notebook.cells)
        running: list[int] = []

        def started(cell: NotebookNode, cell_index: int) -> None:
            running[:] = [cell_index]

        def executed(cell: NotebookNode, cell_index: int, execute_reply: dict[str, Any]) -> None:
            running.clear()
            content = execute_reply.get("content", {})
            if content.get("status") == "ok":
                runs[cell_index] = CellRun(OK)
            elif content.get("ename") == TIMEOUT_NAME:
                runs[cell_index] = CellRun(TIMEOUT, error_line("TimeoutError", content.get("evalue", "")))
            else:
                runs[cell_index] = CellRun(ERROR, error_line(content.get("ename", "Error"), content.get("evalue", "")))

        cell_timeout = max(1, round(self.cell_timeout))
        client = NotebookClient(
            notebook, km=manager, kernel_name=kernel, timeout=cell_timeout,
            startup_timeout=round(self.startup_timeout), allow_errors=True, interrupt_on_timeout=True,
            error_on_timeout={"ename": TIMEOUT_NAME, "evalue": f"la cellule a duré plus de {cell_timeout} s",
                              "traceback": []},
            record_timing=False, store_widget_state=False, skip_cells_with_tag="",
            resources={"metadata": {"path": str(run_dir / "activite")}}, on_cell_execute=started, on_cell_executed=executed)
        timed_out = False

        async def watchdog() -> None:  # the whole run's limit: the kernel is killed, nbclient sees it dead
            nonlocal timed_out
            await asyncio.sleep(self.timeout)
            timed_out = True
            self._kill(manager)

        stopped = ""
        limit = asyncio.ensure_future(watchdog())
        # the kernel's own output goes to the run's folder, not to the service's log: the student writes it
        kernel_log = (run_dir.parent / "kernel.log").open("wb")
        try:
            await client.async_execute(env=env, stdin=subprocess.DEVNULL, stdout=kernel_log, stderr=kernel_log)
        except DeadKernelError:
            stopped = "kernel_died"
        except Exception as exc:  # the kernel did not start, or nbclient failed
            log.warning("grading run stopped: %r", exc)
            stopped = "failed"
        finally:
            limit.cancel()
            await self._stop(manager, client)
            kernel_log.close()
        if stopped and timed_out:
            stopped = TIMEOUT
        elif stopped:
            tail = (run_dir.parent / "kernel.log").read_bytes()[-2000:] or self._output_tail(manager)
            log.warning("grading kernel %r stopped (%s); its last output: %r", kernel, stopped, tail)
        if stopped and not running and all(run.status == NOT_RUN for run in runs):
            # no student code ran: the kernel did not start (or answer) in time, nobody's answer is to blame
            raise RunnerError(f"grading kernel {kernel!r} did not run ({stopped})")
        if stopped and running:
            message = (f"TimeoutError: la correction a duré plus de {round(self.timeout)} s" if stopped == TIMEOUT
                       else "DeadKernelError: le noyau s'est arrêté pendant cette cellule")
            runs[running[0]] = CellRun(TIMEOUT if stopped == TIMEOUT else ERROR, message)
        return RunResult(cells=tuple(runs), stopped=stopped, seconds=time.monotonic() - began)

    def _output_tail(self, manager: AsyncKernelManager) -> bytes:
        """The end of what the kernel printed, where it does not go to the run's ``kernel.log``."""
        return b""

    async def _stop(self, manager: AsyncKernelManager, client: NotebookClient) -> None:
        """Kill the kernel, then let jupyter_client clean up after it."""
        self._kill(manager)
        if client.kc is not None:
            client.kc.stop_channels()
        try:
            if manager.has_kernel:
                await manager.shutdown_kernel(now=True)
        except Exception:
            log.exception("grading kernel clean-up failed")


class LocalRunner(KernelRunner):
    """The kernel as a local process of the students' environment (one machine and tests only)."""

    def __init__(self, students_env: Path | str, cell_timeout: float = 30.0, timeout: float = 180.0,
                 kernel_name: str = "python3", startup_timeout: float = 60.0):
        super().__init__(cell_timeout, timeout, kernel_name, startup_timeout)
        self.kernels_dir = Path(students_env) / "share" / "jupyter" / "kernels"

    @classmethod
    def from_settings(cls, settings: Mapping[str, Any]) -> LocalRunner:
        """The runner of activities' settings; refused in production, where nothing isolates it."""
        if settings.get("PRODUCTION"):
            raise RunnerError("the local grading runner isolates nothing and is refused in production: "
                              "grading needs a container runner (--network none)")
        if not settings.get("STUDENTS_ENV"):
            raise RunnerError("CAPYTALE_STUDENTS_ENV is empty: no students' environment to grade in")
        return cls(settings["STUDENTS_ENV"], settings["GRADING_CELL_TIMEOUT"], settings["GRADING_TIMEOUT"])

    def _prepared(self, notebook: NotebookNode) -> NotebookNode:
        kernel = str((notebook.metadata.get("kernelspec") or {}).get("name") or self.kernel_name)
        for cell in notebook.cells:
            if cell.cell_type == "code" and kernel == "python3":
                cell.source = neutralised(cell.source)
        return notebook

    def _has_kernel(self, kernel: str) -> bool:
        return (self.kernels_dir / kernel / "kernel.json").is_file()

    def _manager(self, kernel: str, run_dir: Path) -> AsyncKernelManager:
        specs = KernelSpecManager(kernel_dirs=[str(self.kernels_dir)], ensure_native_kernel=False)
        # Unix sockets in the run's folder rather than TCP ports of the loopback: nothing else on the machine
        # can reach the kernel, and the kernel needs no network to be driven
        return AsyncKernelManager(kernel_name=kernel, kernel_spec_manager=specs, transport="ipc",
                                  ip=str(run_dir / "kernel"), connection_file=str(run_dir / "kernel.json"))

    def _environment(self, run_dir: Path, extra: Mapping[str, str]) -> dict[str, str]:
        """What the kernel's process gets (the kernelspec adds PATH and VIRTUAL_ENV): nothing of ours."""
        home = run_dir.parent / "home"
        home.mkdir(exist_ok=True)
        nowhere = "http://127.0.0.1:9"  # the discard port: a library that honours proxies gets no answer
        return {
            "HOME": str(home), "TMPDIR": str(home), "LANG": "C.UTF-8", "PATH": "/usr/bin:/bin",
            "IPYTHONDIR": str(home / ".ipython"), "MPLCONFIGDIR": str(home / ".matplotlib"),
            "NBAUTOEVAL_LOG": str(home / ".nbautoeval"), "PYTHONDONTWRITEBYTECODE": "1",
            "http_proxy": nowhere, "https_proxy": nowhere, "HTTP_PROXY": nowhere, "HTTPS_PROXY": nowhere,
            "no_proxy": "", "NO_PROXY": "",
            **{key: str(value) for key, value in extra.items()},
        }

    def _kill(self, manager: AsyncKernelManager) -> None:
        """Kill the kernel and whatever it started: it leads a session of its own, and while it is not
        reaped its pid names nothing else."""
        process = getattr(getattr(manager, "provisioner", None), "process", None)
        if process is not None and process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

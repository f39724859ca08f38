"""The notebook image's second entry point: one kernel alone, no server, for a grading run.

The activities service's container runner (``services.activities.grading.docker_runner``) starts
a container of the image with ``python -m services.spawner.jupyter.grading_kernel <kernel>
<connection file> <seconds>``: the kernel of the students' environment named ``<kernel>``
(``python3``, ``ocaml``, ``sql``: its kernelspec in the image), its sockets where the connection
file says (the run's folder, the one read-write mount), for at most ``<seconds>``.

This process stays as the kernel's parent: it passes on the signals the engine sends (an
interrupt, a stop) and, at the deadline, kills the kernel, which ends the container even when
the service that drove the run is gone. The kernel, of the same user, may kill this process:
the container ends then too (its first process, tini, has no child left).

Kept to the standard library: it runs on whichever Python the image puts first on ``PATH``.
"""
from __future__ import annotations

import json
import os
import signal
import sys
import time
from pathlib import Path

from services.spawner.jupyter.container import STUDENTS_ENV

KERNELS = Path(STUDENTS_ENV) / "share" / "jupyter" / "kernels"
PASSED_ON = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def kernel_command(kernel: str, connection_file: str) -> tuple[list[str], dict[str, str]]:
    """The kernelspec's command line for ``connection_file``, and the environment it adds."""
    if not kernel or "/" in kernel or kernel.startswith("."):
        raise SystemExit(f"not a kernel name: {kernel!r}")
    spec = json.loads((KERNELS / kernel / "kernel.json").read_text())
    argv = [part.replace("{connection_file}", connection_file) for part in spec["argv"]]
    return argv, {key: str(value) for key, value in (spec.get("env") or {}).items()}


def main(argv: list[str] | None = None) -> int:
    kernel, connection_file, seconds = (argv if argv is not None else sys.argv[1:])[:3]
    command, extra_env = kernel_command(kernel, connection_file)
    deadline = time.monotonic() + float(seconds)
    # the kernel's sockets must be reachable by the service that drives it, another user: the run's
    # folder is the service's own, closed to everyone else on its host
    os.umask(0)
    child = os.fork()
    if child == 0:
        os.setsid()
        os.execve(command[0], command, {**os.environ, **extra_env})
    for signum in PASSED_ON:
        signal.signal(signum, lambda number, _frame: os.kill(child, number))
    while True:
        finished, status = os.waitpid(child, os.WNOHANG)
        if finished:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            try:
                os.killpg(child, signal.SIGKILL)
            except ProcessLookupError:
                pass
            os.waitpid(child, 0)
            return 124
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())

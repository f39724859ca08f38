"""A server's side of the kernels' zygote (:mod:`services.spawner.kernel_zygote`).

:func:`fork` asks the node's kernels' zygote for the kernel Jupyter was about to launch, and
returns it as :class:`ForkedKernel`, which stands where jupyter_client's provisioner keeps the
``Popen`` of a kernel it launched (poll, wait, signals): a forked kernel is not the server's
child, so it is followed through a pidfd, which also makes every signal reach that very process,
never a later one that took its pid. Its exit status is not the server's to read (its parent, the
zygote, reaps it): a kernel that ended reports ``returncode`` -1.
"""
from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import time
from typing import Mapping

FORK_TIMEOUT = 5.0
UNKNOWN_STATUS = -1


class Refused(RuntimeError):
    """The zygote does not fork this kernel (another kernelspec): it is launched as usual."""


class ForkedKernel:
    """The ``Popen``-like handle of a kernel forked by the zygote."""

    stdin = stdout = stderr = None

    def __init__(self, pid: int):
        self.pid = pid
        self.returncode: int | None = None
        try:
            self._pidfd: int | None = os.pidfd_open(pid)
        except ProcessLookupError:  # ended already
            self._pidfd = None
            self.returncode = UNKNOWN_STATUS

    def poll(self) -> int | None:
        if self.returncode is None and _readable(self._pidfd, 0):
            self._ended()
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        if self.returncode is None:
            if not _readable(self._pidfd, timeout):
                raise subprocess.TimeoutExpired(f"kernel {self.pid}", timeout)
            self._ended()
        return self.returncode

    def send_signal(self, signum: int) -> None:
        if self.poll() is None:
            signal.pidfd_send_signal(self._pidfd, signum)

    def terminate(self) -> None:
        self.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def _ended(self) -> None:
        self.returncode = UNKNOWN_STATUS
        if self._pidfd is not None:
            os.close(self._pidfd)
            self._pidfd = None

    def __del__(self) -> None:
        if getattr(self, "_pidfd", None) is not None:
            os.close(self._pidfd)


def _readable(fd: int | None, timeout: float | None) -> bool:
    """Whether the process of pidfd ``fd`` has ended, waiting up to ``timeout`` (None: for ever)."""
    if fd is None:
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    return bool(poller.poll(None if timeout is None else max(0, int(timeout * 1000))))


def fork(zygote_socket: str, argv: list[str], env: Mapping[str, str], cwd: str | None,
         timeout: float = FORK_TIMEOUT) -> ForkedKernel:
    """The kernel ``argv`` would have started, forked by the zygote listening at ``zygote_socket``; its
    output goes where this process's does, and without ``cwd`` it runs in this process's folder, as a
    kernel launched by Jupyter's would."""
    request = {"argv": list(argv), "env": {**env, "JPY_PARENT_PID": str(os.getpid())}, "cwd": cwd or os.getcwd()}
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as connection:
        connection.settimeout(timeout)
        connection.connect(zygote_socket)
        socket.send_fds(connection, [json.dumps(request).encode() + b"\n"], [1, 2])
        answer = b""
        while not answer.endswith(b"\n"):
            connection.settimeout(max(0.01, deadline - time.monotonic()))
            more = connection.recv(4096)
            if not more:
                raise ConnectionError("the kernels' zygote closed the connection without an answer")
            answer += more
    reply = json.loads(answer)
    if "pid" not in reply:
        raise (Refused if reply.get("refused") else RuntimeError)(reply.get("error") or f"unexpected reply {reply}")
    return ForkedKernel(int(reply["pid"]))

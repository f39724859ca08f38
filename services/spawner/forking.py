"""What both zygotes do around ``fork``, with the standard library only.

The servers' zygote (:mod:`.zygote`) and the kernels' zygote (:mod:`.kernel_zygote`) are
single-threaded processes that wait on a few sockets, fork children on request and reap them. The
kernels' zygote runs under the students' environment's interpreter, which has none of the platform's
modules: it loads this file by its path, which is why nothing here imports more than the standard
library.
"""
from __future__ import annotations

import os
import selectors
import signal


class Children:
    """A zygote's children: their ends wake its selector (SIGCHLD writes a pipe), :meth:`reap` collects them."""

    def __init__(self, selector: selectors.BaseSelector):
        self.selector = selector
        self.pids: set[int] = set()
        self._read, self._write = os.pipe()
        os.set_blocking(self._read, False)
        os.set_blocking(self._write, False)

    def watch(self) -> None:
        """From now on, a child's end wakes the selector (see :meth:`woke`)."""
        signal.set_wakeup_fd(self._write)
        signal.signal(signal.SIGCHLD, lambda _signum, _frame: None)  # a handler, so the wakeup fd is written
        self.selector.register(self._read, selectors.EVENT_READ)

    def woke(self, key: selectors.SelectorKey) -> bool:
        """Whether the selector's ``key`` is this wake-up (then :meth:`reap`)."""
        return key.fileobj == self._read

    def reap(self) -> list[tuple[int, int]]:
        """The children that have ended since the last call: (pid, wait status) each."""
        try:
            while os.read(self._read, 512):
                pass
        except BlockingIOError:
            pass
        ended = []
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            self.pids.discard(pid)
            ended.append((pid, status))
        return ended

    def leave_behind(self) -> None:
        """In a child just forked: none of the zygote's signal handling, selector or pipe."""
        signal.set_wakeup_fd(-1)
        for signum in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_DFL)
        self.selector.close()
        os.close(self._read)
        os.close(self._write)


# A kernel forked by the kernels' zygote is named after the server it serves: how the backend counts it
# as that server's (procfs.children_map), though its parent is the zygote.
FORKED_KERNEL_PREFIX = "kernel-"


def forked_kernel_name(server_pid: int) -> str:
    return f"{FORKED_KERNEL_PREFIX}{server_pid}"


def name_process(name: str) -> None:
    """The name ``ps -o comm`` and ``top`` show (the command line stays the zygote's); 15 bytes at most."""
    try:
        with open("/proc/self/comm", "w") as comm:
            comm.write(name[:15])
    except OSError:
        pass

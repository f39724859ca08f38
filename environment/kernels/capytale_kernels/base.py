"""What the OCaml and SQL kernels share on top of metakernel: how they shut down.

Jupyter restarts a kernel by stopping its process and starting a new one, so a kernel's shutdown
only has to let go of what it holds (a toplevel, a database): metakernel's in-process restart is not
used.  And ipykernel's control thread flushes sys.stdout and sys.stderr once the shutdown is answered,
through the IOPub thread that the main thread may be stopping at that very moment: the flush then
blocks (up to its 10 s timeout, or on the stopped thread's pipe), Jupyter kills the kernel after
2.5 s instead of seeing it exit, and a student's "restart" feels stuck.  There is nothing left to
send by then, so the kernel's last act is to put the process's own streams back in their place.
(The "idle" status published after the flush can still meet the same race, rarely: ipykernel's.)
"""
from __future__ import annotations

import sys
from typing import Any

from metakernel import MetaKernel


class CapytaleKernel(MetaKernel):
    def release(self) -> None:
        """Let go of the kernel's backend (the OCaml toplevel, the database); called at shutdown."""

    async def do_shutdown(self, restart: bool) -> dict[str, Any]:
        self.release()
        reply = await super().do_shutdown(False)  # saves the history, without metakernel's in-process restart
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
        return {**reply, "restart": restart}

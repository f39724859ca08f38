"""Students' processes yield the CPU to the platform's.

When a class arrives, dozens of servers and kernels start at once on a node; the platform's own
processes (the router, HAProxy's health checks of it, the spawner) must still answer within a second.
:func:`yield_cpu` gives a student's server or kernel the priority :data:`STUDENTS_NICE`.

On Linux with autogroup (the default of most distributions' kernels), the CPU is shared between
sessions first, whatever the nice of their processes, and each server and each kernel starts a session
of its own: the session's nice (``/proc/<pid>/autogroup``) is what counts there, the process's nice
elsewhere (and inside a container, whose cgroup's weight is what counts between containers). Both are
set; lowering one's own priority needs no privilege.  The cost on a node at rest: none.
"""
from __future__ import annotations

import contextlib
import os

STUDENTS_NICE = 10  # a tenth of the weight of a process at 0 (Linux's weights: 110 against 1024)


def yield_cpu(pid: int = 0) -> None:
    """Give process ``pid`` (0: this one) and its session the students' priority, where the system lets."""
    with contextlib.suppress(OSError):
        current = os.getpriority(os.PRIO_PROCESS, pid)
        if current < STUDENTS_NICE:
            os.setpriority(os.PRIO_PROCESS, pid, STUDENTS_NICE)
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid or 'self'}/autogroup", "w") as autogroup:
            autogroup.write(str(STUDENTS_NICE))

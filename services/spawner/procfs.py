"""What Linux's ``/proc`` says about a process: alive, since when, its children, its memory.

Used by the process backend (is this pid still the server we started, not a
recycled pid?) and by the heartbeat (how much memory do the servers and their
kernels hold?).
"""
from __future__ import annotations

import os
from pathlib import Path

from services.spawner.forking import FORKED_KERNEL_PREFIX

PROC = Path("/proc")
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[str, list[str]] | None:
    """The command name in ``/proc/<pid>/stat`` and the fields after it, or None when the process is gone."""
    try:
        raw = (PROC / str(pid) / "stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # the command name is in parentheses and may itself hold spaces or parentheses
    return raw[raw.index("(") + 1:raw.rindex(")")], raw[raw.rindex(")") + 2:].split()


def _stat_fields(pid: int) -> list[str] | None:
    """Fields of ``/proc/<pid>/stat`` after the command name, or None when the process is gone."""
    found = _stat(pid)
    return None if found is None else found[1]


def _boot_time() -> float:
    for line in (PROC / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise RuntimeError("/proc/stat has no btime")


BOOT_TIME = _boot_time()


def start_time(pid: int) -> float | None:
    """When process ``pid`` started (seconds since the epoch), None when it is gone or a zombie."""
    fields = _stat_fields(pid)
    if fields is None or fields[0] in ("Z", "X"):
        return None
    return BOOT_TIME + int(fields[19]) / CLOCK_TICKS  # field 22 of stat: starttime in clock ticks


def cpu_seconds(pid: int) -> float | None:
    """User and system CPU time process ``pid`` has used, in seconds; None when it is gone."""
    fields = _stat_fields(pid)
    if fields is None:
        return None
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # fields 14 and 15 of stat: utime, stime


def is_running(pid: int, started_by: float, slack: float = 2.0) -> bool:
    """Whether ``pid`` runs and was started no later than ``started_by`` (so it is not a recycled pid)."""
    started = start_time(pid)
    return started is not None and started <= started_by + slack


def parent_pid(pid: int) -> int | None:
    fields = _stat_fields(pid)
    return None if fields is None else int(fields[1])


def children_map() -> dict[int, list[int]]:
    """Parent pid → its children's pids, for every process now; a kernel forked for a server by the
    kernels' zygote counts as that server's child too (its name says which: ``kernel-<server pid>``)."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is None:
                continue
            name, fields = found
            children.setdefault(int(fields[1]), []).append(int(entry.name))
            served = name[len(FORKED_KERNEL_PREFIX):] if name.startswith(FORKED_KERNEL_PREFIX) else ""
            if served.isdigit():
                children.setdefault(int(served), []).append(int(entry.name))
    return children


def descendants(pid: int, children: dict[int, list[int]] | None = None) -> list[int]:
    """Every living process below ``pid`` (its kernels, forked ones too, their children…), nearest first.

    ``children`` (from :func:`children_map`) saves reading ``/proc`` again when asking for many pids.
    """
    children = children_map() if children is None else children
    found, queue = [], list(children.get(pid, []))
    while queue:
        child = queue.pop(0)
        if child not in found and child != pid:
            found.append(child)
            queue.extend(children.get(child, []))
    return found


def memory_bytes(pid: int) -> int:
    """Proportional set size of ``pid`` (its share of shared pages), falling back to RSS; 0 when gone."""
    try:
        for line in (PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        pass
    fields = _stat_fields(pid)
    return 0 if fields is None else int(fields[21]) * os.sysconf("SC_PAGE_SIZE")  # field 24: rss pages

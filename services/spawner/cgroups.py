"""How much memory and CPU time a container uses, as its control group counts them.

Read from the cgroup files of the Docker engine's host, which the agent sees
when it runs on that host (or with ``/sys/fs/cgroup`` mounted): cgroup v2 or
v1, cgroupfs or systemd driver.  Like ``docker stats``, the figure leaves out
the inactive page cache (file pages the kernel may drop at once).  None when no
file is found: the caller then asks the engine.
"""
from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def container_file(container_id: str, controller: str, v2_name: str, v1_name: str,
                   root: Path = CGROUP_ROOT) -> Path | None:
    """The container's ``v2_name`` (cgroup v2) or ``v1_name`` (in the v1 ``controller``), where it exists."""
    scope = f"docker-{container_id}.scope"
    candidates = (
        root / "system.slice" / scope / v2_name,  # v2, systemd driver
        root / "docker" / container_id / v2_name,  # v2, cgroupfs driver
        root / controller / "docker" / container_id / v1_name,  # v1, cgroupfs driver
        root / controller / "system.slice" / scope / v1_name,  # v1, systemd driver
    )
    return next((path for path in candidates if path.exists()), None)


def _stat_value(stat_file: Path, key: str) -> int:
    try:
        for line in stat_file.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def container_memory_bytes(container_id: str, root: Path = CGROUP_ROOT) -> int | None:
    """Memory the container's processes use now, without inactive page cache; None if not found here."""
    usage = container_file(container_id, "memory", "memory.current", "memory.usage_in_bytes", root)
    if usage is None:
        return None
    try:
        used = int(usage.read_text())
    except (OSError, ValueError):
        return None
    inactive = "inactive_file" if usage.name == "memory.current" else "total_inactive_file"
    return max(0, used - _stat_value(usage.with_name("memory.stat"), inactive))


def container_cpu_seconds(container_id: str, root: Path = CGROUP_ROOT) -> float | None:
    """CPU time the container's processes have used, in seconds; None if not found here."""
    stat = container_file(container_id, "cpuacct", "cpu.stat", "cpuacct.usage", root)
    if stat is None:
        return None
    if stat.name == "cpu.stat":
        return _stat_value(stat, "usage_usec") / 1e6
    try:
        return int(stat.read_text()) / 1e9  # v1: nanoseconds
    except (OSError, ValueError):
        return None


def oom_kills(container_id: str, root: Path = CGROUP_ROOT) -> int | None:
    """How many processes of the container the kernel killed for memory; None if unknown."""
    events = container_file(container_id, "memory", "memory.events", "memory.oom_control", root)
    return None if events is None else _stat_value(events, "oom_kill")


def process_count(container_id: str, root: Path = CGROUP_ROOT) -> int | None:
    """Processes and threads in the container now (what its process limit counts); None if unknown."""
    current = container_file(container_id, "pids", "pids.current", "pids.current", root)
    try:
        return None if current is None else int(current.read_text())
    except (OSError, ValueError):
        return None


def fork_refusals(container_id: str, root: Path = CGROUP_ROOT) -> int | None:
    """How many times the container's process limit refused a new process; None if unknown."""
    events = container_file(container_id, "pids", "pids.events", "pids.events", root)
    return None if events is None else _stat_value(events, "max")

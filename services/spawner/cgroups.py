"""How much memory a container uses, as its control group counts it.

Read from the cgroup files of the Docker engine's host, which the agent sees
when it runs on that host (or with ``/sys/fs/cgroup`` mounted): cgroup v2 or
v1, cgroupfs or systemd driver.  Like ``docker stats``, the figure leaves out
the inactive page cache (file pages the kernel may drop at once).  None when no
file is found: the caller then asks the engine.
"""
from __future__ import annotations

from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _places(container_id: str, root: Path) -> list[tuple[Path, str, str]]:
    """(folder, usage file, inactive-cache key of memory.stat) where each layout keeps the container."""
    scope = f"docker-{container_id}.scope"
    return [
        (root / "system.slice" / scope, "memory.current", "inactive_file"),  # v2, systemd driver
        (root / "docker" / container_id, "memory.current", "inactive_file"),  # v2, cgroupfs driver
        (root / "memory" / "docker" / container_id, "memory.usage_in_bytes", "total_inactive_file"),  # v1, cgroupfs
        (root / "memory" / "system.slice" / scope, "memory.usage_in_bytes", "total_inactive_file"),  # v1, systemd
    ]


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
    for folder, usage_name, inactive_key in _places(container_id, root):
        try:
            usage = int((folder / usage_name).read_text())
        except (OSError, ValueError):
            continue
        return max(0, usage - _stat_value(folder / "memory.stat", inactive_key))
    return None


def oom_kills(container_id: str, root: Path = CGROUP_ROOT) -> int | None:
    """How many processes of the container the kernel killed for memory (``oom_kill``); None if unknown."""
    for folder, _usage, _inactive in _places(container_id, root):
        for name in ("memory.events", "memory.oom_control"):  # v2, v1
            path = folder / name
            if path.exists():
                return _stat_value(path, "oom_kill")
    return None

"""Bind mounts of the host, for the docker backend's pool of warm containers.

A pooled container is started before its student is known, with one folder of the host,
its slot, mounted with ``rslave`` propagation: what the agent mounts under that folder later
(the student's workspace) appears inside the running container.  Docker accepts such a mount
only from a folder whose mount is shared (or a slave of a shared one); :func:`ensure_shared`
makes the slots' folder a mount of its own, shared, where the host's is private.

Linux's ``mount(2)`` and ``umount2(2)`` through ctypes: Python has no binding of its own, and
calling ``mount(8)`` for each student would cost a process each time. The agent needs
``CAP_SYS_ADMIN`` in the engine's mount namespace (root on the host, or a privileged
container whose run folder is mounted ``rshared``; docs/deploy.md).
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os
from pathlib import Path

MS_BIND = 4096
MS_SHARED = 1 << 20
MNT_DETACH = 2
UMOUNT_NOFOLLOW = 8

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
_libc.mount.argtypes = (ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_void_p)
_libc.umount2.argtypes = (ctypes.c_char_p, ctypes.c_int)


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")


def bind(source: Path, target: Path) -> None:
    """Mount the folder ``source`` at the folder ``target`` (neither may be a link)."""
    for path in (source, target):
        if Path(path).is_symlink() or not Path(path).is_dir():
            raise OSError(f"{path}: not a folder (a link is never mounted)")
    _check(_libc.mount(os.fsencode(source), os.fsencode(target), None, MS_BIND, None),
           f"mount --bind {source} {target}")


def unmount(target: Path) -> None:
    """Detach the mount at ``target`` (never following a link); nothing mounted there is fine."""
    if not is_mount_point(target):
        return
    _check(_libc.umount2(os.fsencode(target), MNT_DETACH | UMOUNT_NOFOLLOW), f"umount {target}")


def _mount_points() -> list[tuple[str, set[str]]]:
    """Each mount of this namespace: its mount point and its propagation fields."""
    mounts = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        parts = line.split()
        mount_point = parts[4].encode().decode("unicode_escape")  # \040 for a space
        mounts.append((mount_point, set(parts[6:parts.index("-")])))
    return mounts


def _within(path: str, folder: str) -> bool:
    """Whether the real path ``path`` is ``folder`` or inside it."""
    return path == folder or path.startswith(folder.rstrip("/") + "/")


def is_mount_point(path: Path) -> bool:
    """Whether something is mounted at ``path`` (a bind of the same filesystem, which
    ``os.path.ismount`` misses, included)."""
    real = os.path.realpath(path)
    return any(mount_point == real for mount_point, _ in _mount_points())


def mounts_under(folder: Path) -> list[Path]:
    """The mount points inside ``folder`` (itself included), the deepest first: the order to unmount them."""
    real = os.path.realpath(folder)
    inside = {point for point, _ in _mount_points() if _within(point, real)}
    return [Path(point) for point in sorted(inside, key=len, reverse=True)]


def unmount_all_under(folder: Path) -> None:
    """Detach every mount inside ``folder`` (itself included), the deepest first: what an agent killed
    before it could release its slots left mounted."""
    for mount_point in mounts_under(folder):
        unmount(mount_point)


def propagation(path: Path) -> set[str]:
    """The propagation fields of the mount holding ``path``: ``{"shared:N"}``, ``{"master:N"}``…,
    empty for a private mount (``/proc/self/mountinfo``, its optional fields)."""
    real = os.path.realpath(path)
    best, fields = "", set()
    for mount_point, propagated in _mount_points():
        if _within(real, mount_point) and len(mount_point) >= len(best):
            best, fields = mount_point, propagated
    return fields


def ensure_shared(folder: Path) -> None:
    """Make ``folder`` a mount whose new submounts propagate (Docker's ``rslave`` needs it): where it is
    not, ``folder`` is bound on itself first (undone with :func:`unmount` once nothing is mounted inside)."""
    if any(field.startswith("shared:") for field in propagation(folder)):  # a slave alone ("master:") sends nothing
        return
    if not is_mount_point(folder):
        bind(folder, folder)
    _check(_libc.mount(b"none", os.fsencode(folder), None, MS_SHARED, None), f"mount --make-shared {folder}")

"""A small disk of a test's own: a tmpfs mounted on a folder, filled until it refuses, freed again.

A tmpfs counts its space in pages: once :meth:`SmallDisk.fill` has written until the
kernel answered ENOSPC, not one byte more fits, and :meth:`SmallDisk.leave_free`
gives back an exact number of pages (what is free is checked, not assumed).  Folders,
links and renames need no page there: only file contents are refused.  Mounting needs
root; elsewhere the tests that need it are skipped with the reason.
"""
from __future__ import annotations

import contextlib
import errno
import os
import subprocess
import time
from pathlib import Path
from typing import Iterator

import pytest

PAGE = os.sysconf("SC_PAGE_SIZE")
CHUNK = 1 << 20
UNMOUNT_WAIT = 15.0  # seconds for the processes that used the disk to let go of it


class SmallDisk:
    def __init__(self, root: Path):
        self.root = root
        self.filler = root / "remplissage.bin"

    def free_bytes(self) -> int:
        stats = os.statvfs(self.root)
        return stats.f_bavail * stats.f_frsize

    def fill(self) -> None:
        """Write into the filler file until the disk refuses: afterwards, no file content fits."""
        descriptor = os.open(self.filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            zeros = bytes(CHUNK)
            while True:
                try:
                    os.write(descriptor, zeros)  # a short write fills the last page, the next one is refused
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
        finally:
            os.close(descriptor)
        assert self.free_bytes() == 0, f"{self.free_bytes()} bytes still free on {self.root}"

    def leave_free(self, pages: int) -> None:
        """Give back exactly ``pages`` pages of the filler (the disk was :meth:`fill`-ed)."""
        used = -(-self.filler.stat().st_size // PAGE)
        assert used >= pages, f"the filler holds {used} pages, {pages} asked"
        os.truncate(self.filler, (used - pages) * PAGE)
        assert self.free_bytes() == pages * PAGE, f"{self.free_bytes()} bytes free, {pages * PAGE} expected"

    def empty(self) -> None:
        """Remove the filler: the disk has its room back."""
        self.filler.unlink(missing_ok=True)

    @contextlib.contextmanager
    def full(self) -> Iterator["SmallDisk"]:
        """The disk full for the block, and emptied afterwards whatever happened."""
        try:
            self.fill()
            yield self
        finally:
            self.empty()


@contextlib.contextmanager
def small_disk(folder: Path, megabytes: int) -> Iterator[SmallDisk]:
    """A tmpfs of ``megabytes`` MiB on ``folder`` for the block, unmounted afterwards."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={megabytes}m,mode=0755", "tmpfs", str(folder)],
                             capture_output=True, text=True, timeout=30)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs on {folder}: {mounted.stderr.strip()} (root is needed)")
    try:
        yield SmallDisk(folder)
    finally:
        _unmount(folder)


def _unmount(folder: Path) -> None:
    deadline = time.monotonic() + UNMOUNT_WAIT
    while True:
        done = subprocess.run(["umount", str(folder)], capture_output=True, text=True, timeout=30)
        if done.returncode == 0:
            return
        if time.monotonic() > deadline:  # still busy: detached now, freed once its last user goes
            subprocess.run(["umount", "--lazy", str(folder)], capture_output=True, timeout=30, check=True)
            raise AssertionError(f"{folder} still in use {UNMOUNT_WAIT:.0f} s after the test: {done.stderr.strip()}")
        time.sleep(0.2)  # polling the unmount itself, bounded by the deadline

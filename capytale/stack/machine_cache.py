"""The folder where this machine's checkouts keep what their builds made, so that none makes it twice.

A clean clone (CI, a second checkout, a teacher trying the platform) would otherwise spend minutes
making again what another checkout of the same machine already has: the notebook image's root
filesystem (mmdebstrap), the students' environment and its wheels, the data root of the Docker engine
the tests start (where the image is).  Those live here, outside any checkout:

- ``$CAPYTALE_CACHE`` when set, else ``$XDG_CACHE_HOME/capytale``, else ``~/.cache/capytale``;
- each entry named by a digest of its inputs, so two checkouts at different commits share what is the
  same and keep apart what differs;
- each made aside and published last (a rename, or a folder's ``.complete`` file), under a file lock,
  so a build that was killed leaves nothing that looks whole;
- each touched when used; what no checkout used for :data:`UNUSED_DAYS` days is removed by the next
  build of its kind.

What belongs to one checkout stays in its ``.cache/`` (the CAS server's virtual environment).
"""
from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
import time
from pathlib import Path
from typing import Iterator

UNUSED_DAYS = 14


def root() -> Path:
    """The machine's cache folder (made when missing)."""
    chosen = os.environ.get("CAPYTALE_CACHE")
    if chosen:
        folder = Path(chosen)
    else:
        base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
        folder = Path(base) / "capytale"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def folder(name: str) -> Path:
    """A part of the cache (``wheels``, ``students-env``…), made when missing."""
    path = root() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


@contextlib.contextmanager
def lock(name: str) -> Iterator[None]:
    """Hold the machine-wide lock ``name`` (one build of a kind at a time, across checkouts)."""
    locks = folder("locks")
    with (locks / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def used(path: Path) -> Path:
    """Mark ``path`` as used now (its modification time), so the age-based clean-up spares it."""
    os.utime(path)
    return path


def forget_unused(parent: Path, keep: Path | None = None, days: float = UNUSED_DAYS) -> list[Path]:
    """Remove the entries of ``parent`` that nothing used for ``days`` days, ``keep`` excepted;
    returns what went."""
    limit = time.time() - days * 86400
    gone = []
    for entry in parent.iterdir():
        if entry == keep or entry.name.endswith(".lock"):
            continue
        try:
            if entry.stat().st_mtime >= limit:
                continue
        except FileNotFoundError:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        gone.append(entry)
    return gone

"""Files written whole: the new content goes to a hidden file beside the old one, is synced to disk,
then renamed over it in one step.

A reader (a student's page, a teacher's download, another worker, an agent reading its state) sees
the old file or the new one, never a part of one; a failure on the way (a full disk fails at the
sync at the latest) leaves the old file as it was and nothing beside it. The file is private until
it is renamed: created for its owner alone, given its final mode just before.

Standard library only: a student's server runs it too (the notebook image holds it).
"""
from __future__ import annotations

import contextlib
import os
import secrets
import stat
from typing import IO, Iterator

__all__ = ["replacing", "aside_name"]


def aside_name(path: str | os.PathLike) -> str:
    """Where the new content of ``path`` is written first: beside it, hidden (a dot, and ``~`` which
    Jupyter's file browser hides too), never the name of another writer's."""
    folder, name = os.path.split(os.fspath(path))
    return os.path.join(folder, f".~{name}.{secrets.token_hex(4)}.part")


@contextlib.contextmanager
def replacing(path: str | os.PathLike, *, text: bool = False, encoding: str = "utf-8", mode: int | None = None,
              owner: tuple[int, int] | None = None) -> Iterator[IO]:
    """A file to write the new content of ``path`` in; it replaces ``path`` whole when the block ends
    without error, and is removed otherwise (``path`` untouched). Text is written with Unix line ends.

    Its mode: ``mode``, else the old file's, else what a new file gets (0o666 less the umask). Its owner:
    ``owner`` (uid, gid) where this process may give it, else this process's.
    """
    path = os.fspath(path)
    aside = aside_name(path)
    descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        out = os.fdopen(descriptor, "w", encoding=encoding, newline="\n") if text else os.fdopen(descriptor, "wb")
        with out:
            yield out
            out.flush()
            os.fsync(out.fileno())
            if owner is not None:
                with contextlib.suppress(PermissionError):
                    os.fchown(out.fileno(), *owner)
            os.fchmod(out.fileno(), mode if mode is not None else _mode_for(path))
        os.replace(aside, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(aside)
        raise


def _mode_for(path: str) -> int:
    """The mode of the file at ``path`` (a link is followed), else a new file's."""
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
        return 0o666 & ~_umask()


def _umask() -> int:
    """This process's umask, read without changing it (``os.umask`` sets it, for every thread, meanwhile)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except OSError:
        pass
    return 0o022

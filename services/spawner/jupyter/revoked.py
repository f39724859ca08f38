"""The node's list of ended sessions: written by the agent, read by each student's server.

One file a node, ``<run root>/<node>/revocations/revoked`` (a container sees that folder
read-only at ``/capytale/revocations``), one line an ended session: ``<sid> <expiry>\\n``,
the expiry in unix seconds (the session would have ended then anyway).  The agent
appends a line when ``session.revoked`` arrives and now and then writes the file anew
without the expired lines (a new file renamed over the old one).  A server stats the file
when it checks a visitor and reads only what was appended since its last look (or the
whole file when it was replaced): a few microseconds a request.

The file holds only ids of sessions already ended, which open nothing: every server of
the node may read it.  Nothing here imports Jupyter: the agent writes with this module.
"""
from __future__ import annotations

import os
import re
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

from capytale.files import replacing

FILE_NAME = "revoked"
SID = re.compile(r"[A-Za-z0-9_-]{1,64}")


def encode(entries: Iterable[tuple[str, float]]) -> bytes:
    """The lines of ``entries`` (pairs sid, expiry); a sid that is not one is left out."""
    return b"".join(f"{sid} {int(exp)}\n".encode() for sid, exp in entries if SID.fullmatch(sid))


def parse(data: bytes) -> dict[str, float]:
    """sid → expiry of the complete lines of ``data``; a line that is not one is skipped."""
    found: dict[str, float] = {}
    for line in data.split(b"\n"):
        parts = line.split(b" ")
        if len(parts) == 2 and parts[1].isdigit():
            sid = parts[0].decode("ascii", "replace")
            if SID.fullmatch(sid):
                found[sid] = max(float(parts[1]), found.get(sid, 0.0))
    return found


class RevokedSessions:
    """What a server knows of the node's file: reread only when it changed (inode, size, mtime)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._until: dict[str, float] = {}
        self._seen: tuple[int, int, int] | None = None  # (inode, size, mtime) of the last look
        self._inode: int | None = None
        self._offset = 0  # bytes of complete lines read from that inode

    def __contains__(self, sid: object) -> bool:
        self.refresh()
        exp = self._until.get(sid) if isinstance(sid, str) else None
        return exp is not None and exp > time.time()

    def refresh(self) -> bool:
        """Read what the file gained since the last look; whether anything was read."""
        try:
            info = os.stat(self.path)
        except FileNotFoundError:
            return False  # not written yet (the agent is starting): what was read stays known
        seen = (info.st_ino, info.st_size, info.st_mtime_ns)
        if seen == self._seen:
            return False
        if info.st_ino != self._inode or info.st_size < self._offset:
            self._inode, self._offset = info.st_ino, 0  # replaced: read it whole (it holds every live line)
            now = time.time()
            self._until = {sid: exp for sid, exp in self._until.items() if exp > now}
        try:
            with open(self.path, "rb") as file:
                if os.fstat(file.fileno()).st_ino != self._inode:
                    return False  # replaced between stat and open: the next look reads the new one
                file.seek(self._offset)
                data = file.read()
        except FileNotFoundError:
            return False
        complete = data.rfind(b"\n") + 1  # a line being written is read once whole
        for sid, exp in parse(data[:complete]).items():
            self._until[sid] = max(exp, self._until.get(sid, 0.0))
        self._offset += complete
        self._seen = seen if complete == len(data) else None
        return complete > 0


class RevokedFile:
    """The agent's end: appends lines, replaces the file; readable by the node's servers (0644 in a 0755 folder)."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.path = self.folder / FILE_NAME
        self.lines = 0  # lines in the file as this writer made it (expired ones included)
        self._lock = threading.Lock()

    def create(self) -> "RevokedFile":
        self.folder.mkdir(parents=True, exist_ok=True)
        os.chmod(self.folder, 0o755)
        return self

    def read(self) -> dict[str, float]:
        """What the file holds now (a previous agent's revocations, at start)."""
        try:
            return parse(self.path.read_bytes())
        except FileNotFoundError:
            return {}

    def append(self, entries: Iterable[tuple[str, float]]) -> None:
        data = encode(entries)
        if not data:
            return
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
            try:
                view = memoryview(data)
                while view:
                    view = view[os.write(fd, view):]
            finally:
                os.close(fd)
            self.lines += data.count(b"\n")

    def replace(self, entries: Callable[[], Iterable[tuple[str, float]]]) -> None:
        """The file made anew with what ``entries()`` gives, asked under the writer's lock so that no line
        appended meanwhile is lost (atomically: a reader sees the old file or the new one)."""
        with self._lock:
            data = encode(entries())
            with replacing(self.path, mode=0o644) as file:  # read by the students' servers
                file.write(data)
            self.lines = data.count(b"\n")

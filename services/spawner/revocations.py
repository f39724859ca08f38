"""The node's list of ended sessions, kept by its agent for the node's servers.

Each student's server reads ``<run root>/<node>/revocations/revoked``
(:mod:`services.spawner.jupyter.revoked`) on the requests it answers and refuses a
grant or a cookie of a session listed there.  The agent keeps that file: at start it
takes what the file holds (a previous agent's list), follows ``session.revoked`` on its
own bus, and asks auth for the sessions ended while it was away
(:meth:`capytale.revocations.Watcher.load_from_auth`, again in the background until auth
answers); each revocation it learns is appended at once.  The reconcile loop writes the
file anew, without the expired lines, once they are the greater part of it.

The agent trusts no server: they only read the file (a container through a read-only
mount), and what a server does with it concerns that server's own student.
"""
from __future__ import annotations

import logging
import time
from pathlib import Path

from capytale.messaging import Bus, Topology
from capytale.revocations import Watcher
from services.spawner.jupyter.revoked import RevokedFile

log = logging.getLogger("capytale.spawner")

SLACK = 1024  # expired lines the file may hold beyond its live ones before it is written anew


class NodeRevocations:
    def __init__(self, bus: Bus, topology: Topology, folder: Path):
        self.file = RevokedFile(folder).create()
        self.watcher = Watcher("", topology, bus=bus)
        self.watcher.on_revoked(self.file.append)

    @property
    def revoked(self):
        return self.watcher.revoked

    def start(self) -> None:
        """Keep what a previous agent wrote, then ask auth for what happened meanwhile."""
        kept = [(sid, exp) for sid, exp in self.file.read().items() if exp > time.time()]
        self.watcher.revoked.add_all(kept)
        self.file.replace(self.watcher.revoked.items)
        log.info("%d ended session(s) kept from the node's revocations file", len(kept))
        self.watcher.load_from_auth()

    def compact(self) -> None:
        """Write the file anew when the expired lines outnumber the live ones (and the slack)."""
        if self.file.lines > 2 * len(self.watcher.revoked) + SLACK:
            self.file.replace(self.watcher.revoked.items)
            log.info("revocations file written anew: %d live session(s)", self.file.lines)

    def close(self) -> None:
        self.watcher.close()

"""One lock per user key, created on demand and dropped when nobody holds or waits for it.

Two ``server.ensure`` for the same student share one start: the second waits
on the student's lock, then finds the server the first one started.  Starts
for different students run side by side.
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator


class KeyedLocks:
    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}  # key → (lock, holders and waiters)

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        """Hold ``key``'s lock, waiting for it as long as it takes."""
        lock = self._enter(key)
        try:
            with lock:
                yield
        finally:
            self._leave(key)

    @contextmanager
    def try_hold(self, key: str) -> Iterator[bool]:
        """Hold ``key``'s lock if it is free now; yields whether it was."""
        lock = self._enter(key)
        acquired = lock.acquire(blocking=False)
        try:
            yield acquired
        finally:
            if acquired:
                lock.release()
            self._leave(key)

    def __len__(self) -> int:
        with self._guard:
            return len(self._locks)

    def _enter(self, key: str) -> threading.Lock:
        with self._guard:
            lock, users = self._locks.get(key, (None, 0))
            lock = lock or threading.Lock()
            self._locks[key] = (lock, users + 1)
            return lock

    def _leave(self, key: str) -> None:
        with self._guard:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)

"""The activities service's "now", for opening and closing times: the real clock, or one a test sets.

Opening times, closings and hand-ins read :func:`now`, never ``datetime.now``
directly, so that a test can move time: a unit test puts a callable in
``app.extensions["activities.clock"]``; the end-to-end tests, whose services run in
processes of their own, name a file with ``CAPYTALE_CLOCK_FILE`` and write an ISO 8601
moment in it (an empty or missing file: the real clock).  That setting is for tests
only: production refuses it (:mod:`capytale.settings`).
"""
from __future__ import annotations

import logging
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from flask import Flask, current_app

from services.activities.models import as_utc

log = logging.getLogger("capytale.activities")

Clock = Callable[[], datetime]


def real_clock() -> datetime:
    return datetime.now(timezone.utc)


class FileClock:
    """The moment written in ``path`` (ISO 8601, UTC when it names no offset); the real clock without one."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def __call__(self) -> datetime:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return real_clock()
        if not text:
            return real_clock()
        return as_utc(datetime.fromisoformat(text))


def init_app(app: Flask) -> None:
    """The real clock, or the test's file of ``CLOCK_FILE``."""
    path = app.config["CAPYTALE"].get("CLOCK_FILE", "")
    if path:
        log.warning("TEST clock: the time of openings and closings is read from %s (never in production)", path)
        app.extensions["activities.clock"] = FileClock(Path(path))
    else:
        app.extensions["activities.clock"] = real_clock


def now() -> datetime:
    """Now, in UTC, for the app handling this request (or the app of the current context)."""
    return current_app.extensions["activities.clock"]()

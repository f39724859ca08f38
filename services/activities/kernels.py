"""Which of the students' kernels an activity's notebook opens on.

The table of the students' environment (:mod:`capytale.kernels`, file
``CAPYTALE_KERNELS_FILE``) is read and checked when the service starts: a wrong
table stops it with a message naming the file and the table.  The kernel is
derived from the master notebook itself, never stored: at upload (the JSON
answer says it) and on the activity's page (which says when it is missing).
A student's copy is rewritten to name the kernel found (:mod:`protection`).
"""
from __future__ import annotations

import json
import logging

from flask import Flask, current_app

from capytale.kernels import KernelChoice, Kernels, KernelsError, load
from capytale.settings import PREFIX, SettingsError
from services.activities.models import MasterVersion
from services.activities.names import inside
from services.activities.storage import Storage

log = logging.getLogger("capytale.activities")


def init_app(app: Flask) -> None:
    """Give ``app`` the kernels table of its ``KERNELS_FILE``; a table that is wrong stops the service."""
    try:
        app.extensions["activities.kernels"] = load(app.config["CAPYTALE"]["KERNELS_FILE"])
    except KernelsError as exc:
        raise SettingsError(f"{PREFIX}KERNELS_FILE: {exc}") from None


def current() -> Kernels:
    """The kernels table of the app handling this request."""
    return current_app.extensions["activities.kernels"]


def kernel_of_master(storage: Storage, version: MasterVersion) -> KernelChoice | None:
    """The kernel the notebook of this master version opens on; None (logged) when it cannot be read."""
    path = inside(storage.master_dir(version.activity_id, version.number), version.notebook)
    try:
        notebook = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (OSError, ValueError) as exc:
        log.warning("kernel of %s unknown: %s", path, exc)
        return None
    return current().resolve(notebook.get("metadata") if isinstance(notebook, dict) else None)

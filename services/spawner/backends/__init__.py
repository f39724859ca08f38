"""Spawner backends: how a node runs its students' servers (see :mod:`.base` for the contract)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from capytale.settings import Settings, SettingsError
from services.spawner.backends.base import Backend, ServerHandle
from services.spawner.jupyter.spec import parse_extensions

if TYPE_CHECKING:
    from services.spawner.state import NodeDir

__all__ = ["Backend", "ServerHandle", "make_backend"]


def make_backend(settings: Settings, node_dir: NodeDir) -> Backend:
    """The backend ``CAPYTALE_SPAWNER_BACKEND`` names, configured from the spawner's settings."""
    name = settings["SPAWNER_BACKEND"]
    if name == "process":
        from services.spawner.backends.process import ProcessBackend

        return ProcessBackend(
            node_dir, grant_public_key=settings["GRANT_PUBLIC_KEY"],
            extensions=parse_extensions(settings["JUPYTER_EXTENSIONS"]),
            secure_cookies=settings["PUBLIC_URL"].startswith("https:"), log_level=settings["LOG_LEVEL"],
        )
    raise SettingsError(f"CAPYTALE_SPAWNER_BACKEND: unknown backend {name!r} (known: process)")

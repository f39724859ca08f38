"""Logging set up the same way in every process: one line per event, the service named."""
from __future__ import annotations

import logging
import sys

FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


def configure(service: str, level: str = "INFO") -> logging.Logger:
    root = logging.getLogger()
    if not any(getattr(h, "_capytale", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter(FORMAT, "%H:%M:%S"))
        handler._capytale = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(level.upper())
    # pika logs each failed connection attempt at ERROR, several lines a try; the bus
    # and the worker log one warning per lost connection instead.
    logging.getLogger("pika").setLevel(logging.CRITICAL)
    # Alembic names each plugin it loads at every start; the upgrades it runs stay (alembic.runtime.migration).
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)
    return logging.getLogger(f"capytale.{service}")

"""Alembic runs activities's revisions (``versions/``) through here, on the connection capytale.db.upgrade holds."""
from capytale.db import run_revisions

run_revisions()

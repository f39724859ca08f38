"""Where each student's server lives. Only the router reads this table.

It is made by the revisions in ``migrations/versions/``: a change here comes with a new revision.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import DateTime, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from capytale.db import Schema


class Base(DeclarativeBase):
    """The router's own metadata: its tables only."""


class Placement(Base):
    __tablename__ = "router_placements"

    user_key: Mapped[str] = mapped_column(String(32), primary_key=True)
    node: Mapped[int] = mapped_column(Integer)
    placed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))


SCHEMA = Schema("router", Base.metadata, Path(__file__).with_name("migrations"))

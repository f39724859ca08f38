"""Users as the ENT describes them. Only auth reads these tables.

They are made by the revisions in ``migrations/versions/``: a change here comes with a new revision.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from capytale.db import Schema


class Base(DeclarativeBase):
    """auth's own metadata: its tables only."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class User(Base):
    __tablename__ = "auth_users"

    uid: Mapped[str] = mapped_column(String(255), primary_key=True)  # CAS uid, NFC
    key: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    school: Mapped[str] = mapped_column(String(32), default="")
    classes: Mapped[str] = mapped_column(Text, default="")  # one per line
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)
    last_login: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now, onupdate=_now)


class ServiceTicket(Base):
    """Which session a CAS service ticket opened, so that the ENT's single logout can end it."""

    __tablename__ = "auth_service_tickets"

    ticket: Mapped[str] = mapped_column(String(255), primary_key=True)
    sid: Mapped[str] = mapped_column(String(64), index=True)
    uid: Mapped[str] = mapped_column(String(255))
    expires: Mapped[int] = mapped_column(Integer)  # unix time the session ends anyway
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


class RevokedSession(Base):
    """A session ended before its time (logout, the ENT's single logout), kept until it would have expired:
    what a service that starts asks for (services/auth/revoked.py)."""

    __tablename__ = "auth_revoked_sessions"

    sid: Mapped[str] = mapped_column(String(64), primary_key=True)
    expires: Mapped[int] = mapped_column(Integer, index=True)  # unix time the session ends anyway
    reason: Mapped[str] = mapped_column(String(32))  # "logout", "single_logout"
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=_now)


SCHEMA = Schema("auth", Base.metadata, Path(__file__).with_name("migrations"))

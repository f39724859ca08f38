"""Users as the ENT describes them. Only auth reads these tables."""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import DateTime, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


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

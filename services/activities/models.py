"""The activities service's tables: activities, their master versions, students' copies.

An activity has a time window (``opens_at``, ``closes_at``, what ``after_close``
does) and a grading scale; a copy has a state (``en_cours`` → ``rendue`` →
``corrigee``), the snapshot frozen when it was handed in and the teacher's
feedback (:mod:`services.activities.evaluation`).

Only this service reads these tables; they live on their own metadata, made by the
revisions in ``migrations/versions/`` (a change here comes with a new revision).
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from capytale.db import Schema


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def as_utc(moment: datetime) -> datetime:
    """``moment`` with its time zone: SQLite gives stored UTC datetimes back naive."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


def iso(moment: datetime) -> str:
    """ISO 8601 in UTC, to the second, as the JSON interface gives dates."""
    return as_utc(moment).isoformat(timespec="seconds")


class Base(DeclarativeBase):
    """activities' own metadata: its tables only."""


class Activity(Base):
    """A notebook (and its annex files) a teacher shares with one code."""

    __tablename__ = "activities"
    # ids are never reused (SQLite would reuse a rolled-back id): masters/<id>/ stays unique
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(16), unique=True)
    title: Mapped[str] = mapped_column(String(200))
    owner_uid: Mapped[str] = mapped_column(String(255), index=True)
    owner_name: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    instructions: Mapped[str] = mapped_column(Text, default="")  # shown to the teacher, and above the copy
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)  # closed: no new copy, existing ones kept
    protect_cells: Mapped[bool] = mapped_column(Boolean, default=False)  # master cells read-only in new copies
    cloned_from: Mapped[int | None] = mapped_column(Integer, nullable=True)
    deleted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # the time window (UTC): before opens_at no student gets in; at closes_at the copies are handed in
    opens_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closes_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    after_close: Mapped[str] = mapped_column(String(16), default="read_only")  # read_only or hidden
    closing_done_for: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # that closes_at
    grading: Mapped[str] = mapped_column(String(16), default="points")  # points (out of grade_max) or levels
    grade_max: Mapped[int] = mapped_column(Integer, default=20)


class MasterVersion(Base):
    """One version of an activity's master files, stored in ``masters/<id>/<number>/``."""

    __tablename__ = "activity_versions"

    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, primary_key=True)
    notebook: Mapped[str] = mapped_column(String(255))  # file name, NFC
    files: Mapped[list[str]] = mapped_column(JSON)  # every file's path in the version folder, notebook first
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class Copy(Base):
    """A student's own copy of an activity, in ``users/<user_key>/<folder>/``."""

    __tablename__ = "activity_copies"
    __table_args__ = (UniqueConstraint("activity_id", "uid", name="one_copy_per_student"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), index=True)
    uid: Mapped[str] = mapped_column(String(255))
    name: Mapped[str] = mapped_column(String(255))
    user_key: Mapped[str] = mapped_column(String(64))
    class_name: Mapped[str] = mapped_column(String(255), default="")  # the student's class(es) at the first visit
    folder: Mapped[str] = mapped_column(String(255))
    notebook: Mapped[str] = mapped_column(String(255))
    version: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    state: Mapped[str] = mapped_column(String(16), default="en_cours")  # en_cours, rendue, corrigee
    handed_in_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    handed_in_by: Mapped[str | None] = mapped_column(String(16), nullable=True)  # student, closing
    snapshot: Mapped[str | None] = mapped_column(String(255), nullable=True)  # under the data root, frozen
    snapshot_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    comment: Mapped[str] = mapped_column(Text, default="")  # the teacher's appréciation
    grade: Mapped[float | str | None] = mapped_column(JSON, nullable=True)  # a number on the scale, or a level
    cell_notes: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)  # cell id -> the teacher's note
    corrected_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    feedback_released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)  # proposed by the autograding, else None
    # made with its seed file (revision 0003): its kernels' seed is grading.seed_for(user_key, activity), else 0
    seeded: Mapped[bool] = mapped_column(Boolean, default=False)


class Grading(Base):
    """The re-run of a copy's checks on its latest snapshot (revision 0004): queued at hand-in in the same
    transaction, run by a background worker (:mod:`services.activities.autograding`)."""

    __tablename__ = "copy_gradings"

    copy_id: Mapped[int] = mapped_column(ForeignKey("activity_copies.id", ondelete="CASCADE"), primary_key=True)
    snapshot_sha256: Mapped[str] = mapped_column(String(64))  # the snapshot graded (the copy's latest)
    status: Mapped[str] = mapped_column(String(16), index=True)  # queued, running, done, no_checks, failed
    tries: Mapped[int] = mapped_column(Integer, default=0)  # runs that found no kernel
    not_before: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)  # a retry's time
    started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    graded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    max_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    report: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # GradeReport.as_json(): the teacher's only
    student_report: Mapped[dict | None] = mapped_column(JSON, nullable=True)  # GradeReport.for_student()
    tampering: Mapped[list] = mapped_column(JSON, default=list)  # [{"check", "change": deleted|changed}]
    note: Mapped[str] = mapped_column(Text, default="")  # for the teacher, French: why there is no score


class CheckAttempt(Base):
    """How many times a student ran "Vérifier" on one check of an activity (revision 0005)."""

    __tablename__ = "check_attempts"

    student_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    activity_id: Mapped[int] = mapped_column(ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True)
    check_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    count: Mapped[int] = mapped_column(Integer, default=0)


SCHEMA = Schema("activities", Base.metadata, Path(__file__).with_name("migrations"))

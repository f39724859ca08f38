"""The re-run of each handed-in copy's checks (``copy_gradings``): its state, the score proposed, the report.

Made by :func:`capytale.db.create_or_complete`: a database that ``create_all`` made of these models has
the table already and only records the revision.  Copies handed in before are graded by the next sweep.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from capytale.db import create_or_complete

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def tables() -> list[sa.Table]:
    metadata = sa.MetaData()
    sa.Table("activity_copies", metadata, sa.Column("id", sa.Integer(), primary_key=True))
    gradings = sa.Table(
        "copy_gradings", metadata,
        sa.Column("copy_id", sa.Integer(), sa.ForeignKey("activity_copies.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("snapshot_sha256", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("not_before", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("graded_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("max_score", sa.Float(), nullable=True),
        sa.Column("report", sa.JSON(), nullable=True),
        sa.Column("student_report", sa.JSON(), nullable=True),
        sa.Column("tampering", sa.JSON(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
    )
    return [gradings]


def upgrade() -> None:
    create_or_complete(tables(), {})


def downgrade() -> None:
    op.drop_table("copy_gradings")

""""Vérifier"'s attempts (``check_attempts``): per student, activity and check, how many were run.

Made by :func:`capytale.db.create_or_complete`: a database that ``create_all`` made of these models has
the table already and only records the revision.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from capytale.db import create_or_complete

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def tables() -> list[sa.Table]:
    metadata = sa.MetaData()
    sa.Table("activities", metadata, sa.Column("id", sa.Integer(), primary_key=True))
    attempts = sa.Table(
        "check_attempts", metadata,
        sa.Column("student_key", sa.String(64), primary_key=True),
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("check_id", sa.String(128), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    return [attempts]


def upgrade() -> None:
    create_or_complete(tables(), {})


def downgrade() -> None:
    op.drop_table("check_attempts")

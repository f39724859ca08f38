"""activities' tables when migrations began: activities, their master versions, students' copies.

On an empty database this creates them as ``services/activities/models.py``
declares them at this revision. A database made by ``create_all`` before
migrations (these tables, no ``alembic_version_activities``) is completed instead:
one made before instructions, opening, protection, clones, deletion and class names
gets those columns, its rows the values the models give a new row.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from capytale.db import create_or_complete

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

FILL = {"activities": {"instructions": "", "is_open": True, "protect_cells": False},
        "activity_copies": {"class_name": ""}}


def tables() -> list[sa.Table]:
    metadata = sa.MetaData()
    activities = sa.Table(
        "activities", metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("code", sa.String(16), nullable=False, unique=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("owner_uid", sa.String(255), nullable=False, index=True),
        sa.Column("owner_name", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("instructions", sa.Text(), nullable=False),
        sa.Column("is_open", sa.Boolean(), nullable=False),
        sa.Column("protect_cells", sa.Boolean(), nullable=False),
        sa.Column("cloned_from", sa.Integer(), nullable=True),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=True),
        sqlite_autoincrement=True,
    )
    versions = sa.Table(
        "activity_versions", metadata,
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("number", sa.Integer(), primary_key=True),
        sa.Column("notebook", sa.String(255), nullable=False),
        sa.Column("files", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    copies = sa.Table(
        "activity_copies", metadata,
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("activity_id", sa.Integer(), sa.ForeignKey("activities.id", ondelete="CASCADE"), nullable=False,
                  index=True),
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("user_key", sa.String(64), nullable=False),
        sa.Column("class_name", sa.String(255), nullable=False),
        sa.Column("folder", sa.String(255), nullable=False),
        sa.Column("notebook", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("activity_id", "uid", name="one_copy_per_student"),
    )
    return [activities, versions, copies]


def upgrade() -> None:
    create_or_complete(tables(), FILL)


def downgrade() -> None:
    for table in reversed(tables()):
        op.drop_table(table.name)

"""The evaluation loop: an activity's time window and grading scale; a copy's state, snapshot and feedback.

Rows already there get what the models give a new row: activities without a window
(always open), graded out of 20, copies ``en_cours`` without feedback. A database
``create_all`` made of today's models, completed by 0001, has these columns already.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

def activity_columns() -> list[sa.Column]:
    return [
        sa.Column("opens_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("closes_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("after_close", sa.String(16), nullable=False, server_default="read_only"),
        sa.Column("closing_done_for", sa.DateTime(timezone=True), nullable=True),
        sa.Column("grading", sa.String(16), nullable=False, server_default="points"),
        sa.Column("grade_max", sa.Integer(), nullable=False, server_default="20"),
    ]


def copy_columns() -> list[sa.Column]:
    return [
        sa.Column("state", sa.String(16), nullable=False, server_default="en_cours"),
        sa.Column("handed_in_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("handed_in_by", sa.String(16), nullable=True),
        sa.Column("snapshot", sa.String(255), nullable=True),
        sa.Column("snapshot_sha256", sa.String(64), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False, server_default=""),
        sa.Column("grade", sa.JSON(), nullable=True),
        sa.Column("cell_notes", sa.JSON(), nullable=False, server_default=sa.text("'{}'")),
        sa.Column("corrected_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("feedback_released_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
    ]


def upgrade() -> None:
    """Add the columns; a database ``create_all`` made of today's models (see 0001) has them already."""
    found = sa.inspect(op.get_bind())
    for table, columns in (("activities", activity_columns()), ("activity_copies", copy_columns())):
        present = {column["name"] for column in found.get_columns(table)}
        for column in columns:
            if column.name not in present:
                op.add_column(table, column)


def downgrade() -> None:  # SQLite drops a column by rebuilding the table: batch mode
    with op.batch_alter_table("activity_copies") as table:
        for column in reversed(copy_columns()):
            table.drop_column(column.name)
    with op.batch_alter_table("activities") as table:
        for column in reversed(activity_columns()):
            table.drop_column(column.name)

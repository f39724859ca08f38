"""The router's table when migrations began: which node each student's server is placed on.

On an empty database this creates it as ``services/router/models.py`` declares it
at this revision; a database made by ``create_all`` before migrations (the table,
no ``alembic_version_router``) has it already and only gets the revision recorded.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from capytale.db import create_or_complete

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def tables() -> list[sa.Table]:
    metadata = sa.MetaData()
    placements = sa.Table(
        "router_placements", metadata,
        sa.Column("user_key", sa.String(32), primary_key=True),
        sa.Column("node", sa.Integer(), nullable=False),
        sa.Column("placed_at", sa.DateTime(timezone=True), nullable=False),
    )
    return [placements]


def upgrade() -> None:
    create_or_complete(tables(), {})


def downgrade() -> None:
    for table in reversed(tables()):
        op.drop_table(table.name)

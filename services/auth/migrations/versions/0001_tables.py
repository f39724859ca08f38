"""auth's tables when migrations began: users, and the CAS service tickets with the session each opened.

On an empty database this creates them as ``services/auth/models.py`` declares
them at this revision. A database made by ``create_all`` before migrations (these
tables, no ``alembic_version_auth``) is completed instead: one made before CAS
gets its tickets' table.
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
    users = sa.Table(
        "auth_users", metadata,
        sa.Column("uid", sa.String(255), primary_key=True),
        sa.Column("key", sa.String(32), nullable=False, unique=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("school", sa.String(32), nullable=False),
        sa.Column("classes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_login", sa.DateTime(timezone=True), nullable=False),
    )
    tickets = sa.Table(
        "auth_service_tickets", metadata,
        sa.Column("ticket", sa.String(255), primary_key=True),
        sa.Column("sid", sa.String(64), nullable=False, index=True),
        sa.Column("uid", sa.String(255), nullable=False),
        sa.Column("expires", sa.Integer(), nullable=False),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    return [users, tickets]


def upgrade() -> None:
    create_or_complete(tables(), {})


def downgrade() -> None:
    for table in reversed(tables()):
        op.drop_table(table.name)

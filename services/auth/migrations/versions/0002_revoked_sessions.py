"""Every ended session is kept with its expiry (``auth_revoked_sessions``), logouts as well as single logouts.

Sessions a single logout ended before this revision are taken from the tickets' ``revoked``
flag.  Made by :func:`capytale.db.create_or_complete`, like the first revision: a database that
``create_all`` made of these models has the table already and only records the revision.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from capytale.db import create_or_complete

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def tables() -> list[sa.Table]:
    metadata = sa.MetaData()
    revoked = sa.Table(
        "auth_revoked_sessions", metadata,
        sa.Column("sid", sa.String(64), primary_key=True),
        sa.Column("expires", sa.Integer(), nullable=False, index=True),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    return [revoked]


def upgrade() -> None:
    create_or_complete(tables(), {})
    op.execute(
        "INSERT INTO auth_revoked_sessions (sid, expires, reason, created_at) "
        "SELECT sid, MAX(expires), 'single_logout', MIN(created_at) FROM auth_service_tickets "
        "WHERE revoked AND sid NOT IN (SELECT sid FROM auth_revoked_sessions) GROUP BY sid"
    )


def downgrade() -> None:
    op.drop_table("auth_revoked_sessions")

"""Whether a copy was made with its seed file (``.capytale-graine``): what its grading kernel's seed is.

A copy made before has none, so its ``capytale_alea`` said 0 and its grading runs with 0: rows already
there get ``false``; the copies made from now on are ``true``.
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column; a database ``create_all`` made of today's models (see 0001) has it already."""
    present = {column["name"] for column in sa.inspect(op.get_bind()).get_columns("activity_copies")}
    if "seeded" not in present:
        op.add_column("activity_copies", sa.Column("seeded", sa.Boolean(), nullable=False,
                                                   server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("activity_copies") as table:
        table.drop_column("seeded")

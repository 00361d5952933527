"""centre switches: take new callbacks and dial the waiting ones, for every queue at once

Revision ID: 0030_centre_switches
Revises: 0029_offer_limits
Create Date: 2026-12-07 11:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0030_centre_switches"
down_revision: str | None = "0029_offer_limits"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "centre_switches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("register_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("process_enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("changed_by", sa.String(length=254), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_centre_switches")),
    )


def downgrade() -> None:
    op.drop_table("centre_switches")

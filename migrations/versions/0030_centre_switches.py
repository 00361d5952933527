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
    # The one row, both switches on: a change locks it (services/centre_switches.py), so
    # that two supervisors' first changes cannot both insert it.
    op.execute("INSERT INTO centre_switches (id, register_enabled, process_enabled) VALUES (1, true, true)")


def downgrade() -> None:
    op.drop_table("centre_switches")

"""slot capacity override: a capacity set for one slot in the console, kept on re-planning

Revision ID: 0013_slot_capacity_override
Revises: 0012_console
Create Date: 2026-11-23 17:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_slot_capacity_override"
down_revision: str | None = "0012_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("slot") as batch:
        batch.add_column(sa.Column("capacity_override", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("slot") as batch:
        batch.drop_column("capacity_override")

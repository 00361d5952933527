"""staffing: weekly hours and date overrides may derive their seats from agents on shift

Revision ID: 0016_staffing
Revises: 0015_blocked_numbers
Create Date: 2026-11-23 17:25:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_staffing"
down_revision: str | None = "0015_blocked_numbers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    for table in ("weekly_hours", "date_override"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("agents", sa.Integer(), nullable=True))
            batch.add_column(sa.Column("callback_percent", sa.Integer(), nullable=True))


def downgrade() -> None:
    for table in ("weekly_hours", "date_override"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("callback_percent")
            batch.drop_column("agents")

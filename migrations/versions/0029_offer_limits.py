"""offer limits: switches for taking and dialling callbacks, and the thresholds past which callers hold

Revision ID: 0029_offer_limits
Revises: 0028_inbound_calls
Create Date: 2026-12-07 10:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0029_offer_limits"
down_revision: str | None = "0028_inbound_calls"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("register_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("process_enabled", sa.Boolean(), nullable=False, server_default=sa.true()))
        batch.add_column(sa.Column("max_pending", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_ecbt_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        for column in ("max_ecbt_seconds", "max_pending", "process_enabled", "register_enabled"):
            batch.drop_column(column)

"""over-dial ratio: how many more calls than free agents a queue's dialer may have ringing

Revision ID: 0023_over_dial_ratio
Revises: 0022_agent_figures
Create Date: 2026-12-07 06:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023_over_dial_ratio"
down_revision: str | None = "0022_agent_figures"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("over_dial_ratio", sa.Float(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.drop_column("over_dial_ratio")

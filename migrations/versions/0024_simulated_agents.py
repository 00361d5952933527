"""simulated agents: when the simulator's agent took a call

Revision ID: 0024_simulated_agents
Revises: 0023_over_dial_ratio
Create Date: 2026-12-07 06:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024_simulated_agents"
down_revision: str | None = "0023_over_dial_ratio"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sim_call", recreate="never") as batch:
        batch.add_column(sa.Column("agent_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sim_call", recreate="never") as batch:
        batch.drop_column("agent_at")

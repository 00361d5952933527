"""the live agent figures say how many callers wait in the ACD's line

Revision ID: 0035_callers_waiting_figure
Revises: 0034_follow_up_indexes
Create Date: 2026-12-07 15:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0035_callers_waiting_figure"
down_revision: str | None = "0034_follow_up_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("agent_figures", recreate="never") as batch:
        batch.add_column(sa.Column("callers_waiting", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("agent_figures") as batch:
        batch.drop_column("callers_waiting")

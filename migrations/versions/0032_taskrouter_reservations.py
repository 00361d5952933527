"""agent-first through TaskRouter: a queue's workflow, an attempt's task

Revision ID: 0032_taskrouter_reservations
Revises: 0031_machine_redirect_retry
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0032_taskrouter_reservations"
down_revision: str | None = "0031_machine_redirect_retry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("taskrouter_workflow_sid", sa.String(34), nullable=True))
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.add_column(sa.Column("task_sid", sa.String(34), nullable=True))
        batch.add_column(sa.Column("task_closed_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.drop_column("task_closed_at")
        batch.drop_column("task_sid")
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.drop_column("taskrouter_workflow_sid")

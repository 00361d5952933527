"""partial indexes for the workers' follow-up tick: machine redirects not taken, TaskRouter tasks not closed

Revision ID: 0034_follow_up_indexes
Revises: 0033_hold_mode
Create Date: 2026-12-07 13:15:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0034_follow_up_indexes"
down_revision: str | None = "0033_hold_mode"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REDIRECT_PENDING = "machine_handled_at IS NOT NULL AND machine_redirected_at IS NULL AND outcome IS NULL"
TASK_OPEN = "task_sid IS NOT NULL AND task_closed_at IS NULL"


def upgrade() -> None:
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.create_index(
            "ix_attempt_redirect_pending",
            ["machine_handled_at"],
            sqlite_where=sa.text(REDIRECT_PENDING),
            postgresql_where=sa.text(REDIRECT_PENDING),
        )
        batch.create_index(
            "ix_attempt_task_open", ["id"], sqlite_where=sa.text(TASK_OPEN), postgresql_where=sa.text(TASK_OPEN)
        )


def downgrade() -> None:
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.drop_index("ix_attempt_task_open")
        batch.drop_index("ix_attempt_redirect_pending")

"""TaskRouter source: the Twilio TaskRouter workspace and task queue a queue's live agent figures are read from

Revision ID: 0026_taskrouter_source
Revises: 0025_asap_promise
Create Date: 2026-12-07 09:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026_taskrouter_source"
down_revision: str | None = "0025_asap_promise"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("taskrouter_workspace_sid", sa.String(34), nullable=True))
        batch.add_column(sa.Column("taskrouter_task_queue_sid", sa.String(34), nullable=True))
    # Room for the source's name, "twilio_taskrouter" (on SQLite the small table is copied).
    with op.batch_alter_table("agent_figures") as batch:
        batch.alter_column("source", type_=sa.String(32), existing_type=sa.String(16))


def downgrade() -> None:
    op.execute("DELETE FROM agent_figures WHERE length(source) > 16")
    with op.batch_alter_table("agent_figures") as batch:
        batch.alter_column("source", type_=sa.String(16), existing_type=sa.String(32))
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.drop_column("taskrouter_task_queue_sid")
        batch.drop_column("taskrouter_workspace_sid")

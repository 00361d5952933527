"""machine action: what a queue does when an answering machine takes a callback call

Revision ID: 0027_machine_action
Revises: 0026_taskrouter_source
Create Date: 2026-12-07 09:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027_machine_action"
down_revision: str | None = "0026_taskrouter_source"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("machine_action", sa.String(length=16), nullable=True))
        batch.add_column(sa.Column("after_message", sa.String(length=8), nullable=False, server_default="retry"))
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.add_column(sa.Column("machine_handled_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("machine_handling", sa.String(length=16), nullable=True))
    with op.batch_alter_table("sim_call", recreate="never") as batch:
        batch.add_column(sa.Column("recording", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sim_call", recreate="never") as batch:
        batch.drop_column("recording")
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.drop_column("machine_handling")
        batch.drop_column("machine_handled_at")
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.drop_column("after_message")
        batch.drop_column("machine_action")

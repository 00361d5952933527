"""worker heartbeat: each worker process upserts its row every few seconds (/readyz reads it)

Revision ID: 0018_worker_heartbeat
Revises: 0017_events
Create Date: 2026-11-23 19:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_worker_heartbeat"
down_revision: str | None = "0017_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "worker_heartbeat",
        sa.Column("worker_id", sa.String(length=128), nullable=False),
        sa.Column("beat_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("worker_id", name=op.f("pk_worker_heartbeat")),
    )
    with op.batch_alter_table("worker_heartbeat") as batch:
        batch.create_index(batch.f("ix_worker_heartbeat_beat_at"), ["beat_at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("worker_heartbeat") as batch:
        batch.drop_index(batch.f("ix_worker_heartbeat_beat_at"))
    op.drop_table("worker_heartbeat")

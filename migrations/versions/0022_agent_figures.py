"""agent figures: each queue's live agents (signed in, available, handle time, longest wait) as its source last reported them

Revision ID: 0022_agent_figures
Revises: 0021_login_throttle
Create Date: 2026-12-07 06:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022_agent_figures"
down_revision: str | None = "0021_login_throttle"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agent_figures",
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("signed_in", sa.Integer(), nullable=False),
        sa.Column("available", sa.Integer(), nullable=False),
        sa.Column("average_handle_seconds", sa.Integer(), nullable=False),
        sa.Column("longest_wait_seconds", sa.Integer(), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_agent_figures_queue_id_queue"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("queue_id", name=op.f("pk_agent_figures")),
    )


def downgrade() -> None:
    op.drop_table("agent_figures")

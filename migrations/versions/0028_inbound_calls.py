"""inbound calls in progress: never ring a number that is on an inbound call with us

Revision ID: 0028_inbound_calls
Revises: 0027_machine_action
Create Date: 2026-12-07 09:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028_inbound_calls"
down_revision: str | None = "0027_machine_action"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "inbound_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("call_id", sa.String(64), nullable=False),
        sa.Column("phone", sa.String(20), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("presumed_until", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_inbound_call_queue_id_queue"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_call")),
        sa.UniqueConstraint("provider", "call_id", name=op.f("uq_inbound_call_provider")),
    )
    op.create_index(op.f("ix_inbound_call_queue_id"), "inbound_call", ["queue_id"])
    op.create_index(
        op.f("ix_inbound_call_live_phone"),
        "inbound_call",
        ["phone", "presumed_until"],
        sqlite_where=sa.text("ended_at IS NULL"),
        postgresql_where=sa.text("ended_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_call_live_phone", table_name="inbound_call")
    op.drop_index("ix_inbound_call_queue_id", table_name="inbound_call")
    op.drop_table("inbound_call")

"""reports: the inbound IVR's callback offers and whether callers took them; events and
attempts indexed by time

Revision ID: 0014_reports
Revises: 0013_slot_capacity_override
Create Date: 2026-11-23 17:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_reports"
down_revision: str | None = "0013_slot_capacity_override"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ivr_offer",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("choice", sa.String(length=8), nullable=True),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_ivr_offer_queue_id_queue"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ivr_offer")),
        sa.UniqueConstraint("provider", "call_id", name="uq_ivr_offer_call"),
    )
    op.create_index("ix_ivr_offer_queue_offered", "ivr_offer", ["queue_id", "offered_at"])
    op.create_index("ix_callback_event_at", "callback_event", ["at"])
    op.create_index("ix_attempt_requested_at", "attempt", ["requested_at"])


def downgrade() -> None:
    op.drop_index("ix_attempt_requested_at", table_name="attempt")
    op.drop_index("ix_callback_event_at", table_name="callback_event")
    op.drop_index("ix_ivr_offer_queue_offered", table_name="ivr_offer")
    op.drop_table("ivr_offer")

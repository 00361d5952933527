"""sms delivery: delivery reports that come before the outbox saved the message id; the
number a text is sent from (a reply: the number the customer texted)

Revision ID: 0010_sms_delivery
Revises: 0009_reminders
Create Date: 2026-11-23 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_sms_delivery"
down_revision: str | None = "0009_reminders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "early_sms_status",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("raw_status", sa.String(length=32), nullable=False),
        sa.Column("error_code", sa.String(length=32), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_early_sms_status")),
    )
    op.create_index("ix_early_sms_status_message", "early_sms_status", ["provider", "message_id"])
    with op.batch_alter_table("sms_message") as batch:
        batch.add_column(sa.Column("from_number", sa.String(length=20), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sms_message") as batch:
        batch.drop_column("from_number")
    op.drop_index("ix_early_sms_status_message", table_name="early_sms_status")
    op.drop_table("early_sms_status")

"""sms status: delivery reports on outgoing texts (error code, status and delivery times)

Revision ID: 0006_sms_status
Revises: 0005_sms
Create Date: 2026-11-23 13:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_sms_status"
down_revision: str | None = "0005_sms"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sms_message") as batch:
        batch.add_column(sa.Column("error_code", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("status_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sms_message_provider_message_id", "sms_message", ["provider", "message_id"])


def downgrade() -> None:
    op.drop_index("ix_sms_message_provider_message_id", table_name="sms_message")
    with op.batch_alter_table("sms_message") as batch:
        batch.drop_column("delivered_at")
        batch.drop_column("status_at")
        batch.drop_column("error_code")

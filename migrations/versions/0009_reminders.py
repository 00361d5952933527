"""reminders: a queue's reminder settings; texts planned for later (send_at) and what they remind of

Revision ID: 0009_reminders
Revises: 0008_short_links
Create Date: 2026-11-23 16:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_reminders"
down_revision: str | None = "0008_short_links"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue") as batch:
        batch.add_column(sa.Column("reminders", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))
    with op.batch_alter_table("sms_message") as batch:
        batch.add_column(sa.Column("send_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("about_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_sms_message_scheduled", "sms_message", ["status", "send_at"])
    op.create_index("uq_sms_message_reminder", "sms_message", ["callback_id", "kind", "about_at"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_sms_message_reminder", table_name="sms_message")
    op.drop_index("ix_sms_message_scheduled", table_name="sms_message")
    with op.batch_alter_table("sms_message") as batch:
        batch.drop_column("about_at")
        batch.drop_column("send_at")
    with op.batch_alter_table("queue") as batch:
        batch.drop_column("reminders")

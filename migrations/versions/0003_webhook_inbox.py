"""webhook inbox: status reports stored by the webhook, applied by the worker

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("attempt_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True)
        )
        batch_op.add_column(sa.Column("event", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("applied_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("tries", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("error", sa.Text(), nullable=True))

    # Receipts written before the inbox were applied when they were received.
    op.execute("UPDATE webhook_receipt SET applied_at = received_at")

    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.create_index(
            "ix_webhook_receipt_unapplied",
            ["id"],
            unique=False,
            sqlite_where=sa.text("applied_at IS NULL"),
            postgresql_where=sa.text("applied_at IS NULL"),
        )


def downgrade() -> None:
    # Reports still waiting in the inbox are lost (their keys stay, so a redelivery is
    # dropped too): stop the web processes and let the worker drain it first.

    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.drop_index(
            "ix_webhook_receipt_unapplied",
            sqlite_where=sa.text("applied_at IS NULL"),
            postgresql_where=sa.text("applied_at IS NULL"),
        )
        batch_op.drop_column("error")
        batch_op.drop_column("tries")
        batch_op.drop_column("applied_at")
        batch_op.drop_column("event")
        batch_op.drop_column("attempt_id")

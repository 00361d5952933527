"""dialer: attempts, webhook receipts, pacing, sms outbox, simulator

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23 08:44:27.440046
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "dial_pacer",
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("next_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_dial_pacer")),
    )
    op.create_table(
        "sim_call",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("call_id", sa.String(length=64), nullable=False),
        sa.Column("to", sa.String(length=64), nullable=False),
        sa.Column("from", sa.String(length=64), nullable=False),
        sa.Column("answer_url", sa.String(length=500), nullable=False),
        sa.Column("status_url", sa.String(length=500), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("answered_by", sa.String(length=16), nullable=True),
        sa.Column("script", sa.JSON(), nullable=True),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_call")),
        sa.UniqueConstraint("call_id", name=op.f("uq_sim_call_call_id")),
    )
    op.create_table(
        "sim_text",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=64), nullable=False),
        sa.Column("direction", sa.String(length=8), nullable=False),
        sa.Column("to", sa.String(length=64), nullable=False),
        sa.Column("from", sa.String(length=64), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sim_text")),
        sa.UniqueConstraint("message_id", name=op.f("uq_sim_text_message_id")),
    )
    op.create_table(
        "webhook_receipt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("dedupe_key", sa.String(length=200), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_receipt")),
        sa.UniqueConstraint("provider", "dedupe_key", name="uq_webhook_receipt_key"),
    )
    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_receipt_received_at"), ["received_at"], unique=False)

    op.create_table(
        "attempt",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("callback_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("failover_from", sa.String(length=16), nullable=True),
        sa.Column("call_id", sa.String(length=64), nullable=True),
        sa.Column("call_state", sa.String(length=16), nullable=False),
        sa.Column("outcome", sa.String(length=24), nullable=True),
        sa.Column("menu_choice", sa.String(length=16), nullable=True),
        sa.Column("agent_first", sa.Boolean(), nullable=False),
        sa.Column("customer_leg_state", sa.String(length=16), nullable=True),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("agent_answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("duration_seconds", sa.Integer(), nullable=True),
        sa.Column("billable_seconds", sa.Integer(), nullable=True),
        sa.Column("answered_by", sa.String(length=16), nullable=True),
        sa.Column("recording_url", sa.String(length=500), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("last_sequence", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"], ["callback.id"], name=op.f("fk_attempt_callback_id_callback"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempt")),
        sa.UniqueConstraint("callback_id", "number", name="uq_attempt_callback_number"),
        sa.UniqueConstraint("provider", "call_id", name="uq_attempt_provider_call"),
    )
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempt_callback_id"), ["callback_id"], unique=False)

    op.create_table(
        "sms_message",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("callback_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=True),
        sa.Column("message_id", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["callback_id"], ["callback.id"], name=op.f("fk_sms_message_callback_id_callback"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_message")),
    )
    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sms_message_callback_id"), ["callback_id"], unique=False)
        batch_op.create_index("ix_sms_message_pending", ["status", "created_at"], unique=False)

    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.add_column(sa.Column("dial_errors", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_callback_phone_queue", ["phone", "queue_id"], unique=False)
        batch_op.create_index(
            "uq_callback_phone_on_call",
            ["phone"],
            unique=True,
            sqlite_where=sa.text("state IN ('dialing', 'connected')"),
            postgresql_where=sa.text("state IN ('dialing', 'connected')"),
        )

    with op.batch_alter_table("queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("calendar_tag", sa.String(length=32), nullable=False, server_default="initial"))
        batch_op.add_column(sa.Column("caller_id", sa.String(length=20), nullable=True))
        batch_op.add_column(sa.Column("primary_provider", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("secondary_provider", sa.String(length=16), nullable=True))
        batch_op.add_column(sa.Column("voicemail_text", sa.String(length=500), nullable=True))
        batch_op.add_column(sa.Column("retry_policy", sa.JSON(), nullable=False, server_default="{}"))


def downgrade() -> None:

    with op.batch_alter_table("queue", schema=None) as batch_op:
        batch_op.drop_column("retry_policy")
        batch_op.drop_column("voicemail_text")
        batch_op.drop_column("secondary_provider")
        batch_op.drop_column("primary_provider")
        batch_op.drop_column("caller_id")
        batch_op.drop_column("calendar_tag")

    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_callback_phone_on_call",
            sqlite_where=sa.text("state IN ('dialing', 'connected')"),
            postgresql_where=sa.text("state IN ('dialing', 'connected')"),
        )
        batch_op.drop_index("ix_callback_phone_queue")
        batch_op.drop_column("dial_errors")

    with op.batch_alter_table("sms_message", schema=None) as batch_op:
        batch_op.drop_index("ix_sms_message_pending")
        batch_op.drop_index(batch_op.f("ix_sms_message_callback_id"))

    op.drop_table("sms_message")
    with op.batch_alter_table("attempt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempt_callback_id"))

    op.drop_table("attempt")
    with op.batch_alter_table("webhook_receipt", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_receipt_received_at"))

    op.drop_table("webhook_receipt")
    op.drop_table("sim_text")
    op.drop_table("sim_call")
    op.drop_table("dial_pacer")

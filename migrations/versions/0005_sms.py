"""sms: opt-outs, inbound texts (deduplicated), concatenated parts, offered times

Revision ID: 0005_sms
Revises: 0004
Create Date: 2026-11-23 12:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_sms"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "sms_opt_out",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("keyword", sa.String(length=32), nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_opt_out")),
    )
    op.create_table(
        "inbound_text",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("from", sa.String(length=20), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("command", sa.String(length=16), nullable=True),
        sa.Column("reply_kind", sa.String(length=32), nullable=True),
        sa.Column("callback_id", BIG_ID, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_text")),
        sa.UniqueConstraint("provider", "message_id", name="uq_inbound_text_message"),
    )
    op.create_index("ix_inbound_text_phone_replied", "inbound_text", ["from", "reply_kind", "received_at"])
    op.create_table(
        "inbound_text_part",
        sa.Column("id", BIG_ID, nullable=False),
        sa.Column("provider", sa.String(length=16), nullable=False),
        sa.Column("from", sa.String(length=20), nullable=False),
        sa.Column("to", sa.String(length=20), nullable=False),
        sa.Column("concat_ref", sa.String(length=64), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=100), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inbound_text_part")),
        sa.UniqueConstraint("provider", "from", "concat_ref", "part", name="uq_inbound_text_part"),
    )
    op.create_table(
        "sms_offer",
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("starts", sa.JSON(), nullable=False),
        sa.Column("offered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_sms_offer_queue_id_queue"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("phone", name=op.f("pk_sms_offer")),
    )


def downgrade() -> None:
    op.drop_table("sms_offer")
    op.drop_table("inbound_text_part")
    op.drop_index("ix_inbound_text_phone_replied", table_name="inbound_text")
    op.drop_table("inbound_text")
    op.drop_table("sms_opt_out")

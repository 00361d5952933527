"""events: CRM event subscriptions, the event outbox, deliveries and their log; API key roles;
the simulator's stand-in CRM

Revision ID: 0017_events
Revises: 0016_staffing
Create Date: 2026-11-23 19:35:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0017_events"
down_revision: str | None = "0016_staffing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("api_key") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="client"))
    op.create_table(
        "event_subscription",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("url", sa.String(500), nullable=False),
        sa.Column("secret", sa.String(128), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("queue_id", sa.Integer(), sa.ForeignKey("queue.id", ondelete="CASCADE"), nullable=True),
        sa.Column("format", sa.String(8), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("format IN ('json', 'xml')", name="format"),
    )
    op.create_table(
        "event_outbox",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("event_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(40), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("queue_id", sa.Integer(), sa.ForeignKey("queue.id", ondelete="CASCADE"), nullable=True),
        sa.Column("callback_id", BIGID, sa.ForeignKey("callback.id", ondelete="CASCADE"), nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("fanned_out", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_event_outbox_at", "event_outbox", ["at"])
    op.create_index("ix_event_outbox_callback_id", "event_outbox", ["callback_id"])
    op.create_index(
        "ix_event_outbox_pending",
        "event_outbox",
        ["id"],
        sqlite_where=sa.text("fanned_out IS 0"),
        postgresql_where=sa.text("fanned_out IS false"),
    )
    op.create_table(
        "event_delivery",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("event_subscription.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("outbox_id", BIGID, sa.ForeignKey("event_outbox.id", ondelete="CASCADE"), nullable=False),
        sa.Column("callback_id", BIGID, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.UniqueConstraint("subscription_id", "outbox_id", name="uq_event_delivery_subscription_event"),
        sa.CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
    )
    op.create_index("ix_event_delivery_due", "event_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_event_delivery_order", "event_delivery", ["subscription_id", "callback_id", "outbox_id"])
    op.create_index("ix_event_delivery_outbox_id", "event_delivery", ["outbox_id"])
    op.create_table(
        "delivery_attempt",
        sa.Column("id", BIGID, primary_key=True),
        sa.Column("delivery_id", BIGID, sa.ForeignKey("event_delivery.id", ondelete="CASCADE"), nullable=False),
        sa.Column(
            "subscription_id",
            sa.Integer(),
            sa.ForeignKey("event_subscription.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("error", sa.String(500), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("succeeded", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_delivery_attempt_delivery_id", "delivery_attempt", ["delivery_id"])
    op.create_index("ix_delivery_attempt_subscription_at", "delivery_attempt", ["subscription_id", "at"])
    op.create_table(
        "sim_crm_event",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("event_id", sa.String(64), nullable=True),
        sa.Column("type", sa.String(40), nullable=True),
        sa.Column("callback_ref", sa.String(16), nullable=True),
        sa.Column("signature_ok", sa.Boolean(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )
    op.create_table(
        "sim_switch",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("on", sa.Boolean(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("sim_switch")
    op.drop_table("sim_crm_event")
    op.drop_table("delivery_attempt")
    op.drop_table("event_delivery")
    op.drop_table("event_outbox")
    op.drop_table("event_subscription")
    with op.batch_alter_table("api_key") as batch:
        batch.drop_column("role")

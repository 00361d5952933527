"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-23 08:08:11.701131
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "idempotency_record",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=255), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("body", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_record")),
        sa.UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),
    )
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_idempotency_record_created_at"), ["created_at"], unique=False
        )

    op.create_table(
        "queue",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("region", sa.String(length=2), nullable=False),
        sa.Column("agent_target", sa.String(length=255), nullable=True),
        sa.Column("dial_mode", sa.String(length=16), nullable=False),
        sa.Column("offer_threshold_seconds", sa.Integer(), nullable=False),
        sa.Column("estimated_wait_seconds", sa.Integer(), nullable=False),
        sa.Column("lead_minutes", sa.Integer(), nullable=False),
        sa.Column("horizon_days", sa.Integer(), nullable=False),
        sa.Column("asap_reserve_percent", sa.Integer(), nullable=False),
        sa.Column("collect_off_hours", sa.Boolean(), nullable=False),
        sa.Column("allowed_countries", sa.JSON(), nullable=False),
        sa.Column("max_concurrent_calls", sa.Integer(), nullable=False),
        sa.Column("slots_until", sa.Date(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "dial_mode IN ('customer_first', 'agent_first')",
            name=op.f("ck_queue_dial_mode"),
        ),
        sa.CheckConstraint(
            "asap_reserve_percent BETWEEN 0 AND 100",
            name=op.f("ck_queue_reserve_percent"),
        ),
        sa.CheckConstraint(
            "horizon_days BETWEEN 0 AND 366", name=op.f("ck_queue_horizon_days")
        ),
        sa.CheckConstraint("lead_minutes >= 0", name=op.f("ck_queue_lead_minutes")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_queue")),
        sa.UniqueConstraint("key", name=op.f("uq_queue_key")),
    )
    op.create_table(
        "date_override",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("closed", sa.Boolean(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=True),
        sa.Column("closes", sa.Time(), nullable=True),
        sa.Column("slot_minutes", sa.Integer(), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("note", sa.String(length=200), nullable=True),
        sa.CheckConstraint(
            "(closed AND opens IS NULL AND closes IS NULL AND slot_minutes IS NULL AND capacity IS NULL) OR (NOT closed AND opens IS NOT NULL AND closes IS NOT NULL AND slot_minutes BETWEEN 1 AND 1440 AND capacity >= 0)",
            name=op.f("ck_date_override_closed_or_interval"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queue.id"],
            name=op.f("fk_date_override_queue_id_queue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_date_override")),
        sa.UniqueConstraint(
            "queue_id", "day", "opens", name="uq_date_override_interval"
        ),
    )
    op.create_table(
        "slot",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("reserved", sa.Integer(), nullable=False),
        sa.Column("booked", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.CheckConstraint("booked <= capacity", name=op.f("ck_slot_never_overbooked")),
        sa.CheckConstraint("booked >= 0", name=op.f("ck_slot_booked_nonnegative")),
        sa.CheckConstraint(
            "reserved >= 0 AND reserved <= capacity",
            name=op.f("ck_slot_reserved_within_capacity"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queue.id"],
            name=op.f("fk_slot_queue_id_queue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slot")),
        sa.UniqueConstraint("queue_id", "starts_at", name="uq_slot_queue_start"),
    )
    op.create_table(
        "weekly_hours",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("weekday", sa.Integer(), nullable=False),
        sa.Column("opens", sa.Time(), nullable=False),
        sa.Column("closes", sa.Time(), nullable=False),
        sa.Column("slot_minutes", sa.Integer(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.CheckConstraint("capacity >= 0", name=op.f("ck_weekly_hours_capacity")),
        sa.CheckConstraint(
            "slot_minutes BETWEEN 1 AND 1440", name=op.f("ck_weekly_hours_slot_minutes")
        ),
        sa.CheckConstraint(
            "weekday BETWEEN 0 AND 6", name=op.f("ck_weekly_hours_weekday")
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queue.id"],
            name=op.f("fk_weekly_hours_queue_id_queue"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_weekly_hours")),
        sa.UniqueConstraint(
            "queue_id", "weekday", "opens", name="uq_weekly_hours_interval"
        ),
    )
    op.create_table(
        "callback",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column("ref", sa.String(length=16), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("phone", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=True),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("unit", sa.String(length=100), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot_id", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("sms_consent", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('asap', 'scheduled')", name=op.f("ck_callback_kind")
        ),
        sa.CheckConstraint(
            "source IN ('ivr', 'sms', 'web', 'api', 'console')",
            name=op.f("ck_callback_source"),
        ),
        sa.ForeignKeyConstraint(
            ["queue_id"],
            ["queue.id"],
            name=op.f("fk_callback_queue_id_queue"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["slot_id"],
            ["slot.id"],
            name=op.f("fk_callback_slot_id_slot"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback")),
        sa.UniqueConstraint("ref", name=op.f("uq_callback_ref")),
    )
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.create_index(
            "ix_callback_due", ["state", "next_attempt_at"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_callback_queue_id"), ["queue_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_callback_slot_id"), ["slot_id"], unique=False
        )
        batch_op.create_index(
            "uq_callback_live_phone",
            ["queue_id", "phone"],
            unique=True,
            sqlite_where=sa.text(
                "state IN ('connected', 'dialing', 'requested', 'retry_wait', 'scheduled')"
            ),
            postgresql_where=sa.text(
                "state IN ('connected', 'dialing', 'requested', 'retry_wait', 'scheduled')"
            ),
        )

    op.create_table(
        "callback_event",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False
        ),
        sa.Column(
            "callback_id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            nullable=False,
        ),
        sa.Column("step", sa.String(length=32), nullable=False),
        sa.Column("from_state", sa.String(length=16), nullable=True),
        sa.Column("to_state", sa.String(length=16), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["callback_id"],
            ["callback.id"],
            name=op.f("fk_callback_event_callback_id_callback"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_callback_event")),
    )
    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_callback_event_callback_id"), ["callback_id"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("callback_event", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_callback_event_callback_id"))

    op.drop_table("callback_event")
    with op.batch_alter_table("callback", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_callback_live_phone",
            sqlite_where=sa.text(
                "state IN ('connected', 'dialing', 'requested', 'retry_wait', 'scheduled')"
            ),
            postgresql_where=sa.text(
                "state IN ('connected', 'dialing', 'requested', 'retry_wait', 'scheduled')"
            ),
        )
        batch_op.drop_index(batch_op.f("ix_callback_slot_id"))
        batch_op.drop_index(batch_op.f("ix_callback_queue_id"))
        batch_op.drop_index("ix_callback_due")

    op.drop_table("callback")
    op.drop_table("weekly_hours")
    op.drop_table("slot")
    op.drop_table("date_override")
    op.drop_table("queue")
    with op.batch_alter_table("idempotency_record", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_idempotency_record_created_at"))

    op.drop_table("idempotency_record")

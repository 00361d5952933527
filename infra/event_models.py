"""CRM event subscriptions, the event outbox, deliveries and their attempts (events/)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from infra.models import Base, UTCDateTime


class EventSubscription(Base):
    """A CRM (or any HTTP receiver) that wants callback events: where to POST them, the
    secret they are signed with, which types and which queue (None: every queue)."""

    __tablename__ = "event_subscription"
    __table_args__ = (CheckConstraint("format IN ('json', 'xml')", name="format"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(128))  # kept as is: every delivery is signed with it
    event_types: Mapped[list[str]] = mapped_column(JSON)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    format: Mapped[str] = mapped_column(String(8), default="json")
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class OutboxEvent(Base):
    """An event, written in the transaction of the change it tells of (so it cannot be
    lost between the two). ``data`` holds what the event alone knows (the state it moved
    to, the attempt, the text); the callback's own fields are read when it is sent, so that
    an erased or anonymised callback is not sent on from here. ``fanned_out``: a delivery
    row was made for every subscription that wants it (events/outbox.py)."""

    __tablename__ = "event_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(36), unique=True)  # the id receivers dedupe by
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    queue_id: Mapped[int | None] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callback.id", ondelete="CASCADE"), index=True)
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    fanned_out: Mapped[bool] = mapped_column(Boolean, default=False)


class EventDelivery(Base):
    """One event for one subscription: pending until a 2xx, retried, or failed for good.
    Ordered per subscription and callback by ``outbox_id`` (the sender holds a later
    event of a callback back while an earlier one is not settled)."""

    __tablename__ = "event_delivery"
    __table_args__ = (
        UniqueConstraint("subscription_id", "outbox_id", name="uq_event_delivery_subscription_event"),
        CheckConstraint("status IN ('pending', 'delivered', 'failed')", name="status"),
        Index("ix_event_delivery_due", "status", "next_attempt_at"),
        Index("ix_event_delivery_order", "subscription_id", "callback_id", "outbox_id"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("event_subscription.id", ondelete="CASCADE"))
    outbox_id: Mapped[int] = mapped_column(ForeignKey("event_outbox.id", ondelete="CASCADE"), index=True)
    callback_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # in this round (a redelivery starts a new one)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    settled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # delivered or failed

    subscription: Mapped[EventSubscription] = relationship()
    event: Mapped[OutboxEvent] = relationship()


class DeliveryAttempt(Base):
    """The delivery log: every POST of an event, with its answer (or the error) and how long it took."""

    __tablename__ = "delivery_attempt"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("event_delivery.id", ondelete="CASCADE"), index=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("event_subscription.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    duration_ms: Mapped[int] = mapped_column(Integer)
    succeeded: Mapped[bool] = mapped_column(Boolean)


# The outbox's sender finds events not yet fanned out, and the log is read by subscription and time.
Index(
    "ix_event_outbox_pending",
    OutboxEvent.id,
    sqlite_where=OutboxEvent.fanned_out.is_(False),
    postgresql_where=OutboxEvent.fanned_out.is_(False),
)
Index("ix_delivery_attempt_subscription_at", DeliveryAttempt.subscription_id, DeliveryAttempt.at)

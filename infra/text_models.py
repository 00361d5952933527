"""Texts: the outbox, early delivery reports, opt-outs, inbound texts and their parts, offers by text (sms/)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from infra.models import Base, UTCDateTime


class SmsMessage(Base):
    """An outgoing text: written in the transaction that decides to send it, sent by the worker."""

    __tablename__ = "sms_message"
    __table_args__ = (
        Index("ix_sms_message_pending", "status", "created_at"),
        Index("ix_sms_message_provider_message_id", "provider", "message_id"),
        Index("ix_sms_message_scheduled", "status", "send_at"),
        # A reminder is planned once per callback, kind and time it reminds of.
        Index("uq_sms_message_reminder", "callback_id", "kind", "about_at", unique=True),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    callback_id: Mapped[int | None] = mapped_column(ForeignKey("callback.id", ondelete="SET NULL"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    to: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    # scheduled (a reminder waiting for send_at), cancelled (a reminder that no longer
    # holds), pending, sending, skipped, then as the provider reports: queued, sent,
    # delivered, undelivered, failed (sms.webhooks.sms_status moves it forward only)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    provider: Mapped[str | None] = mapped_column(String(16))
    # The number it is sent from: a reply, the number the customer texted; None: the
    # callback's queue's caller_id, else CALLER_ID (sms.outbox.send_pending_sms).
    from_number: Mapped[str | None] = mapped_column(String(20))
    message_id: Mapped[str | None] = mapped_column(String(64))
    error: Mapped[str | None] = mapped_column(Text)
    error_code: Mapped[str | None] = mapped_column(String(32))  # the provider's, from its delivery report
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when the last report moved it
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a reminder: not before this
    about_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # a reminder: the callback time it is about


class EarlySmsStatus(Base):
    """A delivery report that came before we saved the message id it is about: the provider
    can report on a text before our outbox has recorded the provider's answer (its id).
    Kept here and applied when the outbox records that id (sms/delivery.py)."""

    __tablename__ = "early_sms_status"
    __table_args__ = (Index("ix_early_sms_status_message", "provider", "message_id"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16))
    raw_status: Mapped[str] = mapped_column(String(32))
    error_code: Mapped[str | None] = mapped_column(String(32))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmsOptOut(Base):
    """A number that texted an opt-out keyword (STOP, СТОП, ARRET…): we send it nothing
    until it texts START. The outbox checks this table before every send."""

    __tablename__ = "sms_opt_out"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    opted_out_at: Mapped[datetime] = mapped_column(UTCDateTime)
    keyword: Mapped[str] = mapped_column(String(32))
    provider: Mapped[str] = mapped_column(String(16))  # the channel the keyword came in on


class InboundText(Base):
    """Every text a customer sent us, once per provider message id: a redelivered webhook
    finds its row (INSERT … ON CONFLICT DO NOTHING) and does nothing twice."""

    __tablename__ = "inbound_text"
    __table_args__ = (
        UniqueConstraint("provider", "message_id", name="uq_inbound_text_message"),
        Index("ix_inbound_text_phone_replied", "from", "reply_kind", "received_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    message_id: Mapped[str] = mapped_column(String(100))
    from_: Mapped[str] = mapped_column("from", String(20))
    to: Mapped[str] = mapped_column(String(20))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    command: Mapped[str | None] = mapped_column(String(16))  # what the parser made of it
    reply_kind: Mapped[str | None] = mapped_column(String(32))  # the reply we queued, if any
    callback_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))


class InboundTextPart(Base):
    """One part of a concatenated inbound text (Vonage SMS API ``concat-*``), kept until
    every part has arrived and the whole text is handled."""

    __tablename__ = "inbound_text_part"
    __table_args__ = (UniqueConstraint("provider", "from", "concat_ref", "part", name="uq_inbound_text_part"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    from_: Mapped[str] = mapped_column("from", String(20))
    to: Mapped[str] = mapped_column(String(20))
    concat_ref: Mapped[str] = mapped_column(String(64))
    part: Mapped[int] = mapped_column(Integer)
    total: Mapped[int] = mapped_column(Integer)
    message_id: Mapped[str] = mapped_column(String(100))
    body: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SmsOffer(Base):
    """The times last offered by text to a number ("reply 1, 2 or 3"), so that a digit
    reply books the one it names; it expires."""

    __tablename__ = "sms_offer"

    phone: Mapped[str] = mapped_column(String(20), primary_key=True)  # E.164
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    starts: Mapped[list[str]] = mapped_column(JSON)  # ISO 8601 UTC instants, in the order offered
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)

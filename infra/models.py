"""The database schema: SQLAlchemy 2.0 typed models. Alembic migrations follow this file."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    Time,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql import expression
from sqlalchemy.types import TypeDecorator

from scheduler.lifecycle import DUE_STATES, LIVE_STATES

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in Python; timestamptz on PostgreSQL, naive UTC text on SQLite.

    SQLite has no time zones: storing every instant as naive UTC in one format keeps
    its text comparisons (``starts_at >= :x``) correct.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def column_length(column: Any) -> int:
    """The length of a ``String(n)`` column (``Model.attribute``): what a value put into it
    may hold, for the code that checks outside input before storing it."""
    length = column.property.columns[0].type.length
    if not isinstance(length, int):
        raise TypeError(f"{column} is not a String(n) column")
    return length


class Queue(Base):
    __tablename__ = "queue"
    __table_args__ = (
        CheckConstraint("asap_reserve_percent BETWEEN 0 AND 100", name="reserve_percent"),
        CheckConstraint("lead_minutes >= 0", name="lead_minutes"),
        CheckConstraint("horizon_days BETWEEN 0 AND 366", name="horizon_days"),
        CheckConstraint("dial_mode IN ('customer_first', 'agent_first')", name="dial_mode"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    language: Mapped[str] = mapped_column(String(8), default="en")
    region: Mapped[str] = mapped_column(String(2), default="GB")
    agent_target: Mapped[str | None] = mapped_column(String(255))
    dial_mode: Mapped[str] = mapped_column(String(16), default="customer_first")
    inbound_numbers: Mapped[list[str]] = mapped_column(JSON, default=list)  # E.164 numbers callers dial
    offer_threshold_seconds: Mapped[int] = mapped_column(Integer, default=60)
    offer_at_entry: Mapped[bool] = mapped_column(Boolean, default=False)
    offer_repeat_seconds: Mapped[int] = mapped_column(Integer, default=60)
    # How a holding caller waits (docs/queues.md, "Holding"): "dial" rings agent_target;
    # "enqueue" puts a Twilio caller in the Twilio queue twilio_queue (None: the queue's key).
    hold_mode: Mapped[str] = mapped_column(String(8), default="dial", server_default="dial")
    twilio_queue: Mapped[str | None] = mapped_column(String(64))
    # Our own wait estimate: callers_waiting x average_handle_seconds / agents (EWT).
    callers_waiting: Mapped[int] = mapped_column(Integer, default=0)
    agents: Mapped[int] = mapped_column(Integer, default=1)
    average_handle_seconds: Mapped[int] = mapped_column(Integer, default=300)
    estimated_wait_seconds: Mapped[int] = mapped_column(Integer, default=300)
    lead_minutes: Mapped[int] = mapped_column(Integer, default=30)
    horizon_days: Mapped[int] = mapped_column(Integer, default=14)
    asap_reserve_percent: Mapped[int] = mapped_column(Integer, default=0)
    collect_off_hours: Mapped[bool] = mapped_column(Boolean, default=False)
    allowed_countries: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_concurrent_calls: Mapped[int] = mapped_column(Integer, default=10)
    over_dial_ratio: Mapped[float] = mapped_column(Float, default=0.0, server_default="0")
    # Taking and dialling callbacks (scheduler/offer_limits.py): switches and thresholds.
    register_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=expression.true())
    process_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=expression.true())
    max_pending: Mapped[int | None] = mapped_column(Integer)
    max_ecbt_seconds: Mapped[int | None] = mapped_column(Integer)
    # Live agent figures polled from Twilio TaskRouter (services/taskrouter_figures.py): both or neither.
    taskrouter_workspace_sid: Mapped[str | None] = mapped_column(String(34))  # WS + 32 hex
    taskrouter_task_queue_sid: Mapped[str | None] = mapped_column(String(34))  # WQ + 32 hex
    # Agent-first through TaskRouter (services/dialer/reservations.py): the workflow of its tasks.
    taskrouter_workflow_sid: Mapped[str | None] = mapped_column(String(34))  # WW + 32 hex
    caller_id: Mapped[str | None] = mapped_column(String(20))  # the number callbacks come from
    primary_provider: Mapped[str | None] = mapped_column(String(16))  # None: the configured provider
    secondary_provider: Mapped[str | None] = mapped_column(String(16))  # failover when the primary fails
    voicemail_text: Mapped[str | None] = mapped_column(String(500))
    # An answering machine: hang_up | leave_message (None: leave_message when voicemail_text
    # is set); after a message left, retry | close (scheduler/machine.py).
    machine_action: Mapped[str | None] = mapped_column(String(16))
    after_message: Mapped[str] = mapped_column(String(8), default="retry", server_default="retry")
    # Inbound prompts played from a recording instead of text-to-speech: prompt key -> https URL.
    prompt_audio: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    retry_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Texts before a scheduled callback (sms/reminders.py; docs/sms.md "Reminders").
    reminders: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # The web widget and hosted booking page: origins, extra fields, units, blocked numbers.
    widget: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # Days after which its finished callbacks are anonymised (None: RETENTION_DAYS).
    retention_days: Mapped[int | None] = mapped_column(Integer)
    # A fresh random tag whenever weekly hours or date overrides change: keys the
    # in-process calendar cache (random, so that no two databases ever share one).
    calendar_tag: Mapped[str] = mapped_column(String(32), default=lambda: uuid.uuid4().hex)
    # Slots exist as rows up to and including this local date (see services/slot_sync.py).
    slots_until: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)

    weekly_hours: Mapped[list[WeeklyHours]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", order_by="(WeeklyHours.weekday, WeeklyHours.opens)"
    )
    date_overrides: Mapped[list[DateOverride]] = relationship(
        back_populates="queue", cascade="all, delete-orphan", order_by="(DateOverride.day, DateOverride.opens)"
    )


class WeeklyHours(Base):
    """One open interval of a weekday in the queue's template (several rows = several intervals)."""

    __tablename__ = "weekly_hours"
    __table_args__ = (
        UniqueConstraint("queue_id", "weekday", "opens", name="uq_weekly_hours_interval"),
        CheckConstraint("weekday BETWEEN 0 AND 6", name="weekday"),
        CheckConstraint("slot_minutes BETWEEN 1 AND 1440", name="slot_minutes"),
        CheckConstraint("capacity >= 0", name="capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    weekday: Mapped[int] = mapped_column(Integer)  # 0 = Monday
    opens: Mapped[time] = mapped_column(Time)
    closes: Mapped[time] = mapped_column(Time)  # 00:00 = midnight
    slot_minutes: Mapped[int] = mapped_column(Integer)
    capacity: Mapped[int] = mapped_column(Integer)  # seats per slot (derived, when agents is set)
    # Seats derived from staffing: agents on shift and the share of their time for callbacks.
    agents: Mapped[int | None] = mapped_column(Integer)
    callback_percent: Mapped[int | None] = mapped_column(Integer)

    queue: Mapped[Queue] = relationship(back_populates="weekly_hours")


class DateOverride(Base):
    """A date that does not follow the template: closed (one row, closed=true) or special intervals."""

    __tablename__ = "date_override"
    __table_args__ = (
        UniqueConstraint("queue_id", "day", "opens", name="uq_date_override_interval"),
        CheckConstraint(
            "(closed AND opens IS NULL AND closes IS NULL AND slot_minutes IS NULL AND capacity IS NULL)"
            " OR (NOT closed AND opens IS NOT NULL AND closes IS NOT NULL"
            " AND slot_minutes BETWEEN 1 AND 1440 AND capacity >= 0)",
            name="closed_or_interval",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    closed: Mapped[bool] = mapped_column(Boolean, default=False)
    opens: Mapped[time | None] = mapped_column(Time)
    closes: Mapped[time | None] = mapped_column(Time)
    slot_minutes: Mapped[int | None] = mapped_column(Integer)
    capacity: Mapped[int | None] = mapped_column(Integer)
    agents: Mapped[int | None] = mapped_column(Integer)  # as on WeeklyHours
    callback_percent: Mapped[int | None] = mapped_column(Integer)
    note: Mapped[str | None] = mapped_column(String(200))

    queue: Mapped[Queue] = relationship(back_populates="date_overrides")


class Slot(Base):
    """A bookable interval with its seats. Booking is one conditional UPDATE of ``booked``."""

    __tablename__ = "slot"
    __table_args__ = (
        UniqueConstraint("queue_id", "starts_at", name="uq_slot_queue_start"),
        CheckConstraint("booked >= 0", name="booked_nonnegative"),
        CheckConstraint("booked <= capacity", name="never_overbooked"),
        CheckConstraint("reserved >= 0 AND reserved <= capacity", name="reserved_within_capacity"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    capacity: Mapped[int] = mapped_column(Integer)
    reserved: Mapped[int] = mapped_column(Integer, default=0)  # seats only ASAP callbacks may take
    booked: Mapped[int] = mapped_column(Integer, default=0)
    # False once the calendar no longer has this slot: it takes no new bookings.
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # A capacity a supervisor set for this one slot (the console's grid): kept when the
    # slots are re-planned from the weekly template; None follows the template.
    capacity_override: Mapped[int | None] = mapped_column(Integer)


LIVE_STATE_VALUES = sorted(s.value for s in LIVE_STATES)  # one order everywhere: the index and the queries
LIVE_PREDICATE = "state IN ({})".format(", ".join(f"'{v}'" for v in LIVE_STATE_VALUES))


class Callback(Base):
    __tablename__ = "callback"
    __table_args__ = (
        CheckConstraint("kind IN ('asap', 'scheduled')", name="kind"),
        CheckConstraint("source IN ('ivr', 'sms', 'web', 'api', 'console')", name="source"),
        # One live callback per phone and queue, by construction (duplicate suppression).
        Index(
            "uq_callback_live_phone",
            "queue_id",
            "phone",
            unique=True,
            sqlite_where=text(LIVE_PREDICATE),
            postgresql_where=text(LIVE_PREDICATE),
        ),
        Index("ix_callback_due", "state", "next_attempt_at"),
        # The daily retention pass reads callbacks not yet anonymised, by queue and age.
        Index(
            "ix_callback_not_anonymised",
            "queue_id",
            "updated_at",
            sqlite_where=text("anonymised_at IS NULL"),
            postgresql_where=text("anonymised_at IS NULL"),
        ),
        # Lookups by number alone (inbound calls and texts, any state).
        Index("ix_callback_phone_queue", "phone", "queue_id"),
        # Never two calls at once to one number, whatever the queue.
        Index(
            "uq_callback_phone_on_call",
            "phone",
            unique=True,
            sqlite_where=text("state IN ('dialing', 'connected')"),
            postgresql_where=text("state IN ('dialing', 'connected')"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    ref: Mapped[str] = mapped_column(String(16), unique=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="RESTRICT"), index=True)
    phone: Mapped[str] = mapped_column(String(20))
    name: Mapped[str | None] = mapped_column(String(200))
    fields: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    tags: Mapped[list[str]] = mapped_column(JSON, default=list)
    unit: Mapped[str | None] = mapped_column(String(100))
    source: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    slot_id: Mapped[int | None] = mapped_column(ForeignKey("slot.id", ondelete="RESTRICT"), index=True)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # An ASAP callback's estimated callback time as told, "between 10:08 and 10:10"
    # (scheduler/ecbt.py); None for a scheduled one, whose slot is the promise.
    promised_from: Mapped[datetime | None] = mapped_column(UTCDateTime)
    promised_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Consecutive provider API failures (not the customer's doing): drives the backoff.
    dial_errors: Mapped[int] = mapped_column(Integer, default=0)
    locale: Mapped[str] = mapped_column(String(8), default="en")
    sms_consent: Mapped[bool] = mapped_column(Boolean, default=False)
    # How consent to texts was given (scheduler/consent.py): the channel, when, and the
    # version of the wording the customer saw or heard. None when they did not agree.
    sms_consent_channel: Mapped[str | None] = mapped_column(String(16))
    sms_consent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    sms_consent_wording: Mapped[str | None] = mapped_column(String(32))
    # Where a web visitor came from (scheduler/attribution.py): UTM values, referrer, landing
    # page, first-visit session key; None when the booking brought none.
    attribution: Mapped[dict[str, str] | None] = mapped_column(JSON(none_as_null=True))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Set when its personal data was removed (retention or an erasure request; services/personal_data.py).
    anonymised_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    queue: Mapped[Queue] = relationship()
    slot: Mapped[Slot | None] = relationship()
    events: Mapped[list[CallbackEvent]] = relationship(
        back_populates="callback", order_by="CallbackEvent.id", cascade="all, delete-orphan"
    )

    @property
    def promised_at(self) -> datetime | None:
        """The time the customer was told: a scheduled callback's slot start, else when it
        is due (None once it is not due any more)."""
        if self.kind == "scheduled" and self.slot is not None:
            return self.slot.starts_at
        return self.next_attempt_at

    @property
    def promised_window(self) -> tuple[datetime, datetime] | None:
        """The range the customer was told, while it still holds: a scheduled callback's
        slot, an ASAP callback's ECBT range until its first call (None after, and once it is
        not due any more)."""
        if self.state not in DUE_STATES:
            return None
        if self.kind == "scheduled" and self.slot is not None:
            return self.slot.starts_at, self.slot.ends_at
        if self.promised_from is not None and self.promised_until is not None and self.attempts == 0:
            return self.promised_from, self.promised_until
        return None


class CallbackEvent(Base):
    """One row per life-cycle step: who moved the callback from where to where, when and why."""

    __tablename__ = "callback_event"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback.id", ondelete="CASCADE"), index=True)
    step: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str] = mapped_column(String(16))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    callback: Mapped[Callback] = relationship(back_populates="events")


class IdempotencyRecord(Base):
    """The stored answer to a request sent with an Idempotency-Key, replayed on a retry."""

    __tablename__ = "idempotency_record"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_scope_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(255))
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)


class Attempt(Base):
    """One dial: the call detail record (CDR) of a callback's attempt.

    Written before the provider is asked to call, so a crash between the provider's
    answer and saving its call id leaves a row to reconcile, never a lost dial."""

    __tablename__ = "attempt"
    __table_args__ = (
        UniqueConstraint("callback_id", "number", name="uq_attempt_callback_number"),
        UniqueConstraint("provider", "call_id", name="uq_attempt_provider_call"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    callback_id: Mapped[int] = mapped_column(ForeignKey("callback.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    provider: Mapped[str] = mapped_column(String(16))
    failover_from: Mapped[str | None] = mapped_column(String(16))
    call_id: Mapped[str | None] = mapped_column(String(64))
    call_state: Mapped[str] = mapped_column(String(16), default="requested")
    outcome: Mapped[str | None] = mapped_column(String(24))
    menu_choice: Mapped[str | None] = mapped_column(String(16))
    agent_first: Mapped[bool] = mapped_column(Boolean, default=False)  # the call rang the agent first
    customer_leg_state: Mapped[str | None] = mapped_column(String(16))  # agent-first: the customer's leg
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[int | None] = mapped_column(Integer)
    billable_seconds: Mapped[int | None] = mapped_column(Integer)
    answered_by: Mapped[str | None] = mapped_column(String(16))
    recording_url: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(Text)
    last_sequence: Mapped[int | None] = mapped_column(BigInteger)  # Vonage: epoch milliseconds
    # A machine verdict acted on (once, set under the attempt's lock before the provider is
    # asked to redirect the call): when, and how (hang_up | leave_message).
    machine_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    machine_handling: Mapped[str | None] = mapped_column(String(16))
    # The provider took the machine's redirect (services/dialer/machines.py); until then it is retried.
    machine_redirected_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    machine_redirect_tries: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    # Agent-first through TaskRouter (services/dialer/reservations.py): the task that reserves
    # the agent, and when we closed it (completed or cancelled) once the attempt ended.
    task_sid: Mapped[str | None] = mapped_column(String(34))  # WT + 32 hex
    task_closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    callback: Mapped[Callback] = relationship()


class WebhookReceipt(Base):
    """Every call-progress report, once per dedupe key: the inbox of the status webhook.

    The webhook stores the parsed report here with one INSERT … ON CONFLICT DO NOTHING (a
    redelivery finds its row and does nothing) and the worker applies it (services/call_inbox.py).
    Reports fetched from the provider by reconciliation are stored already applied."""

    __tablename__ = "webhook_receipt"
    __table_args__ = (
        UniqueConstraint("provider", "dedupe_key", name="uq_webhook_receipt_key"),
        # What the applier reads: unapplied rows in arrival order. Partial, so it stays as
        # small as the backlog whatever the table holds.
        Index(
            "ix_webhook_receipt_unapplied",
            "id",
            sqlite_where=text("applied_at IS NULL"),
            postgresql_where=text("applied_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    provider: Mapped[str] = mapped_column(String(16))
    dedupe_key: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    # No foreign key: the webhook's INSERT would take a share lock on the attempt row and so
    # wait for an applier that holds it. The id comes from our own signed URL.
    attempt_id: Mapped[int | None] = mapped_column(BigInteger().with_variant(Integer, "sqlite"))
    event: Mapped[dict[str, Any] | None] = mapped_column(JSON)  # services.call_inbox.event_to_json
    applied_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    tries: Mapped[int] = mapped_column(Integer, default=0)  # failed attempts to apply it
    error: Mapped[str | None] = mapped_column(Text)  # why the last try failed


class DialPacer(Base):
    """The next instant a call may be placed through a provider: one row shared by every
    worker, so together they never exceed the provider's calls per second."""

    __tablename__ = "dial_pacer"

    provider: Mapped[str] = mapped_column(String(16), primary_key=True)
    next_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ShortLink(Base):
    """A short code in a text (``/b/<code>``) standing for a signed booking URL, so that a
    text with a link stays within two segments even in Cyrillic."""

    __tablename__ = "short_link"
    __table_args__ = (Index("ix_short_link_expires_at", "expires_at"),)

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    token: Mapped[str] = mapped_column(Text)  # the signed booking token (services/links.py)
    queue_key: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)


class UsedLink(Base):
    """A reschedule link that has moved its callback: single-use by its nonce (the primary
    key), written in the transaction that moves the callback."""

    __tablename__ = "used_link"

    nonce: Mapped[str] = mapped_column(String(32), primary_key=True)
    callback_ref: Mapped[str] = mapped_column(String(16))
    used_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the link's: then the row may go


class IvrOffer(Base):
    """An inbound call the IVR offered a callback to (once per call, however often it
    offered), and whether the caller took it: booked one or asked for a link. Keyed by the
    provider's call id, so that a retried webhook counts nothing twice. Read by reports."""

    __tablename__ = "ivr_offer"
    __table_args__ = (
        UniqueConstraint("provider", "call_id", name="uq_ivr_offer_call"),
        Index("ix_ivr_offer_queue_offered", "queue_id", "offered_at"),
    )

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    provider: Mapped[str] = mapped_column(String(16))
    call_id: Mapped[str] = mapped_column(String(64))
    offered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    accepted_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    choice: Mapped[str | None] = mapped_column(String(8))  # "asap" | "time" | "link"
    # Where the IVR first offered: "arrival", "menu" or "holding" (services/ivr_offers.py);
    # None for offers recorded before migration 0038.
    offer_point: Mapped[str | None] = mapped_column(String(8))
    # Once taken: the wait in the line the caller was spared then, as the IVR estimated it.
    wait_avoided_seconds: Mapped[int | None] = mapped_column(Integer)
    # The callback the caller booked (its ref), read back once they left a Twilio queue to
    # hear it (ivr_flows/inbound.py, ``dequeued``).
    callback_ref: Mapped[str | None] = mapped_column(String(16))


class AgentFigureReport(Base):
    """A queue's live agent figures, the latest report of its source (scheduler/agents.py):
    one row per queue, replaced only by a report measured at the same time or later."""

    __tablename__ = "agent_figures"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True)
    signed_in: Mapped[int] = mapped_column(Integer)
    available: Mapped[int] = mapped_column(Integer)
    average_handle_seconds: Mapped[int] = mapped_column(Integer)
    longest_wait_seconds: Mapped[int | None] = mapped_column(Integer)
    callers_waiting: Mapped[int | None] = mapped_column(Integer)  # in the ACD's line; None: not reported
    source: Mapped[str] = mapped_column(String(32))  # push | simulator | twilio_taskrouter
    reported_at: Mapped[datetime] = mapped_column(UTCDateTime)  # when the source measured them
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)


class CentreSwitches(Base):
    """The switches for every queue at once (services/centre_switches.py): take new
    callbacks, dial the waiting ones. One row (``id`` 1); a queue takes or dials only
    while both its own switch and this one are on."""

    __tablename__ = "centre_switches"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    register_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=expression.true())
    process_enabled: Mapped[bool] = mapped_column(Boolean, default=True, server_default=expression.true())
    changed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    changed_by: Mapped[str | None] = mapped_column(String(254))


class WorkerHeartbeat(Base):
    """One row per worker process (``hostname:pid``), upserted by its heartbeat tick:
    ``/readyz`` is ready only while some worker beat recently (app/health.py). Rows of
    workers long gone are deleted by the beats of the living."""

    __tablename__ = "worker_heartbeat"

    worker_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)


class JobRun(Base):
    """One row per periodic job (the daily retention pass, the hourly upkeep): when its
    last run started and finished, and who holds it. Workers claim a due job by one
    conditional UPDATE of its row (services/periodic.py), so that it runs once per period in
    the whole cluster, not once per worker process or per restart. ``lease_until`` is set
    while a run holds the job (None once it finished); ``lease_owner`` is the worker that
    last claimed it; ``runs`` counts the runs started."""

    __tablename__ = "job_run"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    runs: Mapped[int] = mapped_column(Integer, default=0)


# Reports read a queue's events and attempts by time (services/reports.py).
Index("ix_callback_event_at", CallbackEvent.at)
Index("ix_attempt_requested_at", Attempt.requested_at)
# What the workers' follow-up tick reads every few seconds (services/dialer/machines.py,
# services/dialer/reservations.py): partial, so each stays as small as what is pending.
REDIRECT_PENDING = "machine_handled_at IS NOT NULL AND machine_redirected_at IS NULL AND outcome IS NULL"
TASK_OPEN = "task_sid IS NOT NULL AND task_closed_at IS NULL"
Index(
    "ix_attempt_redirect_pending",
    Attempt.machine_handled_at,
    sqlite_where=text(REDIRECT_PENDING),
    postgresql_where=text(REDIRECT_PENDING),
)
Index("ix_attempt_task_open", Attempt.id, sqlite_where=text(TASK_OPEN), postgresql_where=text(TASK_OPEN))

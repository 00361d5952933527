"""Booking, cancelling and rescheduling callbacks against the database.

The seat is the unit of truth: taking one is a single conditional UPDATE that succeeds
only while seats are left (``booked < capacity - reserved``), so no interleaving of any
number of processes can overbook, and the CHECK constraint ``booked <= capacity`` backs
it up. Every function here runs inside the caller's write transaction.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BindParameter, Select, Table, bindparam, insert, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from events import outbox
from events import types as event_types
from infra import metrics
from infra.event_models import OutboxEvent
from infra.logs import note_callback
from infra.models import LIVE_PREDICATE, LIVE_STATE_VALUES, Callback, CallbackEvent, Queue, Slot
from scheduler.booking import check_bookable, spread_in_slot
from scheduler.calendar import is_open
from scheduler.consent import consent_wording
from scheduler.ecbt import Promise
from scheduler.errors import CallbackNotFound, OutsideHours, SlotFull, SlotNotFound
from scheduler.lifecycle import State, next_state
from scheduler.phone import parse_phone
from services.asap_promise import DEFAULT_MAX_AGE, asap_promise, opening_promise
from services.callback_limits import check_taking
from services.queues import booking_policy, get_queue, queue_calendar
from services.seats import TAKE_SCHEDULED_SEAT, release_seat, take_seat
from services.slot_sync import ensure_slots, slots_are_current
from services.transitions import apply_step, step_event
from sms.reminders import sync_reminders

log = logging.getLogger(__name__)

REF_ALPHABET = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"  # no 0/O, 1/I: read aloud and typed from SMS
REF_LENGTH = 10  # 32**10 = 2**50 references
ASAP_CANDIDATE_SLOTS = 20


@dataclass(frozen=True)
class BookingRequest:
    queue: str
    phone: str
    kind: str  # "asap" | "scheduled"
    source: str  # ivr | sms | web | api | console
    slot_start: datetime | None = None
    name: str | None = None
    fields: list[dict[str, str]] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    unit: str | None = None
    locale: str | None = None
    sms_consent: bool = False
    # The version of the consent wording the customer saw (scheduler/consent.py); None: the channel's.
    consent_wording: str | None = None
    estimated_wait_seconds: int | None = None  # the IVR's estimate, else the line's now (services/asap_promise.py)
    attribution: dict[str, str] | None = None  # a web visitor's (scheduler/attribution.py kept)


@dataclass(frozen=True)
class BookingResult:
    callback: Callback
    created: bool


def new_ref() -> str:
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def _live_states() -> BindParameter[list[str]]:
    """The live states as sorted literals: SQLite uses the partial unique index
    uq_callback_live_phone only when a query repeats its predicate literally."""
    return bindparam("live", LIVE_STATE_VALUES, expanding=True, literal_execute=True)


def _find_live(session: Session, queue_id: int, phone: str) -> Callback | None:
    return session.scalars(
        select(Callback).where(
            Callback.queue_id == queue_id, Callback.phone == phone, Callback.state.in_(_live_states())
        )
    ).one_or_none()


def find_live_callback(session: Session, queue_id: int, phone: str) -> Callback | None:
    """The live callback of ``phone`` in the queue, if it has one (there is at most one)."""
    return _find_live(session, queue_id, phone)


# The hot path's statements, built once: constructing SQLAlchemy statements per request
# costs more than running them.
_CALLBACK: Table = Callback.__table__  # type: ignore[assignment]
_EVENT: Table = CallbackEvent.__table__  # type: ignore[assignment]
FIND_LIVE_ID = select(_CALLBACK.c.id).where(
    _CALLBACK.c.queue_id == bindparam("queue_id"),
    _CALLBACK.c.phone == bindparam("phone"),
    _CALLBACK.c.state.in_(_live_states()),
)
# A second live callback for the phone in the queue inserts nothing (the partial unique
# index is the arbiter): no savepoint, no exception on the duplicate path. (SQLite; on
# PostgreSQL the same INSERT is the first part of _pg_booking_write.)
INSERT_CALLBACK = (
    sqlite_insert(_CALLBACK)
    .on_conflict_do_nothing(index_elements=["queue_id", "phone"], index_where=text(LIVE_PREDICATE))
    .returning(_CALLBACK.c.id)
)
INSERT_EVENT = insert(_EVENT)
_OUTBOX: Table = OutboxEvent.__table__  # type: ignore[assignment]
_PG_BOOKING_WRITES: dict[tuple[str, ...], Select[Any]] = {}


def _pg_booking_write(columns: tuple[str, ...]) -> Select[Any]:
    """PostgreSQL: the callback, its life-cycle event and its CRM event in one statement
    (INSERT … ON CONFLICT DO NOTHING RETURNING in a CTE that the two other INSERTs select
    from: when the live-phone index refuses the callback, none of the three writes a row).
    Parameters: ``c_<column>`` for the callback, ``e_<column>`` for its event, ``o_<column>``
    for the outbox row. Built once per set of columns."""
    statement = _PG_BOOKING_WRITES.get(columns)
    if statement is not None:
        return statement
    new = (
        postgresql_insert(_CALLBACK)
        .values({name: bindparam(f"c_{name}", type_=_CALLBACK.c[name].type) for name in columns})
        .on_conflict_do_nothing(index_elements=["queue_id", "phone"], index_where=text(LIVE_PREDICATE))
        .returning(_CALLBACK.c.id)
        .cte("new_callback")
    )
    event_columns = ["step", "from_state", "to_state", "at", "actor", "reason", "payload"]
    life_cycle = insert(_EVENT).from_select(
        ["callback_id", *event_columns],
        select(new.c.id, *(bindparam(f"e_{name}", type_=_EVENT.c[name].type) for name in event_columns)),
    )
    outbox_columns = ["event_id", "type", "at", "queue_id", "data", "fanned_out"]
    crm = insert(_OUTBOX).from_select(
        [*outbox_columns, "callback_id"],
        select(*(bindparam(f"o_{name}", type_=_OUTBOX.c[name].type) for name in outbox_columns), new.c.id),
    )
    statement = select(new.c.id).add_cte(life_cycle.cte("life_cycle_event")).add_cte(crm.cte("crm_event"))
    _PG_BOOKING_WRITES[columns] = statement
    return statement


@dataclass(frozen=True)
class Seat:
    slot_id: int
    starts_at: datetime
    ends_at: datetime
    seat_number: int = 1  # 1-based: the n-th seat taken in the slot
    capacity: int = 1


def _scheduled_seat(session: Session, queue: Queue, start: datetime, now: datetime) -> Seat:
    """Take a seat in the slot starting at ``start``: one UPDATE … RETURNING when it has room."""
    check_bookable(booking_policy(queue), start, now)
    taken = session.connection().execute(TAKE_SCHEDULED_SEAT, {"for_queue": queue.id, "start": start}).one_or_none()
    if taken is not None:
        slot_id, starts_at, ends_at, booked, capacity = taken
        return Seat(slot_id, starts_at, ends_at, seat_number=booked, capacity=capacity)
    exists = session.scalar(
        select(Slot.id).where(Slot.queue_id == queue.id, Slot.starts_at == start, Slot.active.is_(True))
    )
    if exists is None:
        raise SlotNotFound("no slot starts at that time", {"slot_start": start.isoformat()})
    metrics.count_slot_full(queue.key, "scheduled")
    raise SlotFull("that time is fully booked; please choose another", {"slot_start": start.isoformat()})


def _asap_seat(session: Session, queue: Queue, due: datetime) -> Seat:
    """The seat an ASAP callback due at ``due`` takes: in the slot running then, or the
    next with room. ASAP callbacks may use the seats reserved for them."""
    while True:
        # Each pass reads afresh: a seat we lost went to a concurrent booking, so
        # every pass makes progress and the loop ends when no slot has a seat.
        candidates = session.execute(
            select(Slot.id, Slot.starts_at, Slot.ends_at)
            .where(Slot.queue_id == queue.id, Slot.ends_at > due, Slot.active.is_(True), Slot.booked < Slot.capacity)
            .order_by(Slot.starts_at)
            .limit(ASAP_CANDIDATE_SLOTS)
        ).all()
        if not candidates:
            metrics.count_slot_full(queue.key, "asap")
            raise SlotFull("no agent time is free for a callback soon; please book a time instead", {})
        for slot_id, starts_at, ends_at in candidates:
            if take_seat(session, slot_id, use_reserve=True):
                return Seat(slot_id, starts_at, ends_at)


def _closed_at(session: Session, queue: Queue, instant: datetime) -> bool:
    """Whether no slot of the queue runs at ``instant`` (full or not): closed then."""
    running = session.scalar(
        select(Slot.id)
        .where(Slot.queue_id == queue.id, Slot.active.is_(True), Slot.starts_at <= instant, Slot.ends_at > instant)
        .limit(1)
    )
    return running is None


def _promise_payload(values: dict[str, Any]) -> dict[str, str]:
    """The ECBT range told, on the book event (the reports' on-time rate counts against it)."""
    if values["promised_until"] is None:
        return {}
    return {
        "promised_from": values["promised_from"].isoformat(),
        "promised_until": values["promised_until"].isoformat(),
    }


@dataclass(frozen=True)
class PreparedBooking:
    """What a booking can learn before it takes the write lock (on SQLite, one writer at a
    time): the queue, the number in E.164, whether it already has a live callback, and
    for ASAP when it falls due. Everything here is checked again by the write itself."""

    queue: Queue
    phone: str
    has_live_callback: bool
    asap: Promise | None


def prepare_booking(
    session: Session, request: BookingRequest, now: datetime, agent_figures_max_age: timedelta = DEFAULT_MAX_AGE
) -> PreparedBooking:
    """The reads and checks of a booking; in any transaction, a read one will do. An ASAP
    callback's estimated callback time is worked out here (services/asap_promise.py)."""
    queue = get_queue(session, request.queue)
    phone = parse_phone(request.phone, queue.region, queue.allowed_countries)
    live = session.connection().execute(FIND_LIVE_ID, {"queue_id": queue.id, "phone": phone}).first() is not None
    promised = None
    if request.kind == "asap":
        if not queue.collect_off_hours and not is_open(queue_calendar(queue), now):
            raise OutsideHours("we are closed now; please book a time for your callback", {})
        promised = asap_promise(session, queue, now, request.estimated_wait_seconds, agent_figures_max_age)
    if not live:  # a duplicate gets its live callback back, whatever the limits
        check_taking(session, queue, now, promised.due if promised is not None else None)
    return PreparedBooking(queue, phone, live, promised)


def book(
    session: Session, request: BookingRequest, now: datetime, actor: str, prepared: PreparedBooking | None = None
) -> BookingResult:
    """Book a callback, or return the live one this phone already has in the queue.

    ``prepared`` comes from ``prepare_booking`` run before this write transaction (the API
    does so, in a read transaction, to keep the write lock short); without it the
    preparation runs here. The write is the seat (one conditional UPDATE … RETURNING),
    then the callback (INSERT … ON CONFLICT DO NOTHING on the live-phone index, so that a
    duplicate that lost a race gives its seat back), its life-cycle event and its CRM
    event (the outbox, events/outbox.py): three statements on SQLite, one on PostgreSQL
    (_pg_booking_write)."""
    prepared = prepared or prepare_booking(session, request, now)
    queue, phone = prepared.queue, prepared.phone
    if prepared.has_live_callback:
        existing = _find_live(session, queue.id, phone)
        if existing is not None:
            return BookingResult(existing, created=False)
    if not slots_are_current(queue, now):  # rare: once a day per queue when no worker made the rows yet
        queue = get_queue(session, request.queue)
        ensure_slots(session, queue, now)
    connection = session.connection()
    if request.kind == "scheduled":
        assert request.slot_start is not None
        seat = _scheduled_seat(session, queue, request.slot_start, now)
        due = spread_in_slot(seat.starts_at, seat.ends_at, seat.seat_number, seat.capacity)
    else:
        assert prepared.asap is not None
        promised = prepared.asap
        seat = _asap_seat(session, queue, promised.due)
        if seat.starts_at > promised.due and _closed_at(session, queue, promised.due):
            promised = opening_promise(session, queue, seat.starts_at)  # booked while closed
        due = promised.due
    values: dict[str, Any] = {
        "ref": new_ref(),
        "queue_id": queue.id,
        "phone": phone,
        "name": request.name,
        "fields": request.fields,
        "tags": request.tags,
        "unit": request.unit,
        "source": request.source,
        "kind": request.kind,
        "state": State.SCHEDULED.value,
        "attempts": 0,
        "dial_errors": 0,  # every column with a default is given (a CTE's INSERT applies none)
        "locale": request.locale or queue.language,
        "sms_consent": request.sms_consent,
        "sms_consent_channel": request.source if request.sms_consent else None,
        "sms_consent_at": now if request.sms_consent else None,
        "sms_consent_wording": (request.consent_wording or consent_wording(request.source))
        if request.sms_consent
        else None,
        "attribution": request.attribution,
        "created_at": now,
        "updated_at": now,
        "slot_id": seat.slot_id,
        "next_attempt_at": due,
        "promised_from": promised.earliest if request.kind == "asap" else None,
        "promised_until": promised.latest if request.kind == "asap" else None,
    }
    event = step_event(
        "book",
        None,
        now,
        actor,
        reason=f"{request.kind} callback requested via {request.source}",
        payload={"slot_start": seat.starts_at.isoformat(), "due_at": due.isoformat()} | _promise_payload(values),
    )
    assert event is not None and event["to_state"] == values["state"]
    # The row about to be written, as an object for the caller (not attached to the session).
    callback = Callback(**values)
    callback.queue = queue
    callback.slot = Slot(id=seat.slot_id, queue_id=queue.id, starts_at=seat.starts_at, ends_at=seat.ends_at)
    change = {k: event[k] for k in ("step", "from_state", "to_state", "actor", "reason")}
    change["details"] = event["payload"]
    crm_event = outbox.event_row(
        event_types.CREATED,
        now,
        {"callback": outbox.callback_facts(callback), "change": change},
        queue_id=queue.id,
        callback_id=None,
    )
    if connection.dialect.name == "postgresql":  # one statement, one round trip
        params = {f"c_{k}": v for k, v in values.items()} | {f"e_{k}": v for k, v in event.items()}
        params |= {f"o_{k}": v for k, v in crm_event.items() if k != "callback_id"}
        callback_id: int | None = connection.execute(_pg_booking_write(tuple(values)), params).scalar_one_or_none()
    else:
        callback_id = connection.execute(INSERT_CALLBACK, values).scalar_one_or_none()
        if callback_id is not None:
            connection.execute(INSERT_EVENT, event | {"callback_id": callback_id})
            connection.execute(outbox.INSERT_EVENT, crm_event | {"callback_id": callback_id})
    if callback_id is None:  # a concurrent booking for this phone got in first: give the seat back
        release_seat(session, seat.slot_id)
        existing = _find_live(session, queue.id, phone)
        if existing is None:
            raise AssertionError("the live-phone index refused a callback but no live callback exists")
        return BookingResult(existing, created=False)
    callback.id = callback_id
    if request.sms_consent:
        sync_reminders(session, callback, now)
    note_callback(callback.ref)
    log.info(
        "callback %s: booked (%s via %s) in queue %s, due %s",
        callback.ref,
        request.kind,
        request.source,
        queue.key,
        due.isoformat(),
        extra={"callback": callback.ref},
    )
    return BookingResult(callback, created=True)


def get_callback(session: Session, ref: str, *, for_update: bool = False) -> Callback:
    ref = ref.strip().upper()
    if len(ref) != REF_LENGTH or not set(ref) <= set(REF_ALPHABET):
        raise CallbackNotFound(f"no callback {ref!r}", {"ref": ref})
    stmt = select(Callback).where(Callback.ref == ref)
    if for_update:
        stmt = stmt.with_for_update()
    callback = session.scalars(stmt).one_or_none()
    if callback is None:
        raise CallbackNotFound(f"no callback {ref!r}", {"ref": ref})
    return callback


def cancel(session: Session, ref: str, now: datetime, actor: str, reason: str | None = None) -> Callback:
    """Cancel and give the seat back. Cancelling a cancelled callback changes nothing."""
    callback = get_callback(session, ref, for_update=True)
    if not apply_step(session, callback, "cancel", now, actor, reason or "cancelled"):
        return callback
    if callback.slot_id is not None:
        release_seat(session, callback.slot_id)
    callback.next_attempt_at = None
    sync_reminders(session, callback, now)  # its planned reminders stop now
    return callback


def reschedule(session: Session, ref: str, slot_start: datetime, now: datetime, actor: str) -> Callback:
    """Move to another slot atomically: the new seat is taken and the old one given back
    in this transaction, or (on any error) nothing changes."""
    callback = get_callback(session, ref, for_update=True)
    next_state(callback.state, "reschedule")  # raises not_reschedulable
    old_slot = callback.slot
    if old_slot is not None and old_slot.starts_at == slot_start and callback.kind == "scheduled":
        return callback
    queue = callback.queue
    ensure_slots(session, queue, now)
    seat = _scheduled_seat(session, queue, slot_start, now)
    if old_slot is not None:
        release_seat(session, old_slot.id)
    new_slot = session.get_one(Slot, seat.slot_id)
    apply_step(
        session,
        callback,
        "reschedule",
        now,
        actor,
        reason="moved to another slot",
        payload={
            "from_slot_start": old_slot.starts_at.isoformat() if old_slot else None,
            "to_slot_start": new_slot.starts_at.isoformat(),
        },
    )
    callback.slot = new_slot
    callback.kind = "scheduled"
    callback.next_attempt_at = new_slot.starts_at
    sync_reminders(session, callback, now)  # its reminders move with it
    return callback

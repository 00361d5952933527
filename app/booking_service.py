"""Booking, cancelling and rescheduling callbacks against the database.

The seat is the unit of truth: taking one is a single conditional UPDATE that succeeds
only while seats are left (``booked < capacity - reserved``), so no interleaving of any
number of processes can overbook, and the CHECK constraint ``booked <= capacity`` backs
it up. Every function here runs inside the caller's write transaction.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from app.models import Callback, Queue, Slot
from app.queues import booking_policy, get_queue, queue_calendar
from app.slot_sync import ensure_slots
from app.transitions import apply_step, record_event
from scheduler.booking import asap_due_at, check_bookable
from scheduler.calendar import is_open
from scheduler.errors import CallbackNotFound, OutsideHours, SlotFull, SlotNotFound
from scheduler.lifecycle import LIVE_STATES, State, next_state
from scheduler.phone import parse_phone

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
    estimated_wait_seconds: int | None = None  # the IVR's estimate, else the queue's setting


@dataclass(frozen=True)
class BookingResult:
    callback: Callback
    created: bool


def new_ref() -> str:
    return "".join(secrets.choice(REF_ALPHABET) for _ in range(REF_LENGTH))


def _take_seat(session: Session, slot_id: int, *, use_reserve: bool) -> bool:
    limit = Slot.capacity if use_reserve else Slot.capacity - Slot.reserved
    result = session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.active.is_(True), Slot.booked < limit)
        .values(booked=Slot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _release_seat(session: Session, slot_id: int) -> None:
    session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )


def _find_live(session: Session, queue_id: int, phone: str) -> Callback | None:
    return session.scalars(
        select(Callback).where(
            Callback.queue_id == queue_id,
            Callback.phone == phone,
            Callback.state.in_([s.value for s in LIVE_STATES]),
        )
    ).one_or_none()


def _scheduled_slot(session: Session, queue: Queue, start: datetime, now: datetime) -> Slot:
    check_bookable(booking_policy(queue), start, now)
    slot = session.scalars(
        select(Slot).where(Slot.queue_id == queue.id, Slot.starts_at == start, Slot.active.is_(True))
    ).one_or_none()
    if slot is None:
        raise SlotNotFound("no slot starts at that time", {"slot_start": start.isoformat()})
    if not _take_seat(session, slot.id, use_reserve=False):
        raise SlotFull("that time is fully booked; please choose another", {"slot_start": start.isoformat()})
    return slot


def _asap_slot(session: Session, queue: Queue, due: datetime) -> Slot:
    """The slot an ASAP callback due at ``due`` occupies: the one running then, or the next
    with a seat. ASAP callbacks may use the seats reserved for them."""
    while True:
        # Each pass reads afresh: a seat we lost went to a concurrent booking, so
        # every pass makes progress and the loop ends when no slot has a seat.
        candidates = session.scalars(
            select(Slot)
            .where(Slot.queue_id == queue.id, Slot.ends_at > due, Slot.active.is_(True), Slot.booked < Slot.capacity)
            .order_by(Slot.starts_at)
            .limit(ASAP_CANDIDATE_SLOTS)
        ).all()
        if not candidates:
            raise SlotFull("no agent time is free for a callback soon; please book a time instead", {})
        for slot in candidates:
            if _take_seat(session, slot.id, use_reserve=True):
                return slot


def book(session: Session, request: BookingRequest, now: datetime, actor: str) -> BookingResult:
    """Book a callback, or return the live one this phone already has in the queue."""
    queue = get_queue(session, request.queue)
    phone = parse_phone(request.phone, queue.region, queue.allowed_countries)
    existing = _find_live(session, queue.id, phone)
    if existing is not None:
        return BookingResult(existing, created=False)
    ensure_slots(session, queue, now)

    try:
        with session.begin_nested():  # a duplicate lost the race: give the seat back
            if request.kind == "scheduled":
                assert request.slot_start is not None
                slot = _scheduled_slot(session, queue, request.slot_start, now)
                due = slot.starts_at
            else:
                if not queue.collect_off_hours and not is_open(queue_calendar(queue), now):
                    raise OutsideHours("we are closed now; please book a time for your callback", {})
                wait = request.estimated_wait_seconds
                due = asap_due_at(now, queue.estimated_wait_seconds if wait is None else wait)
                slot = _asap_slot(session, queue, due)
                due = max(due, slot.starts_at)
            callback = Callback(
                ref=new_ref(),
                queue=queue,
                phone=phone,
                name=request.name,
                fields=request.fields,
                tags=request.tags,
                unit=request.unit,
                source=request.source,
                kind=request.kind,
                slot_id=slot.id,
                state=State.SCHEDULED.value,
                attempts=0,
                next_attempt_at=due,
                locale=request.locale or queue.language,
                sms_consent=request.sms_consent,
                created_at=now,
                updated_at=now,
            )
            session.add(callback)
            record_event(
                session,
                callback,
                "book",
                None,
                State.SCHEDULED.value,
                now,
                actor,
                reason=f"{request.kind} callback requested via {request.source}",
                payload={"slot_start": slot.starts_at.isoformat(), "due_at": due.isoformat()},
            )
            session.flush()
    except IntegrityError:
        existing = _find_live(session, queue.id, phone)
        if existing is None:
            raise
        return BookingResult(existing, created=False)
    callback.slot = slot
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
        _release_seat(session, callback.slot_id)
    callback.next_attempt_at = None
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
    new_slot = _scheduled_slot(session, queue, slot_start, now)
    if old_slot is not None:
        _release_seat(session, old_slot.id)
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
    return callback

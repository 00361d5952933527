"""Seats in slots: the one place a seat is taken or given back.

A seat is taken by one conditional UPDATE (the slot active and not full), so that
concurrent bookings on any number of processes never overbook; a seat is given back the
same way, never below zero."""

from __future__ import annotations

from typing import cast

from sqlalchemy import Table, bindparam, update
from sqlalchemy.orm import Session

from infra.models import Slot

_SLOT = cast(Table, Slot.__table__)
# The booking's hot path, built once: a seat in the queue's slot that starts then, outside
# the ASAP reserve, with what the booking needs about the slot.
TAKE_SCHEDULED_SEAT = (
    update(_SLOT)
    .where(
        _SLOT.c.queue_id == bindparam("for_queue"),
        _SLOT.c.starts_at == bindparam("start"),
        _SLOT.c.active.is_(True),
        _SLOT.c.booked < _SLOT.c.capacity - _SLOT.c.reserved,
    )
    .values(booked=_SLOT.c.booked + 1)
    .returning(_SLOT.c.id, _SLOT.c.starts_at, _SLOT.c.ends_at, _SLOT.c.booked, _SLOT.c.capacity)
)


def take_seat(session: Session, slot_id: int, *, use_reserve: bool) -> bool:
    """Take a seat in the slot if it has one free; ``use_reserve``: the seats held back for
    ASAP callbacks count as free (ASAP bookings and the dialer's rebooking use them)."""
    limit = Slot.capacity if use_reserve else Slot.capacity - Slot.reserved
    result = session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.active.is_(True), Slot.booked < limit)
        .values(booked=Slot.booked + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def release_seat(session: Session, slot_id: int | None) -> None:
    """Give back a seat (nothing for a callback without a slot)."""
    if slot_id is None:
        return
    session.execute(
        update(Slot)
        .where(Slot.id == slot_id, Slot.booked > 0)
        .values(booked=Slot.booked - 1)
        .execution_options(synchronize_session=False)
    )

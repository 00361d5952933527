"""Keeping slot rows in step with the calendar: what to insert, change and retire.

Slot rows are the seats customers book, so a template change must never take a seat
away from someone who holds it: a slot that shrinks keeps at least its booked seats,
and a slot the calendar no longer has is retired (inactive: no new bookings, its
callbacks keep their seats), not deleted.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from scheduler.booking import reserved_seats
from scheduler.calendar import SlotSpec


@dataclass(frozen=True)
class ExistingSlot:
    id: int
    starts_at: datetime
    ends_at: datetime
    capacity: int
    reserved: int
    booked: int
    active: bool = True
    capacity_override: int | None = None  # set for this slot alone: wins over the template


@dataclass(frozen=True)
class SlotInsert:
    starts_at: datetime
    ends_at: datetime
    capacity: int
    reserved: int


@dataclass(frozen=True)
class SlotUpdate:
    id: int
    ends_at: datetime
    capacity: int
    reserved: int
    active: bool = True


@dataclass(frozen=True)
class SlotPlan:
    inserts: list[SlotInsert]
    updates: list[SlotUpdate]


def plan_slots(desired: Iterable[SlotSpec], existing: Iterable[ExistingSlot], reserve_percent: int) -> SlotPlan:
    """Changes that make the existing rows (of one date range) match the desired slots."""
    by_start = {slot.starts_at: slot for slot in existing}
    inserts: list[SlotInsert] = []
    updates: list[SlotUpdate] = []
    for spec in desired:
        reserved = reserved_seats(spec.capacity, reserve_percent)
        row = by_start.pop(spec.starts_at, None)
        if row is None:
            inserts.append(SlotInsert(spec.starts_at, spec.ends_at, spec.capacity, reserved))
            continue
        wanted = spec.capacity if row.capacity_override is None else row.capacity_override
        capacity = max(wanted, row.booked)
        reserved = min(reserved_seats(wanted, reserve_percent), capacity)
        if (row.ends_at, row.capacity, row.reserved, row.active) != (spec.ends_at, capacity, reserved, True):
            updates.append(SlotUpdate(row.id, spec.ends_at, capacity, reserved))
    for row in by_start.values():  # no longer in the calendar: no new bookings
        if row.active:
            updates.append(SlotUpdate(row.id, row.ends_at, row.capacity, row.reserved, active=False))
    return SlotPlan(inserts, updates)


def capacity_from_staffing(agents: int, slot_minutes: int, callback_percent: int, average_handle_seconds: int) -> int:
    """Seats in one slot when a supervisor gives staffing instead of a number: the agent
    time of the slot kept for callbacks, in whole calls of average handle time (AHT),
    rounded down: agents × slot length × callback share ÷ AHT. 3 agents, 15-minute slots,
    half of their time for callbacks, 300 s a call: 3 × 900 × 0.5 ÷ 300 = 4 seats."""
    if average_handle_seconds <= 0:
        raise ValueError("average_handle_seconds must be more than 0 to derive seats from staffing")
    return agents * slot_minutes * 60 * callback_percent // (100 * average_handle_seconds)

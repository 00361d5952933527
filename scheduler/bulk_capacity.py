"""Capacity changed in bulk from the console's grid: which slots a selection, a copied
week or a pattern covers, the check against the seats booked, and the summary the audit
log keeps. Plain data in, plain data out; services/slot_capacity.py applies the result
in one transaction.

- A *pattern* is weekdays × a local time range (start times from ``starts`` up to, not
  including, ``ends``) × a date range. A range selected in the grid is the pattern of the
  selected days and rows; "Fridays 14:00–17:00 for 4 weeks" is one too.
- A *copy* gives each slot of the following weeks the capacity of this week's slot on
  the same weekday at the same local time (so 09:00 stays 09:00 across a change of
  clocks); a slot without a counterpart is left alone.
- Past slots (begun at ``now``) are never changed. If any remaining slot would go below
  its booked seats the whole change is refused, naming every such cell.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from scheduler.booking import reserved_seats
from scheduler.calendar import wall_time_label
from scheduler.errors import CapacityBelowBooked, SlotInThePast, ValidationFailed

MAX_SEATS = 10_000
MAX_WEEKS = 52
MAX_DAYS = 366


@dataclass(frozen=True)
class GridSlot:
    id: int
    starts_at: datetime  # aware
    capacity: int
    booked: int


@dataclass(frozen=True)
class Pattern:
    weekdays: frozenset[int]  # 0 is Monday
    starts: time  # local start times from here ...
    ends: time  # ... up to, not including, here
    first_day: date
    last_day: date  # included

    def __post_init__(self) -> None:
        problems = {}
        if not self.weekdays or not self.weekdays <= set(range(7)):
            problems["weekdays"] = "choose at least one weekday"
        if self.ends <= self.starts:
            problems["ends"] = "must be after the start time"
        if self.last_day < self.first_day:
            problems["last_day"] = "must be on or after the first day"
        elif (self.last_day - self.first_day).days >= MAX_DAYS:
            problems["last_day"] = f"at most {MAX_DAYS} days"
        if problems:
            raise ValidationFailed(
                "the range is not valid: " + "; ".join(f"{k} {v}" for k, v in problems.items()), problems
            )

    def asked(self) -> dict[str, object]:
        """The pattern as the audit entry keeps it."""
        return {
            "weekdays": sorted(self.weekdays),
            "starts": self.starts.strftime("%H:%M"),
            "ends": "24:00" if self.ends == time.max else self.ends.strftime("%H:%M"),
            "first_day": self.first_day.isoformat(),
            "last_day": self.last_day.isoformat(),
        }

    def covers(self, starts_at: datetime, zone: ZoneInfo) -> bool:
        local = starts_at.astimezone(zone)
        return (
            self.first_day <= local.date() <= self.last_day
            and local.weekday() in self.weekdays
            and self.starts <= local.time() < self.ends
        )


@dataclass(frozen=True)
class Change:
    """A slot's new capacity, and the seats held back for ASAP callbacks with it."""

    slot: GridSlot
    capacity: int
    reserved: int


def check_seats(seats: int) -> int:
    if not 0 <= seats <= MAX_SEATS:
        raise ValidationFailed(f"seats are a whole number from 0 to {MAX_SEATS}", {"seats": f"0 to {MAX_SEATS}"})
    return seats


def pattern_targets(slots: Iterable[GridSlot], zone: ZoneInfo, pattern: Pattern, seats: int) -> dict[int, int]:
    """{slot id: new capacity} for every slot the pattern covers."""
    check_seats(seats)
    return {slot.id: seats for slot in slots if pattern.covers(slot.starts_at, zone)}


def _weekday_time(starts_at: datetime, zone: ZoneInfo) -> tuple[int, time]:
    local = starts_at.astimezone(zone)
    return local.weekday(), local.time()


def copy_targets(week: Iterable[GridSlot], later: Iterable[GridSlot], zone: ZoneInfo) -> dict[int, int]:
    """{slot id: new capacity}: each later slot takes the capacity of the copied week's slot
    on the same weekday at the same local time (the first, if the clock showed it twice)."""
    source: dict[tuple[int, time], int] = {}
    for slot in sorted(week, key=lambda s: s.starts_at):
        source.setdefault(_weekday_time(slot.starts_at, zone), slot.capacity)
    found = ((slot.id, source.get(_weekday_time(slot.starts_at, zone))) for slot in later)
    return {slot_id: capacity for slot_id, capacity in found if capacity is not None}


def cell_label(starts_at: datetime, zone: ZoneInfo) -> str:
    """How the grid names a cell: "Fri 08 Jan 09:00"."""
    return f"{starts_at.astimezone(zone).strftime('%a %d %b')} {wall_time_label(starts_at, zone)}"


def plan_changes(
    slots: Iterable[GridSlot], targets: dict[int, int], zone: ZoneInfo, now: datetime, reserve_percent: int
) -> list[Change]:
    """The changes for ``targets`` ({slot id: capacity}) among ``slots`` (their current
    seats), past slots left out, in time order. Refused as a whole (``CapacityBelowBooked``,
    the cells in ``details["cells"]``) if one would go below its booked seats."""
    covered = sorted((slot for slot in slots if slot.id in targets), key=lambda s: s.starts_at)
    ahead = [slot for slot in covered if slot.starts_at > now]
    if not ahead:
        if covered:
            said = "this slot has" if len(covered) == 1 else "these slots have"
            raise SlotInThePast(f"{said} begun: capacity no longer changes", {"slots": len(covered)})
        raise ValidationFailed("no slot in that range", {"range": "covers no slot"})
    short = [slot for slot in ahead if targets[slot.id] < slot.booked]
    if short:
        raise below_booked(short, {slot.id: targets[slot.id] for slot in short}, zone)
    return [
        Change(slot, targets[slot.id], min(reserved_seats(targets[slot.id], reserve_percent), targets[slot.id]))
        for slot in ahead
    ]


def below_booked(short: list[GridSlot], wanted: dict[int, int], zone: ZoneInfo) -> CapacityBelowBooked:
    """The refusal naming each cell that has more seats booked than it would have."""
    cells = [
        {"cell": cell_label(slot.starts_at, zone), "booked": slot.booked, "capacity": wanted[slot.id]} for slot in short
    ]
    listed = ", ".join(f"{c['cell']} ({c['booked']} booked)" for c in cells)
    return CapacityBelowBooked(
        f"Nothing was changed: {len(cells)} slot{'s' if len(cells) != 1 else ''} cannot go below "
        f"the seats booked: {listed}",
        {"cells": cells},
    )


def summarise(changes: list[Change], zone: ZoneInfo, how: str) -> tuple[str, dict[str, object], dict[str, object]]:
    """(target, before, after) of the one audit entry for a bulk change: how many slots,
    the first and last cell, the capacities before and the seats after."""
    first, last = changes[0].slot.starts_at, changes[-1].slot.starts_at
    span = cell_label(first, zone) if len(changes) == 1 else f"{cell_label(first, zone)} – {cell_label(last, zone)}"
    after_counts = Counter(c.capacity for c in changes)
    before = {
        "capacity": {str(k): v for k, v in sorted(Counter(c.slot.capacity for c in changes).items())},
        "booked": sum(c.slot.booked for c in changes),
    }
    after: dict[str, object] = {
        "how": how,
        "slots": len(changes),
        "first": first.astimezone(zone).isoformat(),
        "last": last.astimezone(zone).isoformat(),
        "capacity": {str(k): v for k, v in sorted(after_counts.items())},
    }
    if len(after_counts) == 1:
        after["seats"] = changes[0].capacity
    return f"{len(changes)} slot{'s' if len(changes) != 1 else ''} {span}", before, after


FILL_LEVELS = (
    ("empty", "none booked"),
    ("low", "under half booked"),
    ("high", "half booked or more"),
    ("full", "full"),
)


def fill_level(booked: int, capacity: int) -> str:
    """How full a cell is, for the grid's colour scale (with text: FILL_LEVELS)."""
    if booked >= capacity:
        return "full"
    if booked == 0:
        return "empty"
    return "low" if booked * 2 < capacity else "high"

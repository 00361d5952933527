"""scheduler/bulk_capacity.py: which slots a range, a pattern or a copied week covers, the
all-or-nothing check against the booked seats, and the audit summary."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.bulk_capacity import (
    GridSlot,
    Pattern,
    copy_targets,
    fill_level,
    pattern_targets,
    plan_changes,
    summarise,
)
from scheduler.errors import CapacityBelowBooked, SlotInThePast, ValidationFailed

LONDON = ZoneInfo("Europe/London")
MONDAY = date(2027, 1, 4)
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def week_of_slots(monday: date, capacity: int = 2, booked: int = 0, first_id: int = 1) -> list[GridSlot]:
    """09:00–17:00 local, 15 minutes, Monday to Friday, as the demo queue has."""
    slots = []
    for day in range(5):
        for quarter in range(32):
            local = datetime.combine(monday + timedelta(days=day), time(9), tzinfo=LONDON)
            starts = (local + timedelta(minutes=15 * quarter)).astimezone(UTC)
            slots.append(GridSlot(first_id + len(slots), starts, capacity, booked))
    return slots


def test_a_range_covers_the_chosen_days_and_start_times_only() -> None:
    slots = week_of_slots(MONDAY)
    tuesday_to_wednesday = Pattern(frozenset(range(7)), time(9), time(10), date(2027, 1, 5), date(2027, 1, 6))
    targets = pattern_targets(slots, LONDON, tuesday_to_wednesday, 4)
    covered = sorted(s.starts_at.astimezone(LONDON) for s in slots if s.id in targets)
    assert len(covered) == 8 and set(targets.values()) == {4}
    assert covered[0] == datetime(2027, 1, 5, 9, 0, tzinfo=LONDON)
    assert covered[-1] == datetime(2027, 1, 6, 9, 45, tzinfo=LONDON)  # 10:00 is not included


def test_a_pattern_takes_its_weekdays_over_several_weeks() -> None:
    slots = week_of_slots(MONDAY) + week_of_slots(MONDAY + timedelta(days=7), first_id=1000)
    fridays = Pattern(frozenset({4}), time(14), time(17), MONDAY, MONDAY + timedelta(days=13))
    targets = pattern_targets(slots, LONDON, fridays, 4)
    assert len(targets) == 24  # two Fridays × 12 quarters
    assert all(s.starts_at.astimezone(LONDON).weekday() == 4 for s in slots if s.id in targets)


@pytest.mark.parametrize(
    ("weekdays", "starts", "ends", "first", "last", "field"),
    [
        (frozenset(), time(9), time(10), MONDAY, MONDAY, "weekdays"),
        (frozenset({7}), time(9), time(10), MONDAY, MONDAY, "weekdays"),
        (frozenset({0}), time(10), time(10), MONDAY, MONDAY, "ends"),
        (frozenset({0}), time(9), time(10), MONDAY, MONDAY - timedelta(days=1), "last_day"),
        (frozenset({0}), time(9), time(10), MONDAY, MONDAY + timedelta(days=400), "last_day"),
    ],
)
def test_a_pattern_that_makes_no_sense_is_refused(
    weekdays: frozenset[int], starts: time, ends: time, first: date, last: date, field: str
) -> None:
    with pytest.raises(ValidationFailed) as refused:
        Pattern(weekdays, starts, ends, first, last)
    assert field in refused.value.details


def test_a_pattern_says_what_was_asked() -> None:
    fridays = Pattern(frozenset({4, 0}), time(14), time.max, MONDAY, MONDAY + timedelta(days=27))
    assert fridays.asked() == {
        "weekdays": [0, 4],
        "starts": "14:00",
        "ends": "24:00",
        "first_day": "2027-01-04",
        "last_day": "2027-01-31",
    }


def test_seats_out_of_range_are_refused() -> None:
    pattern = Pattern(frozenset({0}), time(9), time(10), MONDAY, MONDAY)
    for seats in (-1, 10_001):
        with pytest.raises(ValidationFailed):
            pattern_targets([], LONDON, pattern, seats)


def test_past_slots_are_left_out_and_a_change_of_only_past_slots_is_refused() -> None:
    slots = week_of_slots(MONDAY)
    monday_morning = Pattern(frozenset({0}), time(9), time(11), MONDAY, MONDAY)
    changes = plan_changes(slots, pattern_targets(slots, LONDON, monday_morning, 3), LONDON, NOW, 0)
    assert [c.slot.starts_at for c in changes] == [NOW + timedelta(minutes=15 * n) for n in range(1, 4)]
    early = Pattern(frozenset({0}), time(9), time(10), MONDAY, MONDAY)
    with pytest.raises(SlotInThePast):
        plan_changes(slots, pattern_targets(slots, LONDON, early, 3), LONDON, NOW, 0)
    with pytest.raises(ValidationFailed):
        plan_changes(slots, {}, LONDON, NOW, 0)


def test_one_cell_below_its_booked_seats_refuses_the_whole_change_naming_every_such_cell() -> None:
    slots = week_of_slots(MONDAY + timedelta(days=7))
    slots[3] = GridSlot(slots[3].id, slots[3].starts_at, 2, 2)
    slots[40] = GridSlot(slots[40].id, slots[40].starts_at, 2, 1)
    with pytest.raises(CapacityBelowBooked) as refused:
        plan_changes(slots, {s.id: 0 for s in slots}, LONDON, NOW, 0)
    assert refused.value.details == {
        "cells": [
            {"cell": "Mon 11 Jan 09:45", "booked": 2, "capacity": 0},
            {"cell": "Tue 12 Jan 11:00", "booked": 1, "capacity": 0},
        ]
    }
    assert "Mon 11 Jan 09:45 (2 booked)" in refused.value.message


@given(
    booked=st.lists(st.integers(0, 5), min_size=1, max_size=20),
    seats=st.integers(0, 5),
    reserve=st.integers(0, 100),
)
def test_a_change_either_keeps_every_booked_seat_or_changes_nothing(
    booked: list[int], seats: int, reserve: int
) -> None:
    start = NOW + timedelta(hours=1)
    slots = [GridSlot(n, start + timedelta(minutes=15 * n), 5, b) for n, b in enumerate(booked)]
    try:
        changes = plan_changes(slots, {s.id: seats for s in slots}, LONDON, NOW, reserve)
    except CapacityBelowBooked as refused:
        assert [c["booked"] for c in refused.details["cells"]] == [b for b in booked if b > seats]
        return
    assert max(booked) <= seats
    assert [c.slot.id for c in changes] == [s.id for s in slots]
    assert all(c.capacity == seats and 0 <= c.reserved <= seats for c in changes)


def test_a_copied_week_keeps_the_local_time_across_the_change_of_clocks() -> None:
    zone = LONDON
    this_week = week_of_slots(date(2027, 3, 22), capacity=2)  # GMT
    this_week[0] = GridSlot(this_week[0].id, this_week[0].starts_at, 6, 0)  # Monday 09:00
    next_week = week_of_slots(date(2027, 3, 29), capacity=2, first_id=1000)  # BST from 28 March
    targets = copy_targets(this_week, next_week, zone)
    assert len(targets) == len(next_week)
    monday_nine = next_week[0]
    assert monday_nine.starts_at == datetime(2027, 3, 29, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert targets[monday_nine.id] == 6 and targets[next_week[1].id] == 2


def test_a_later_slot_without_a_counterpart_is_left_alone() -> None:
    this_week = week_of_slots(MONDAY)[:10]
    later = week_of_slots(MONDAY + timedelta(days=7), first_id=500)
    targets = copy_targets(this_week, later, LONDON)
    assert sorted(targets) == [s.id for s in later[:10]]


@given(st.lists(st.integers(0, 10), min_size=1, max_size=14))
def test_copying_gives_each_weekday_and_time_the_copied_capacity(capacities: list[int]) -> None:
    monday = date(2027, 1, 4)
    week = [
        GridSlot(n, datetime.combine(monday + timedelta(days=n % 7), time(9 + n // 7), tzinfo=LONDON), c, 0)
        for n, c in enumerate(capacities)
    ]
    later = [GridSlot(100 + s.id, s.starts_at + timedelta(days=7 * k), 0, 0) for s in week for k in (1, 2)]
    targets = copy_targets(week, later, LONDON)
    assert targets == {100 + s.id: s.capacity for s in week}


def test_the_summary_says_how_many_slots_which_range_and_the_seats() -> None:
    slots = week_of_slots(MONDAY + timedelta(days=7))
    fridays = Pattern(frozenset({4}), time(14), time(17), MONDAY, MONDAY + timedelta(days=13))
    changes = plan_changes(slots, pattern_targets(slots, LONDON, fridays, 4), LONDON, NOW, 0)
    target, before, after = summarise(changes, LONDON, "pattern")
    assert target == "12 slots Fri 15 Jan 14:00 – Fri 15 Jan 16:45"
    assert before == {"capacity": {"2": 12}, "booked": 0}
    assert after == {
        "how": "pattern",
        "slots": 12,
        "first": "2027-01-15T14:00:00+00:00",
        "last": "2027-01-15T16:45:00+00:00",
        "capacity": {"4": 12},
        "seats": 4,
    }


@pytest.mark.parametrize(
    ("booked", "capacity", "level"),
    [(0, 4, "empty"), (1, 4, "low"), (2, 4, "high"), (3, 4, "high"), (4, 4, "full"), (0, 0, "full"), (5, 4, "full")],
)
def test_the_fill_level_of_a_cell(booked: int, capacity: int, level: str) -> None:
    assert fill_level(booked, capacity) == level

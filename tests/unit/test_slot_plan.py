"""Re-planning slot rows never takes a seat from someone who holds it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.calendar import SlotSpec
from scheduler.slot_plan import ExistingSlot, capacity_from_staffing, plan_slots

T0 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
Q = timedelta(minutes=15)


def spec(i: int, capacity: int = 2) -> SlotSpec:
    return SlotSpec(T0 + i * Q, T0 + (i + 1) * Q, capacity)


def row(i: int, capacity: int = 2, booked: int = 0, reserved: int = 0, active: bool = True) -> ExistingSlot:
    return ExistingSlot(100 + i, T0 + i * Q, T0 + (i + 1) * Q, capacity, reserved, booked, active)


def test_new_slots_are_inserted_with_their_asap_reserve() -> None:
    plan = plan_slots([spec(0, 4), spec(1, 4)], [], reserve_percent=25)
    assert [(i.starts_at, i.capacity, i.reserved) for i in plan.inserts] == [(T0, 4, 1), (T0 + Q, 4, 1)]
    assert plan.updates == []


def test_unchanged_slots_are_left_alone() -> None:
    assert plan_slots([spec(0)], [row(0)], 0).updates == []


def test_a_smaller_capacity_keeps_the_booked_seats() -> None:
    plan = plan_slots([spec(0, capacity=1)], [row(0, capacity=5, booked=3)], 0)
    assert plan.updates[0].capacity == 3


def test_a_slot_gone_from_the_calendar_is_retired_not_deleted() -> None:
    plan = plan_slots([], [row(0, booked=1)], 0)
    assert len(plan.updates) == 1
    assert plan.updates[0].active is False
    assert plan.updates[0].capacity == 2


def test_a_retired_slot_that_comes_back_is_reactivated() -> None:
    plan = plan_slots([spec(0)], [row(0, active=False)], 0)
    assert plan.updates[0].active is True


@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.integers(0, 10), st.integers(0, 10)), max_size=20, unique_by=lambda t: t[0]
    ),
    st.lists(st.tuples(st.integers(0, 30), st.integers(0, 10)), max_size=20, unique_by=lambda t: t[0]),
    st.integers(0, 100),
)
def test_no_plan_ever_drops_capacity_below_booked(
    existing: list[tuple[int, int, int]], desired: list[tuple[int, int]], percent: int
) -> None:
    rows = [row(i, capacity=max(c, b), booked=b) for i, c, b in existing]
    plan = plan_slots([spec(i, c) for i, c in desired], rows, percent)
    booked = {r.id: r.booked for r in rows}
    for update in plan.updates:
        assert update.capacity >= booked[update.id]
        assert 0 <= update.reserved <= update.capacity
    inserted = {i.starts_at for i in plan.inserts}
    assert inserted.isdisjoint({r.starts_at for r in rows})


def test_a_capacity_set_for_one_slot_survives_re_planning() -> None:
    set_by_hand = ExistingSlot(1, T0, T0 + timedelta(minutes=15), 7, 0, 0, True, capacity_override=7)
    assert plan_slots([spec(0, capacity=2)], [set_by_hand], 0).updates == []
    # The template changes: the slot set by hand keeps its capacity, its reserve follows it.
    plan = plan_slots([spec(0, capacity=4)], [set_by_hand], 50)
    assert [(u.capacity, u.reserved) for u in plan.updates] == [(7, 3)]


def test_seats_from_staffing() -> None:
    assert capacity_from_staffing(agents=3, slot_minutes=15, callback_percent=50, average_handle_seconds=300) == 4
    assert capacity_from_staffing(agents=2, slot_minutes=15, callback_percent=100, average_handle_seconds=240) == 7
    assert capacity_from_staffing(agents=5, slot_minutes=15, callback_percent=0, average_handle_seconds=300) == 0
    with pytest.raises(ValueError):
        capacity_from_staffing(agents=1, slot_minutes=15, callback_percent=100, average_handle_seconds=0)

"""Lead time, horizon, ASAP reserve and the availability window."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.booking import (
    BookingPolicy,
    availability_range,
    bookable_window,
    check_bookable,
    reserved_seats,
    scheduled_seats_left,
    spread_in_slot,
)
from scheduler.errors import TooFar, TooSoon, ValidationFailed

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)  # Monday, London
POLICY = BookingPolicy("Europe/London", lead_minutes=30, horizon_days=14)


def test_a_slot_inside_the_lead_time_is_too_soon() -> None:
    with pytest.raises(TooSoon) as caught:
        check_bookable(POLICY, NOW + timedelta(minutes=15), NOW)
    assert caught.value.type == "too_soon"
    check_bookable(POLICY, NOW + timedelta(minutes=30), NOW)


def test_the_horizon_counts_whole_local_days() -> None:
    check_bookable(POLICY, datetime(2027, 1, 18, 16, 45, tzinfo=UTC), NOW)  # the 14th day after today
    with pytest.raises(TooFar):
        check_bookable(POLICY, datetime(2027, 1, 19, 0, 0, tzinfo=UTC), NOW)


def test_the_horizon_is_counted_in_the_queue_zone() -> None:
    policy = BookingPolicy("America/New_York", lead_minutes=0, horizon_days=0)
    late_evening = datetime(2027, 1, 5, 3, 0, tzinfo=UTC)  # 22:00 on Monday in New York
    _, latest = bookable_window(policy, late_evening)
    assert latest == datetime(2027, 1, 5, 5, 0, tzinfo=UTC)  # midnight New York


def test_reserved_seats_round_down() -> None:
    assert reserved_seats(2, 25) == 0
    assert reserved_seats(4, 25) == 1
    assert reserved_seats(10, 100) == 10


@given(capacity=st.integers(0, 500), percent=st.integers(0, 100), booked=st.integers(0, 500))
def test_scheduled_seats_left_never_eat_the_reserve(capacity: int, percent: int, booked: int) -> None:
    reserved = reserved_seats(capacity, percent)
    left = scheduled_seats_left(capacity, reserved, booked)
    assert 0 <= left <= capacity - reserved
    assert booked + left <= max(capacity - reserved, booked)


def test_availability_range_is_clipped_to_lead_and_horizon() -> None:
    lower, upper = availability_range(POLICY, NOW, None, 7)  # type: ignore[misc]
    assert lower == NOW + timedelta(minutes=30)
    assert upper == datetime(2027, 1, 11, 0, 0, tzinfo=UTC)
    assert availability_range(POLICY, NOW, date(2027, 2, 1), 3) is None  # beyond the horizon
    assert availability_range(POLICY, NOW, date(2026, 12, 1), 3) is None  # in the past


@pytest.mark.parametrize("days", [0, 63, -1])
def test_availability_range_refuses_silly_day_counts(days: int) -> None:
    with pytest.raises(ValidationFailed):
        availability_range(POLICY, NOW, None, days)


def test_bookings_of_a_slot_are_spread_across_it() -> None:
    start, end = NOW, NOW + timedelta(minutes=15)
    assert [spread_in_slot(start, end, n, 3) for n in (1, 2, 3)] == [
        start,
        start + timedelta(minutes=5),
        start + timedelta(minutes=10),
    ]
    assert spread_in_slot(start, end, 1, 1) == start
    assert spread_in_slot(start, end, 9, 3) == start + timedelta(minutes=10)  # never past the last share

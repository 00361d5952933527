"""Whether a kept slot list still answers a range that time has moved (scheduler/booking.py)."""

from __future__ import annotations

from datetime import UTC, datetime

from scheduler.booking import same_slots_shown


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2027, 1, 4, hour, minute, tzinfo=UTC)


SHOWN = (at(10, 30), at(17))


def test_it_holds_while_the_first_slot_is_still_in_and_no_further_one_comes_in() -> None:
    assert same_slots_shown(SHOWN, at(10, 30), None, (at(10, 30), at(17)))
    assert same_slots_shown(SHOWN, at(11), at(18), (at(10, 50), at(17, 30)))
    assert same_slots_shown(SHOWN, None, None, (at(16), at(23)))  # nothing shown and nothing after


def test_it_ends_when_the_first_slot_drops_out_of_the_start() -> None:
    assert not same_slots_shown(SHOWN, at(10, 30), None, (at(10, 31), at(17)))


def test_it_ends_when_a_further_slot_comes_into_the_end() -> None:
    assert not same_slots_shown(SHOWN, at(10, 30), at(17), (at(10, 30), at(17, 1)))
    assert same_slots_shown(SHOWN, at(10, 30), at(17, 1), (at(10, 30), at(17, 1)))  # the end is open


def test_a_range_that_went_back_or_came_or_went_empty_is_not_the_same() -> None:
    assert not same_slots_shown(SHOWN, at(11), None, (at(10), at(17)))
    assert not same_slots_shown(None, None, None, SHOWN)
    assert not same_slots_shown(SHOWN, None, None, None)
    assert same_slots_shown(None, None, None, None)

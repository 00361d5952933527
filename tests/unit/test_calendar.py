"""The slot calendar: weekly template, overrides, and DST in three zones."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.calendar import (
    Interval,
    QueueCalendar,
    SlotSpec,
    is_open,
    local_instants,
    slots_between,
    wall_time_label,
    wall_time_row,
    weekly_schedule,
)

NINE_TO_FIVE = Interval(time(9), time(17), 15, 2)


def weekdays(*intervals: Interval) -> dict[int, list[Interval]]:
    return {wd: list(intervals) for wd in range(5)}


def every_day(*intervals: Interval) -> dict[int, list[Interval]]:
    return {wd: list(intervals) for wd in range(7)}


def test_a_weekday_nine_to_five_has_32_quarter_hour_slots() -> None:
    cal = QueueCalendar("Europe/London", weekdays(NINE_TO_FIVE))
    slots = slots_between(cal, date(2027, 1, 4), date(2027, 1, 4))
    assert len(slots) == 32
    assert slots[0].starts_at == datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert slots[-1].ends_at == datetime(2027, 1, 4, 17, 0, tzinfo=UTC)
    assert {s.capacity for s in slots} == {2}


def test_weekends_are_closed_when_the_template_has_no_hours() -> None:
    cal = QueueCalendar("Europe/London", weekdays(NINE_TO_FIVE))
    assert slots_between(cal, date(2027, 1, 9), date(2027, 1, 10)) == []


def test_slot_instants_are_utc_and_follow_the_queue_zone() -> None:
    cal = QueueCalendar("Europe/London", weekdays(NINE_TO_FIVE))
    summer = slots_between(cal, date(2027, 7, 5), date(2027, 7, 5))
    assert summer[0].starts_at == datetime(2027, 7, 5, 8, 0, tzinfo=UTC)  # 09:00 BST
    assert summer[0].starts_at.tzinfo is UTC


def test_a_holiday_override_closes_the_day_and_a_special_day_replaces_its_hours() -> None:
    cal = QueueCalendar(
        "Europe/London",
        weekdays(NINE_TO_FIVE),
        overrides={date(2027, 1, 4): [], date(2027, 1, 5): [Interval(time(10), time(12), 30, 5)]},
    )
    assert slots_between(cal, date(2027, 1, 4), date(2027, 1, 4)) == []
    special = slots_between(cal, date(2027, 1, 5), date(2027, 1, 5))
    assert [s.starts_at.hour for s in special] == [10, 10, 11, 11]
    assert {s.capacity for s in special} == {5}


def test_an_override_can_open_a_weekend_day() -> None:
    cal = QueueCalendar("Europe/London", weekdays(NINE_TO_FIVE), overrides={date(2027, 1, 9): [NINE_TO_FIVE]})
    assert len(slots_between(cal, date(2027, 1, 9), date(2027, 1, 9))) == 32


def test_split_shifts_give_slots_in_each_interval_only() -> None:
    cal = QueueCalendar(
        "Europe/Moscow", weekdays(Interval(time(9), time(12), 60, 1), Interval(time(13), time(15), 60, 1))
    )
    slots = slots_between(cal, date(2027, 1, 4), date(2027, 1, 4))
    local_hours = [s.starts_at.astimezone(ZoneInfo("Europe/Moscow")).hour for s in slots]
    assert local_hours == [9, 10, 11, 13, 14]


def test_a_slot_that_would_run_past_closing_is_not_offered() -> None:
    cal = QueueCalendar("Europe/London", weekdays(Interval(time(9), time(10, 10), 20, 1)))
    slots = slots_between(cal, date(2027, 1, 4), date(2027, 1, 4))
    assert [s.starts_at.minute for s in slots] == [0, 20, 40]


def test_an_interval_may_run_to_midnight() -> None:
    cal = QueueCalendar("Europe/London", every_day(Interval(time(22), time(0), 60, 1)))
    slots = slots_between(cal, date(2027, 1, 4), date(2027, 1, 4))
    assert [s.starts_at.hour for s in slots] == [22, 23]
    assert slots[-1].ends_at == datetime(2027, 1, 5, 0, 0, tzinfo=UTC)


# --- DST ---------------------------------------------------------------------------------------


def test_london_spring_forward_skips_the_missing_hour() -> None:
    # 28 March 2027: 01:00 GMT jumps to 02:00 BST; 01:00-01:59 local does not exist.
    cal = QueueCalendar("Europe/London", every_day(Interval(time(0), time(4), 30, 1)))
    slots = slots_between(cal, date(2027, 3, 28), date(2027, 3, 28))
    local = [s.starts_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M") for s in slots]
    assert local == ["00:00", "00:30", "02:00", "02:30", "03:00", "03:30"]
    assert slots[2].starts_at == datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    assert len({s.starts_at for s in slots}) == len(slots)


def london_walls(slots: list[SlotSpec]) -> list[str]:
    return [s.starts_at.astimezone(ZoneInfo("Europe/London")).strftime("%H:%M%z") for s in slots]


def test_london_fall_back_offers_the_repeated_hour_twice() -> None:
    # 31 October 2027: 02:00 BST goes back to 01:00 GMT; 01:00-01:59 local happens twice.
    cal = QueueCalendar("Europe/London", every_day(Interval(time(0), time(4), 30, 3)))
    slots = slots_between(cal, date(2027, 10, 31), date(2027, 10, 31))
    assert london_walls(slots) == [
        "00:00+0100",
        "00:30+0100",
        "01:00+0100",
        "01:30+0100",
        "01:00+0000",
        "01:30+0000",
        "02:00+0000",
        "02:30+0000",
        "03:00+0000",
        "03:30+0000",
    ]
    # 01:00 first (BST) is 00:00 UTC, 01:00 again (GMT) is 01:00 UTC: two slots, each with its seats.
    assert slots[2].starts_at == datetime(2027, 10, 31, 0, 0, tzinfo=UTC)
    assert slots[4].starts_at == datetime(2027, 10, 31, 1, 0, tzinfo=UTC)
    assert slots[5].ends_at == slots[6].starts_at == datetime(2027, 10, 31, 2, 0, tzinfo=UTC)
    assert {s.capacity for s in slots} == {3}


def test_a_24_hour_queue_has_25_hours_of_slots_on_the_fall_back_day() -> None:
    for minutes in (30, 60):
        cal = QueueCalendar("Europe/London", every_day(Interval(time(0), time(0), minutes, 2)))
        slots = slots_between(cal, date(2027, 10, 31), date(2027, 10, 31))
        assert len(slots) == 25 * 60 // minutes
        assert slots[0].starts_at == datetime(2027, 10, 30, 23, 0, tzinfo=UTC)  # 00:00 BST
        assert slots[-1].ends_at == datetime(2027, 11, 1, 0, 0, tzinfo=UTC)  # midnight GMT
        assert all(a.ends_at == b.starts_at for a, b in pairwise(slots))  # no gap, no overlap
        walls = london_walls(slots)
        assert "01:00+0100" in walls and "01:00+0000" in walls


def test_the_repeated_hour_is_offered_again_only_inside_the_interval() -> None:
    # Closing at 01:30 means the first 01:30 (as is_open reads it): 01:00 GMT would end after it.
    early = QueueCalendar("Europe/London", every_day(Interval(time(0), time(1, 30), 30, 1)))
    assert london_walls(slots_between(early, date(2027, 10, 31), date(2027, 10, 31))) == [
        "00:00+0100",
        "00:30+0100",
        "01:00+0100",
    ]
    # 90-minute slots: 01:30 GMT would overlap 01:30 BST (00:30-02:00 UTC), so it is left out.
    long = QueueCalendar("Europe/London", every_day(Interval(time(0), time(6), 90, 1)))
    slots = slots_between(long, date(2027, 10, 31), date(2027, 10, 31))
    assert london_walls(slots) == ["00:00+0100", "01:30+0100", "03:00+0000", "04:30+0000"]
    assert all(a.ends_at <= b.starts_at for a, b in pairwise(slots))


def test_new_york_spring_forward_and_fall_back() -> None:
    cal = QueueCalendar("America/New_York", every_day(Interval(time(1), time(4), 60, 1)))
    spring = slots_between(cal, date(2027, 3, 14), date(2027, 3, 14))
    assert [s.starts_at.astimezone(ZoneInfo("America/New_York")).hour for s in spring] == [1, 3]
    assert spring[0].starts_at == datetime(2027, 3, 14, 6, 0, tzinfo=UTC)  # 01:00 EST
    assert spring[1].starts_at == datetime(2027, 3, 14, 7, 0, tzinfo=UTC)  # 03:00 EDT
    fall = slots_between(cal, date(2027, 11, 7), date(2027, 11, 7))
    assert [s.starts_at.astimezone(ZoneInfo("America/New_York")).hour for s in fall] == [1, 1, 2, 3]
    assert fall[0].starts_at == datetime(2027, 11, 7, 5, 0, tzinfo=UTC)  # 01:00 EDT, the first one
    assert fall[1].starts_at == datetime(2027, 11, 7, 6, 0, tzinfo=UTC)  # 01:00 EST, the second one
    assert fall[2].starts_at == datetime(2027, 11, 7, 7, 0, tzinfo=UTC)  # 02:00 EST


def test_moscow_has_no_dst_and_every_day_is_alike() -> None:
    cal = QueueCalendar("Europe/Moscow", every_day(Interval(time(9), time(18), 15, 3)))
    for day in (date(2027, 3, 28), date(2027, 10, 31), date(2027, 7, 1)):
        slots = slots_between(cal, day, day)
        assert len(slots) == 36
        assert slots[0].starts_at == datetime(day.year, day.month, day.day, 6, 0, tzinfo=UTC)


def test_local_instants_none_in_the_gap_two_in_the_repeat_else_one() -> None:
    zone = ZoneInfo("Europe/London")
    assert local_instants(date(2027, 3, 28), 60 + 30, zone) == ()
    assert local_instants(date(2027, 3, 28), 2 * 60, zone) == (datetime(2027, 3, 28, 1, 0, tzinfo=UTC),)
    assert local_instants(date(2027, 10, 31), 60 + 30, zone) == (
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    )
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # goes back half an hour, 02:00 to 01:30, on 4 April 2027
    assert len(local_instants(date(2027, 4, 4), 60 + 45, lord_howe)) == 2
    assert len(local_instants(date(2027, 4, 4), 60 + 15, lord_howe)) == 1


def test_wall_time_label_names_the_zone_of_both_occurrences_of_a_repeated_time_only() -> None:
    zone = ZoneInfo("Europe/London")
    assert wall_time_label(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), zone) == "01:30 BST"  # the first
    assert wall_time_label(datetime(2027, 10, 31, 1, 30, tzinfo=UTC), zone) == "01:30 GMT"  # the second
    assert wall_time_label(datetime(2027, 10, 31, 2, 30, tzinfo=UTC), zone) == "02:30"
    assert wall_time_label(datetime(2027, 1, 4, 1, 30, tzinfo=UTC), zone) == "01:30"
    assert wall_time_label(datetime(2027, 10, 31, 0, 59, tzinfo=UTC), zone) == "01:59 BST"
    assert wall_time_label(datetime(2027, 10, 30, 23, 59, tzinfo=UTC), zone) == "00:59"  # before the repeated hour
    assert wall_time_label(datetime(2027, 10, 31, 2, 0, tzinfo=UTC), zone) == "02:00"  # after it


ZONES = st.sampled_from(["Europe/London", "America/New_York", "Europe/Moscow", "Australia/Lord_Howe"])


@st.composite
def intervals(draw: st.DrawFn) -> Interval:
    start = draw(st.integers(0, 23 * 60))
    length = draw(st.integers(15, 24 * 60 - start))
    end = start + length
    closes = time(0) if end == 24 * 60 else time(end // 60, end % 60)
    return Interval(time(start // 60, start % 60), closes, draw(st.sampled_from([5, 10, 15, 20, 30, 45, 60])), 1)


@settings(max_examples=150, deadline=None)
@given(zone=ZONES, interval=intervals(), first=st.dates(date(2026, 1, 1), date(2030, 12, 31)), span=st.integers(0, 6))
def test_slots_are_sorted_unique_inside_hours_and_each_local_time_at_most_as_often_as_it_occurs(
    zone: str, interval: Interval, first: date, span: int
) -> None:
    cal = QueueCalendar(zone, every_day(interval))
    slots = slots_between(cal, first, first + timedelta(days=span))
    starts = [s.starts_at for s in slots]
    assert starts == sorted(starts)
    assert len(set(starts)) == len(starts)
    tz = ZoneInfo(zone)
    opens, closes = interval.open_minutes
    walls = Counter()
    for slot in slots:
        local = slot.starts_at.astimezone(tz)
        minute = local.hour * 60 + local.minute
        assert opens <= minute <= closes - interval.slot_minutes
        assert (minute - opens) % interval.slot_minutes == 0
        assert slot.ends_at - slot.starts_at == timedelta(minutes=interval.slot_minutes)
        walls[(local.date(), minute)] += 1
    # a local time is offered once, or twice when the clock shows it twice (fall back)
    assert all(count <= len(local_instants(day, minute, tz)) for (day, minute), count in walls.items())


@settings(max_examples=150, deadline=None)
@given(zone=ZONES, minutes=st.sampled_from([5, 10, 15, 30]), first=st.dates(date(2026, 1, 1), date(2030, 12, 31)))
def test_a_24_hour_queue_covers_every_instant_of_a_week_once(zone: str, minutes: int, first: date) -> None:
    # Slot lengths that divide every clock change in these zones (Lord Howe's is 30 minutes):
    # the slots tile the week, so the repeated hour of a fall-back night is not lost.
    cal = QueueCalendar(zone, every_day(Interval(time(0), time(0), minutes, 1)))
    last = first + timedelta(days=6)
    slots = slots_between(cal, first, last)
    tz = ZoneInfo(zone)
    assert slots[0].starts_at == datetime.combine(first, time(0), tzinfo=tz)
    assert slots[-1].ends_at == datetime.combine(last + timedelta(days=1), time(0), tzinfo=tz)
    assert all(a.ends_at == b.starts_at for a, b in pairwise(slots))


def test_is_open_follows_the_hours_and_overrides() -> None:
    cal = QueueCalendar("Europe/London", weekdays(NINE_TO_FIVE), overrides={date(2027, 1, 5): []})
    assert is_open(cal, datetime(2027, 1, 4, 10, 0, tzinfo=UTC))
    assert not is_open(cal, datetime(2027, 1, 4, 17, 0, tzinfo=UTC))
    assert not is_open(cal, datetime(2027, 1, 4, 8, 59, tzinfo=UTC))
    assert not is_open(cal, datetime(2027, 1, 5, 10, 0, tzinfo=UTC))  # holiday
    assert not is_open(cal, datetime(2027, 1, 9, 10, 0, tzinfo=UTC))  # Saturday


def test_is_open_until_midnight_and_across_it() -> None:
    cal = QueueCalendar("Europe/London", every_day(Interval(time(20), time(0), 60, 1)))
    assert is_open(cal, datetime(2027, 1, 4, 23, 59, tzinfo=UTC))
    assert not is_open(cal, datetime(2027, 1, 5, 0, 0, tzinfo=UTC))


def test_weekly_schedule_lists_every_weekday() -> None:
    schedule = weekly_schedule(QueueCalendar("Europe/London", weekdays(NINE_TO_FIVE)))
    assert schedule["monday"] == [{"opens": "09:00", "closes": "17:00"}]
    assert schedule["sunday"] == []
    assert len(schedule) == 7


def test_a_grid_row_is_the_clock_time_and_the_second_occurrence_has_its_own_row() -> None:
    zone = ZoneInfo("Europe/London")
    assert wall_time_row(datetime(2027, 10, 31, 0, 30, tzinfo=UTC), zone) == "01:30"  # with the other days' 01:30
    assert wall_time_row(datetime(2027, 10, 31, 1, 30, tzinfo=UTC), zone) == "01:30 GMT"
    assert wall_time_row(datetime(2027, 1, 4, 1, 30, tzinfo=UTC), zone) == "01:30"

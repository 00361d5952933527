"""The picker's days and parts of a day (scheduler/day_picker.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from scheduler.day_picker import chosen_day, days_of, part_of_day

LONDON = ZoneInfo("Europe/London")


def test_parts_of_the_day_change_at_noon_and_five() -> None:
    at = [datetime(2027, 1, 4, h, m) for h, m in ((0, 0), (11, 59), (12, 0), (16, 59), (17, 0), (23, 59))]
    assert [part_of_day(t) for t in at] == ["morning", "morning", "afternoon", "afternoon", "evening", "evening"]


def test_days_are_local_days_in_order_with_their_counts_and_parts() -> None:
    # 23:30 UTC on 4 January is already 5 January in Tokyo; the starts come unsorted.
    tokyo = ZoneInfo("Asia/Tokyo")
    starts = [datetime(2027, 1, 4, 23, 30, tzinfo=UTC), datetime(2027, 1, 4, 1, 0, tzinfo=UTC)]
    starts += [datetime(2027, 1, 5, 9, 0, tzinfo=UTC)]
    days = days_of(starts, tokyo)
    assert [(d.day, d.count) for d in days] == [(date(2027, 1, 4), 1), (date(2027, 1, 5), 2)]
    assert [(part, [t.label for t in times]) for part, times in days[1].parts()] == [
        ("morning", ["08:30"]),
        ("evening", ["18:00"]),
    ]
    assert days[1].times[0].value == "2027-01-05T08:30:00+09:00"


def test_the_repeated_hour_of_fall_back_is_two_times_of_one_day() -> None:
    first = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # 01:30 BST, then 01:30 GMT an hour later
    [day] = days_of([first, first + timedelta(hours=1)], LONDON)
    assert [t.label for t in day.times] == ["01:30 BST", "01:30 GMT"]
    assert [t.value for t in day.times] == ["2027-10-31T01:30:00+01:00", "2027-10-31T01:30:00+00:00"]


def test_the_chosen_day_is_the_one_asked_for_if_it_has_times_else_the_first() -> None:
    days = days_of([datetime(2027, 1, d, 10, tzinfo=UTC) for d in (4, 6)], LONDON)
    assert chosen_day(days, date(2027, 1, 6)) is days[1]
    assert chosen_day(days, date(2027, 1, 5)) is days[0] and chosen_day(days, None) is days[0]
    assert chosen_day([], date(2027, 1, 5)) is None

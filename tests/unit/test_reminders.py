"""When reminders of a scheduled callback are texted (scheduler/reminders.py, pure)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from scheduler.dial_window import QuietHours
from scheduler.reminders import PlannedReminder, ReminderPolicy, plan, quiet_began, why_not_send

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
DEFAULT = ReminderPolicy()


def at(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)  # type: ignore[misc]


def test_a_day_and_fifteen_minutes_before() -> None:
    callback = at(LONDON, 2027, 1, 6, 14, 30)
    booked = at(LONDON, 2027, 1, 4, 10, 0)
    assert plan(DEFAULT, callback, booked, LONDON) == [
        PlannedReminder("reminder_1440m", at(LONDON, 2027, 1, 5, 14, 30), callback),
        PlannedReminder("reminder_15m", at(LONDON, 2027, 1, 6, 14, 15), callback),
    ]


def test_a_reminder_whose_time_is_past_or_right_after_booking_is_not_planned() -> None:
    callback = at(LONDON, 2027, 1, 6, 14, 30)
    # Booked 3 hours ahead: the 24-hour reminder would be in the past.
    assert [r.kind for r in plan(DEFAULT, callback, callback - timedelta(hours=3), LONDON)] == ["reminder_15m"]
    # Booked 24 h 5 min ahead: the 24-hour reminder would come 5 minutes after the confirmation.
    assert [r.kind for r in plan(DEFAULT, callback, callback - timedelta(hours=24, minutes=5), LONDON)] == [
        "reminder_15m"
    ]
    # Booked 20 minutes ahead: the confirmation is the only text.
    assert plan(DEFAULT, callback, callback - timedelta(minutes=20), LONDON) == []


def test_a_reminder_in_the_quiet_hours_goes_just_before_they_began() -> None:
    # A callback at 08:10: the 15-minute reminder (07:55) is in the quiet hours (21:00-08:00),
    # so it goes at 20:59 the evening before; the 24-hour one (08:10 the day before) stays.
    callback = at(LONDON, 2027, 1, 6, 8, 10)
    booked = at(LONDON, 2027, 1, 3, 12, 0)
    assert plan(DEFAULT, callback, booked, LONDON) == [
        PlannedReminder("reminder_1440m", at(LONDON, 2027, 1, 5, 8, 10), callback),
        PlannedReminder("reminder_15m", at(LONDON, 2027, 1, 5, 20, 59), callback),
    ]


def test_skip_policy_drops_a_reminder_in_the_quiet_hours() -> None:
    callback = at(LONDON, 2027, 1, 6, 8, 10)
    skip = ReminderPolicy(in_quiet_hours="skip")
    assert [r.kind for r in plan(skip, callback, at(LONDON, 2027, 1, 3, 12, 0), LONDON)] == ["reminder_1440m"]


def test_quiet_hours_are_the_customers_own_in_another_zone() -> None:
    # A London queue calls a New York customer at 14:00 London time = 09:00 in New York.
    # The 24-hour reminder at 14:00 London the day before is 09:00 New York: fine. A
    # 6-hour reminder at 08:00 London would be 03:00 in New York: moved to 20:59 New York.
    callback = at(LONDON, 2027, 1, 6, 14, 0)
    policy = ReminderPolicy(leads=(timedelta(hours=24), timedelta(hours=6)))
    planned = plan(policy, callback, at(LONDON, 2027, 1, 2, 12, 0), NEW_YORK)
    assert planned == [
        PlannedReminder("reminder_1440m", at(LONDON, 2027, 1, 5, 14, 0), callback),
        PlannedReminder("reminder_360m", at(NEW_YORK, 2027, 1, 5, 20, 59), callback),
    ]
    # The same reminder for a London customer is at 08:00 London: not quiet, not moved.
    assert plan(policy, callback, at(LONDON, 2027, 1, 2, 12, 0), LONDON)[1].send_at == at(LONDON, 2027, 1, 6, 8, 0)


def test_two_reminders_moved_onto_each_other_are_sent_once() -> None:
    # Callback at 08:05: the 15-minute (07:50) and 30-minute (07:35) reminders both move
    # to 20:59 the evening before: one text, the earlier-planned (longer lead) one.
    callback = at(LONDON, 2027, 1, 6, 8, 5)
    policy = ReminderPolicy(leads=(timedelta(minutes=15), timedelta(minutes=30)))
    planned = plan(policy, callback, at(LONDON, 2027, 1, 3, 12, 0), LONDON)
    assert planned == [PlannedReminder("reminder_30m", at(LONDON, 2027, 1, 5, 20, 59), callback)]


def test_quiet_hours_on_a_clock_change_night() -> None:
    # 28 March 2027: UK clocks go forward at 01:00. A reminder at 07:30 BST is quiet; the
    # quiet hours began at 21:00 GMT on the 27th (21:00 UTC), whatever the offset later.
    instant = at(LONDON, 2027, 3, 28, 7, 30)
    assert quiet_began(instant, QuietHours(), LONDON) == datetime(2027, 3, 27, 21, 0, tzinfo=UTC)
    # 31 October 2027: back to GMT; 21:00 BST on the 30th is 20:00 UTC.
    instant = at(LONDON, 2027, 10, 31, 7, 30)
    assert quiet_began(instant, QuietHours(), LONDON) == datetime(2027, 10, 30, 20, 0, tzinfo=UTC)


def test_a_reminder_in_the_late_evening_quiet_hours_goes_before_they_began_that_day() -> None:
    callback = at(LONDON, 2027, 1, 6, 9, 0)
    policy = ReminderPolicy(leads=(timedelta(hours=11),))  # 22:00 the day before: quiet
    [reminder] = plan(policy, callback, at(LONDON, 2027, 1, 3, 12, 0), LONDON)
    assert reminder.send_at == at(LONDON, 2027, 1, 5, 20, 59)


def test_quiet_hours_disabled_change_nothing() -> None:
    callback = at(LONDON, 2027, 1, 6, 8, 10)
    policy = ReminderPolicy(quiet=QuietHours(enabled=False))
    planned = plan(policy, callback, at(LONDON, 2027, 1, 3, 12, 0), LONDON)
    assert planned[1].send_at == at(LONDON, 2027, 1, 6, 7, 55)


def test_quiet_hours_within_one_day() -> None:
    lunch = QuietHours(starts=time(12, 0), ends=time(14, 0))
    callback = at(LONDON, 2027, 1, 6, 13, 15)
    [reminder] = plan(
        ReminderPolicy(leads=(timedelta(minutes=15),), quiet=lunch), callback, at(LONDON, 2027, 1, 5, 9), LONDON
    )
    assert reminder.send_at == at(LONDON, 2027, 1, 6, 11, 59)


ABOUT = at(LONDON, 2027, 1, 6, 14, 30)
SEND_AT = ABOUT - timedelta(hours=24)


@pytest.mark.parametrize(
    ("callback_at", "live", "now", "reason"),
    [
        (ABOUT, True, SEND_AT, None),
        (ABOUT, True, SEND_AT + timedelta(hours=2), None),  # a little late: still worth it
        (ABOUT, False, SEND_AT, "the callback is no longer booked"),
        (ABOUT + timedelta(hours=1), True, SEND_AT, "the callback has moved to another time"),
        (None, True, SEND_AT, "the callback has moved to another time"),  # became ASAP
        (ABOUT, True, ABOUT, "the callback time has come"),
        (ABOUT, True, SEND_AT + timedelta(hours=13), "too late to remind (the worker was not running)"),
        (ABOUT, True, at(LONDON, 2027, 1, 5, 22, 0), "inside the customer's quiet hours"),
    ],
)
def test_whether_a_planned_reminder_still_holds(
    callback_at: datetime | None, live: bool, now: datetime, reason: str | None
) -> None:
    assert why_not_send(ABOUT, SEND_AT, callback_at, live, now, QuietHours(), LONDON) == reason

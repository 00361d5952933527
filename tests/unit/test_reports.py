"""Report figures on small hand-counted data sets (scheduler/reports.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from scheduler.reports import (
    AttemptRow,
    CallbackRow,
    EventRow,
    OfferRow,
    billable_minutes,
    cancelled_by,
    counted,
    figures,
    interval_windows,
    period_days,
    report,
)

LONDON = ZoneInfo("Europe/London")
T0 = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def book(minutes: float, due: float) -> EventRow:
    return EventRow("book", at(minutes), "ivr", due_at=at(due))


# One completed in 2 attempts, one unreachable after 3, one cancelled by text.
COMPLETED = CallbackRow(
    "ivr",
    events=(book(0, 5), EventRow("complete", at(20), "provider")),
    attempts=(
        AttemptRow(at(5.5), "no_answer", 30, 0),  # 30 s late: on time
        AttemptRow(at(15), "connected", 61, 61),  # 61 s -> 2 minutes
    ),
)
UNREACHABLE = CallbackRow(
    "web",
    events=(book(1, 10), EventRow("give_up", at(40), "provider")),
    attempts=(
        AttemptRow(at(12), "busy", 0, 0),  # 120 s late: not on time
        AttemptRow(at(20), "busy", None, None),
        AttemptRow(at(30), "no_answer", 45, None),  # no billsec: the duration, 1 minute
    ),
)
CANCELLED = CallbackRow("sms", events=(book(2, 60), EventRow("cancel", at(3), "customer:sms")))
THREE = (COMPLETED, UNREACHABLE, CANCELLED)


def test_three_callbacks_give_the_hand_counted_figures() -> None:
    offers = [OfferRow(at(-1), accepted=True), OfferRow(at(-2)), OfferRow(at(-3)), OfferRow(at(-4), accepted=True)]
    result = figures(THREE, offers, at(-60), at(120))
    assert result.booked == {"ivr": 1, "sms": 1, "web": 1, "api": 0, "console": 0}
    assert result.booked_total == 3
    assert (result.completed, result.unreachable, result.cancelled_total) == (1, 1, 1)
    assert result.cancelled["text"] == 1
    assert (result.dialled, result.connected, result.connect_rate) == (2, 1, 0.5)
    assert result.attempts == 5
    assert result.attempts_per_completed == 2.0
    assert (result.first_dials, result.on_time, result.on_time_rate) == (2, 1, 0.5)
    assert result.average_lag_seconds == 75.0  # (30 + 120) / 2
    assert result.billable_minutes == 2 + 0 + 0 + 0 + 1
    assert (result.offered, result.accepted, result.take_rate) == (4, 2, 0.5)


def test_a_window_counts_only_what_falls_in_it() -> None:
    result = figures(THREE, [], at(10), at(25))
    # In [10, 25): the completion (20), attempts at 12, 15, 20; nothing booked or cancelled.
    assert result.booked_total == 0 and result.cancelled_total == 0
    assert result.completed == 1 and result.unreachable == 0
    assert result.attempts == 3 and result.dialled == 2 and result.connected == 1
    assert result.attempts_per_completed == 2.0  # the completed callback's attempts, whenever made
    assert result.first_dials == 1 and result.on_time == 0  # UNREACHABLE's first dial at 12, 120 s late


def test_rates_of_nothing_are_none_not_zero() -> None:
    empty = figures([], [], at(0), at(60))
    assert empty.take_rate is None and empty.connect_rate is None
    assert empty.attempts_per_completed is None and empty.on_time_rate is None and empty.average_lag_seconds is None


def test_the_due_time_is_the_last_one_set_before_the_first_dial() -> None:
    moved = CallbackRow(
        "api",
        events=(book(0, 5), EventRow("reschedule", at(1), "api", due_at=at(30)), book(40, 50)),
        attempts=(AttemptRow(at(30.5)),),
    )
    result = figures([moved], [], at(0), at(60))
    assert result.first_dials == 1 and result.on_time == 1 and result.average_lag_seconds == 30.0


def test_an_asap_callback_is_on_time_when_first_dialled_before_the_end_of_the_range_told() -> None:
    def asap(first_dial: float) -> CallbackRow:
        # Booked at 0, due at 8.3, told "between 8 and 11 minutes".
        told = EventRow("book", at(0), "ivr", due_at=at(8.3), promised_until=at(11))
        return CallbackRow("ivr", events=(told,), attempts=(AttemptRow(at(first_dial)),))

    within = figures([asap(10.9)], [], at(0), at(60))  # 156 s behind the due time, inside the range
    assert (within.first_dials, within.on_time, within.average_lag_seconds) == (1, 1, pytest.approx(156.0))
    late = figures([asap(11.5)], [], at(0), at(60))
    assert (late.first_dials, late.on_time) == (1, 0)


@pytest.mark.parametrize(
    ("seconds", "minutes"), [(None, 0), (0, 0), (1, 1), (59, 1), (60, 1), (61, 2), (120, 2), (121, 3)]
)
def test_each_call_is_rounded_up_to_the_minute(seconds: int | None, minutes: int) -> None:
    assert billable_minutes(AttemptRow(T0, billable_seconds=seconds)) == minutes


@pytest.mark.parametrize(
    ("step", "actor", "who"),
    [
        ("cancel", "customer:sms", "text"),
        ("cancel", "customer:web", "web"),
        ("cancel", "api", "api"),
        ("cancel", "api-key:CRM", "api"),
        ("cancel", "ivr", "ivr"),
        ("decline", "provider", "call"),
        ("cancel", "ann@example.com", "supervisor"),
        ("cancel", "worker-1", "other"),
    ],
)
def test_cancellations_are_counted_by_who(step: str, actor: str, who: str) -> None:
    assert cancelled_by(step, actor) == who


def test_periods_are_a_day_a_monday_week_or_a_calendar_month() -> None:
    assert period_days("day", date(2027, 1, 6)) == (date(2027, 1, 6),)
    week = period_days("week", date(2027, 1, 6))
    assert week[0] == date(2027, 1, 4) and week[-1] == date(2027, 1, 10) and len(week) == 7
    february = period_days("month", date(2027, 2, 17))
    assert february[0] == date(2027, 2, 1) and february[-1] == date(2027, 2, 28)
    year = period_days("year", date(2027, 6, 17))
    assert year[0] == date(2027, 1, 1) and year[-1] == date(2027, 12, 31) and len(year) == 365
    with pytest.raises(ValueError):
        period_days("decade", date(2027, 1, 1))


def test_days_are_local_days_and_the_total_is_the_whole_period() -> None:
    # 23:30 UTC on Sunday 28 March 2027 is 00:30 on Monday 29 in London (summer time).
    late = CallbackRow("ivr", events=(EventRow("book", datetime(2027, 3, 28, 23, 30, tzinfo=UTC), "ivr"),))
    early = CallbackRow("web", events=(EventRow("book", datetime(2027, 3, 29, 8, 0, tzinfo=UTC), "customer:web"),))
    result = report("week", date(2027, 3, 31), LONDON, [late, early], [])
    assert result.days[0] == date(2027, 3, 29) and result.interval == "day"
    assert [f.booked_total for f in result.per_window] == [2, 0, 0, 0, 0, 0, 0]
    assert result.total.booked == {"ivr": 1, "sms": 0, "web": 1, "api": 0, "console": 0}
    before = report("day", date(2027, 3, 28), LONDON, [late, early], [])
    assert before.total.booked_total == 0


def test_each_day_of_a_report_is_that_days_window() -> None:
    spread = [*THREE, CallbackRow("api", events=(EventRow("book", T0 + timedelta(days=2), "api"),))]
    offers = [OfferRow(at(-1), accepted=True), OfferRow(T0 + timedelta(days=3))]
    result = report("week", date(2027, 1, 4), LONDON, spread, offers)
    for day, of_day in zip(result.days, result.per_window, strict=True):
        midnight = datetime(day.year, day.month, day.day, tzinfo=LONDON)
        assert of_day == figures(spread, offers, midnight, midnight + timedelta(days=1))
    assert [f.booked_total for f in result.per_window] == [3, 0, 1, 0, 0, 0, 0]
    assert [f.offered for f in result.per_window] == [1, 0, 0, 1, 0, 0, 0]
    assert result.total == figures(spread, offers, at(-600), T0 + timedelta(days=7))


# --- intervals --------------------------------------------------------------------------


def test_a_day_is_cut_into_real_hours_and_quarter_hours_in_the_queue_zone() -> None:
    hours = interval_windows(period_days("day", date(2027, 1, 4)), "hour", LONDON)
    assert len(hours) == 24 and hours[10].label == "10:00" and hours[10].start == datetime(2027, 1, 4, 10, tzinfo=UTC)
    quarters = interval_windows(period_days("day", date(2027, 1, 4)), "15min", LONDON)
    assert len(quarters) == 96 and [q.label for q in quarters[:2]] == ["00:00", "00:15"]
    # The day the clocks go back has 25 hours, the repeated one named by its zone; 23 in spring.
    autumn = interval_windows(period_days("day", date(2027, 10, 31)), "hour", LONDON)
    assert [w.label for w in autumn[:4]] == ["00:00", "01:00 BST", "01:00 GMT", "02:00"] and len(autumn) == 25
    assert len(interval_windows(period_days("day", date(2027, 3, 28)), "hour", LONDON)) == 23
    assert all(a.end == b.start for a, b in pairwise(autumn))


def test_weeks_and_months_are_cut_at_the_period_s_ends() -> None:
    january = interval_windows(period_days("month", date(2027, 1, 15)), "week", LONDON)
    assert [w.label for w in january] == ["01 Jan", "04 Jan", "11 Jan", "18 Jan", "25 Jan"]
    assert january[-1].end == datetime(2027, 2, 1, tzinfo=UTC)
    year = interval_windows(period_days("year", date(2027, 5, 1)), "month", LONDON)
    assert len(year) == 12 and year[3].label == "Apr" and year[3].start == datetime(2027, 3, 31, 23, tzinfo=UTC)


def test_an_interval_a_period_is_not_cut_into_is_refused() -> None:
    with pytest.raises(ValueError, match="a year is cut into week, month"):
        report("year", date(2027, 1, 1), LONDON, [], [], interval="15min")
    assert len(report("day", date(2027, 1, 4), LONDON, [], []).windows) == 24  # hours by default


def test_every_interval_adds_up_to_the_period_s_total() -> None:
    result = report("day", date(2027, 1, 4), LONDON, THREE, [OfferRow(at(-1), accepted=True)], interval="15min")
    for name in ("booked_total", "completed", "attempts", "billable_minutes", "offered", "first_dials"):
        assert sum(getattr(f, name) for f in result.per_window) == getattr(result.total, name), name
    assert result.per_window[40].booked_total == 3  # 10:00-10:15


# --- the new measures -------------------------------------------------------------------


def answered(requested: float, answer: float | None, agent: float | None, **kw: object) -> AttemptRow:
    return AttemptRow(
        at(requested),
        "connected" if agent is not None else "no_agent",
        provider=str(kw.get("provider", "twilio")),
        failover_from=kw.get("failover_from"),  # type: ignore[arg-type]
        answered_at=at(answer) if answer is not None else None,
        answered_by=str(kw.get("by", "human")),
        agent_answered_at=at(agent) if agent is not None else None,
    )


def test_speed_to_answer_wait_after_connect_and_abandonment() -> None:
    quick = CallbackRow("ivr", (book(0, 10),), (answered(10, 10.5, 11),), ref="A")  # 30 s to answer, 30 s wait
    slow = CallbackRow("web", (book(0, 10),), (answered(10, 12, 14),), ref="B")  # 120 s, 120 s wait: abandoned
    lost = CallbackRow("web", (book(0, 10),), (answered(11, 11.5, None),), ref="C")  # answered, no agent
    machine = CallbackRow("web", (book(0, 10),), (answered(10, 10.2, None, by="machine"),), ref="D")
    f = figures([quick, slow, lost, machine], [], at(-60), at(120))
    assert (f.answered, f.answers, f.agent_reached, f.abandoned) == (3, 3, 2, 2)
    assert f.average_speed_to_answer_seconds == (30 + 120 + 90) / 3
    assert f.average_wait_after_connect_seconds == (30 + 120) / 2
    assert f.abandon_rate == 2 / 3
    assert figures([slow], [], at(-60), at(120), abandon_seconds=180).abandoned == 0
    assert counted([quick, slow, lost, machine], "abandoned", at(-60), at(120)) == ["B", "C"]


def test_lateness_is_against_the_promise_the_range_s_end_or_the_slot() -> None:
    asap = CallbackRow(
        "ivr", (EventRow("book", at(0), "ivr", due_at=at(1), promised_until=at(20)),), (AttemptRow(at(25)),)
    )
    slot = CallbackRow("web", (book(0, 10),), (AttemptRow(at(12)),))
    early = CallbackRow("web", (book(0, 10),), (AttemptRow(at(9)),))
    f = figures([asap, slot, early], [], at(-60), at(120))
    assert f.late_seconds_total == 5 * 60 + 2 * 60 + 0 and (f.on_time, f.late) == (1, 2)


def test_attempts_by_provider_and_failover() -> None:
    first = answered(10, None, None, provider="twilio")
    second = answered(11, 11.5, 12, provider="vonage", failover_from="twilio")
    f = figures([CallbackRow("ivr", (book(0, 10),), (first, second), ref="F")], [], at(-60), at(120))
    assert f.by_provider == {"twilio": 1, "vonage": 1} and f.connected_by_provider == {"vonage": 1}
    assert (f.failovers, f.failovers_connected, f.dialled, f.connected) == (1, 1, 1, 1)


def test_the_drill_down_lists_exactly_the_callbacks_a_window_counts() -> None:
    refs = [CallbackRow(c.source, c.events, c.attempts, ref=r) for c, r in zip(THREE, "XYZ", strict=True)]
    assert counted(refs, "booked", at(-60), at(120)) == ["X", "Y", "Z"]
    assert counted(refs, "booked.web", at(-60), at(120)) == ["Y"]
    assert counted(refs, "cancelled", at(-60), at(120)) == ["Z"]
    assert counted(refs, "completed", at(0), at(20)) == [] and counted(refs, "completed", at(20), at(21)) == ["X"]
    result = report("day", date(2027, 1, 4), LONDON, refs, [], interval="15min")
    for window, figures_of in zip(result.windows, result.per_window, strict=True):
        for name in ("completed", "unreachable", "first_dials", "on_time", "late", "dialled", "connected"):
            assert len(counted(refs, name, window.start, window.end)) == getattr(figures_of, name), (name, window)
    with pytest.raises(ValueError):
        counted(refs, "billable_minutes", at(0), at(1))


def test_take_rate_by_offer_point_and_minutes_saved() -> None:
    offers = [
        OfferRow(at(1), accepted=True, point="arrival", wait_avoided_seconds=480),
        OfferRow(at(2), accepted=False, point="arrival"),
        OfferRow(at(3), accepted=True, point="holding", wait_avoided_seconds=90),
        OfferRow(at(4), accepted=False, point="menu", wait_avoided_seconds=999),  # not taken: nothing saved
        OfferRow(at(5), accepted=True, point=None, wait_avoided_seconds=None),  # recorded before the points
    ]
    f = figures([], offers, at(0), at(10))
    assert (f.offered, f.accepted) == (5, 3)
    assert f.offered_by_point == {"arrival": 2, "menu": 1, "holding": 1}
    assert (f.take_rate_at("arrival"), f.take_rate_at("menu"), f.take_rate_at("holding")) == (0.5, 0.0, 1.0)
    assert f.minutes_saved == (480 + 90) / 60
    assert figures([], [], at(0), at(10)).take_rate_at("menu") is None

"""Retry policy: delays per outcome, the attempt budget, opening hours and quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.calendar import Interval, QueueCalendar
from scheduler.dial_window import QuietHours, customer_zone, may_dial
from scheduler.retry import (
    Complete,
    GiveUp,
    Outcome,
    OutcomeRule,
    Rebook,
    Retry,
    RetryPolicy,
    decide,
    first_dialable_slot,
)

LONDON_9_TO_5 = QueueCalendar("Europe/London", {wd: [Interval(time(9), time(17), 60, 2)] for wd in range(5)})
OPEN_ALWAYS = QueueCalendar("UTC", {wd: [Interval(time(0), time(0), 60, 2)] for wd in range(7)})
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)  # Monday
POLICY = RetryPolicy()


def test_a_connected_call_completes() -> None:
    assert decide(Outcome.CONNECTED, 1, NOW, NOW + timedelta(hours=1), POLICY, LONDON_9_TO_5, "Europe/London") == (
        Complete()
    )


def test_busy_retries_after_five_minutes_inside_the_window() -> None:
    decision = decide(Outcome.BUSY, 1, NOW, NOW + timedelta(hours=1), POLICY, LONDON_9_TO_5, "Europe/London")
    assert decision == Retry(NOW + timedelta(minutes=5))


def test_default_delays_per_outcome() -> None:
    end = NOW + timedelta(hours=2)
    delays = {o: decide(o, 1, NOW, end, POLICY, LONDON_9_TO_5, "Europe/London") for o in Outcome}
    assert delays[Outcome.NO_ANSWER] == Retry(NOW + timedelta(minutes=10))
    assert delays[Outcome.MACHINE] == Retry(NOW + timedelta(minutes=30))


def test_the_budget_is_three_attempts_by_default() -> None:
    end = NOW + timedelta(hours=2)
    assert isinstance(decide(Outcome.NO_ANSWER, 2, NOW, end, POLICY, LONDON_9_TO_5, "Europe/London"), Retry)
    assert isinstance(decide(Outcome.NO_ANSWER, 3, NOW, end, POLICY, LONDON_9_TO_5, "Europe/London"), GiveUp)


def test_a_permanent_failure_stops_at_once() -> None:
    decision = decide(
        Outcome.FAILED, 1, NOW, NOW + timedelta(hours=1), POLICY, LONDON_9_TO_5, "Europe/London", permanent=True
    )
    assert isinstance(decision, GiveUp)


def test_a_retry_that_misses_the_booked_window_rebooks() -> None:
    decision = decide(Outcome.NO_ANSWER, 1, NOW, NOW + timedelta(minutes=5), POLICY, LONDON_9_TO_5, "Europe/London")
    assert decision == Rebook(NOW + timedelta(minutes=10))


def test_a_retry_never_lands_after_closing() -> None:
    late = datetime(2027, 1, 4, 16, 58, tzinfo=UTC)
    decision = decide(Outcome.BUSY, 1, late, late + timedelta(hours=3), POLICY, LONDON_9_TO_5, "Europe/London")
    assert isinstance(decision, Rebook)


def test_quiet_hours_follow_the_customer_zone() -> None:
    # In January New York is UTC-5: 12:00 UTC is 07:00 there (quiet), 13:00 UTC is 08:00 (allowed).
    quiet = QuietHours()
    ny = ZoneInfo("America/New_York")
    assert quiet.is_quiet(datetime(2027, 1, 4, 12, 0, tzinfo=UTC), ny)
    assert not quiet.is_quiet(datetime(2027, 1, 4, 13, 0, tzinfo=UTC), ny)
    assert quiet.is_quiet(datetime(2027, 1, 5, 2, 0, tzinfo=UTC), ny)  # 21:00 in New York
    assert not QuietHours(enabled=False).is_quiet(datetime(2027, 1, 5, 2, 0, tzinfo=UTC), ny)


def test_a_retry_waits_for_the_customer_morning() -> None:
    early = datetime(2027, 1, 4, 11, 0, tzinfo=UTC)  # 06:00 in New York, the queue (UTC) is open
    decision = decide(Outcome.BUSY, 1, early, early + timedelta(hours=4), POLICY, OPEN_ALWAYS, "America/New_York")
    assert decision == Retry(datetime(2027, 1, 4, 13, 0, tzinfo=UTC))  # 08:00 New York


def test_customer_zone_comes_from_the_number() -> None:
    assert customer_zone("+447400123456", "Europe/London") == "Europe/London"
    assert customer_zone("+447400123456", "UTC") in ("Europe/Guernsey", "Europe/London")  # the same clock
    assert customer_zone("+33612345678", "UTC") == "Europe/Paris"
    assert customer_zone("+79123456789", "Europe/London") == "Europe/London"  # Russia spans zones: the queue's
    assert customer_zone("+12125550199", "UTC") == "America/New_York"


def test_first_dialable_slot_skips_quiet_and_closed_starts() -> None:
    starts = [datetime(2027, 1, 4, h, 0, tzinfo=UTC) for h in (7, 8, 9, 10)]
    assert first_dialable_slot(starts, LONDON_9_TO_5, "Europe/London", QuietHours()) == starts[2]


def test_per_queue_rules_override_the_defaults() -> None:
    policy = RetryPolicy(rules={Outcome.BUSY: OutcomeRule(60, 1)})
    assert isinstance(
        decide(Outcome.BUSY, 1, NOW, NOW + timedelta(hours=1), policy, LONDON_9_TO_5, "Europe/London"), GiveUp
    )
    assert decide(Outcome.NO_ANSWER, 1, NOW, NOW + timedelta(hours=1), policy, LONDON_9_TO_5, "Europe/London") == (
        Retry(NOW + timedelta(minutes=10))
    )


ZONES = st.sampled_from(["Europe/London", "America/New_York", "Asia/Tokyo", "Europe/Moscow"])


@settings(max_examples=200, deadline=None)
@given(
    outcomes=st.lists(st.sampled_from([o for o in Outcome if o is not Outcome.CONNECTED]), min_size=1, max_size=12),
    start=st.datetimes(datetime(2027, 1, 1), datetime(2028, 12, 31)).map(lambda d: d.replace(tzinfo=UTC)),
    zone=ZONES,
    window_hours=st.integers(0, 48),
)
def test_no_retry_is_ever_outside_hours_or_beyond_the_budget(
    outcomes: list[Outcome], start: datetime, zone: str, window_hours: int
) -> None:
    now = start
    finals = 0
    for attempts, outcome in enumerate(outcomes, start=1):
        decision = decide(outcome, attempts, now, now + timedelta(hours=window_hours), POLICY, LONDON_9_TO_5, zone)
        if isinstance(decision, Retry):
            assert decision.at >= now
            assert may_dial(decision.at, LONDON_9_TO_5, zone, POLICY.quiet)
            assert attempts < POLICY.rule(outcome).max_attempts
            now = decision.at
        else:
            assert isinstance(decision, Rebook | GiveUp)
            if isinstance(decision, GiveUp):
                assert attempts >= POLICY.rule(outcome).max_attempts
            finals += 1
            break
    assert finals <= 1


@settings(max_examples=200, deadline=None)
@given(
    outcomes=st.lists(st.sampled_from(list(Outcome)), min_size=20, max_size=20),
    start=st.datetimes(datetime(2027, 1, 1), datetime(2028, 12, 31)).map(lambda d: d.replace(tzinfo=UTC)),
    zone=ZONES,
)
def test_every_callback_ends_in_exactly_one_terminal_state(outcomes: list[Outcome], start: datetime, zone: str) -> None:
    """Drive the life cycle with the policy's decisions: it always ends, once, terminal."""
    from scheduler.lifecycle import TERMINAL_STATES, State, next_state

    state, now, attempts, terminal_entries = State.SCHEDULED, start, 0, 0
    for outcome in outcomes:
        if state in TERMINAL_STATES:
            break
        state = next_state(state, "start_dial") or state
        attempts += 1
        decision = decide(outcome, attempts, now, now + timedelta(minutes=15), POLICY, LONDON_9_TO_5, zone)
        if isinstance(decision, Complete):
            state = next_state(state, "connect") or state
            state = next_state(state, "complete") or state
        elif isinstance(decision, GiveUp):
            state = next_state(state, "give_up") or state
        else:  # Retry or Rebook: back in line
            state = next_state(state, "retry") or state
            assert may_dial(decision.at, LONDON_9_TO_5, zone, POLICY.quiet) if isinstance(decision, Retry) else True
            now = decision.at if isinstance(decision, Retry) else decision.not_before
        terminal_entries += state in TERMINAL_STATES
    assert state in TERMINAL_STATES
    assert terminal_entries == 1
    assert attempts <= max(rule.max_attempts for rule in POLICY.rules.values())

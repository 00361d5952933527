"""The periodic-job rule: once per period whoever asks, and a dead runner's job is taken
up again when its lease runs out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scheduler.periodic import PeriodicJob, cutoffs, finished, is_due

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)

seconds = st.integers(min_value=1, max_value=3 * 86400).map(lambda s: timedelta(seconds=s))


def test_a_job_that_never_ran_is_due() -> None:
    assert is_due(None, None, DAY, HOUR, NOW)


def test_a_finished_run_holds_the_job_for_a_period_from_its_start() -> None:
    started = NOW - DAY
    assert is_due(started, started + HOUR, DAY, HOUR, NOW)
    assert not is_due(started + timedelta(seconds=1), started + HOUR, DAY, HOUR, NOW)


def test_an_unfinished_run_holds_the_job_for_its_lease() -> None:
    assert not is_due(NOW - HOUR + timedelta(seconds=1), None, DAY, HOUR, NOW)
    assert is_due(NOW - HOUR, None, DAY, HOUR, NOW)


def test_a_finish_before_the_last_start_was_an_earlier_run() -> None:
    started = NOW - 2 * HOUR
    assert not finished(started, started - timedelta(seconds=1))
    assert finished(started, started)  # a run that took no time (a standing clock)
    assert is_due(started, started - DAY, DAY, HOUR, NOW)  # that start died: retried after its lease


def test_a_zero_period_runs_now_unless_a_run_holds_the_lease() -> None:
    assert is_due(NOW, NOW, timedelta(0), HOUR, NOW)
    assert not is_due(NOW - timedelta(minutes=5), None, timedelta(0), HOUR, NOW)


def test_cutoffs_are_the_instants_the_sql_compares_with() -> None:
    limits = cutoffs(NOW, DAY, HOUR)
    assert limits.finished_started_by == NOW - DAY and limits.unfinished_started_by == NOW - HOUR


@pytest.mark.parametrize(("period", "lease"), [(timedelta(-1), HOUR), (DAY, timedelta(0))])
def test_a_job_needs_a_sensible_period_and_lease(period: timedelta, lease: timedelta) -> None:
    with pytest.raises(ValueError, match="period"):
        PeriodicJob("x", period, lease)


@settings(max_examples=300, deadline=None)
@given(period=seconds, lease=seconds, took=st.integers(min_value=0, max_value=86400), after=seconds)
def test_never_due_twice_within_a_period(period: timedelta, lease: timedelta, took: int, after: timedelta) -> None:
    started = NOW
    done = started + timedelta(seconds=took)
    now = started + after
    assert is_due(started, done, period, lease, now) == (after >= period)


@settings(max_examples=300, deadline=None)
@given(period=seconds, lease=seconds, after=seconds)
def test_a_dead_runner_is_retried_once_its_lease_runs_out(
    period: timedelta, lease: timedelta, after: timedelta
) -> None:
    assert is_due(NOW, None, period, lease, NOW + after) == (after >= lease)


@settings(max_examples=200, deadline=None)
@given(
    period=seconds,
    lease=seconds,
    asks=st.lists(st.integers(min_value=0, max_value=10 * 86400), min_size=1, max_size=60),
    runs=st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=0.999)), min_size=60, max_size=60),
)
def test_workers_asking_at_any_times_start_runs_a_period_apart(
    period: timedelta, lease: timedelta, asks: list[int], runs: list[tuple[bool, float]]
) -> None:
    """Any number of workers ask at any instants; each run either dies or finishes within
    its lease. Runs never overlap, and a run starts a period after a finished one's start,
    or a lease after a dead one's."""
    last_started: datetime | None = None
    last_finished: datetime | None = None
    finishing: datetime | None = None  # the running run's finish, if it will finish
    starts: list[tuple[datetime, bool]] = []  # (start, whether that run finished)
    for ask in sorted(asks):
        now = NOW + timedelta(seconds=ask)
        if finishing is not None and finishing <= now:
            last_finished, finishing = finishing, None
        if not is_due(last_started, last_finished, period, lease, now):
            continue
        assert finishing is None  # nothing is running when a run starts
        dies, fraction = runs[len(starts)]
        last_started = now
        finishing = None if dies else now + lease * fraction
        starts.append((now, not dies))
    for (first, first_finished), (second, _) in pairwise(starts):
        assert second - first >= (period if first_finished else lease)

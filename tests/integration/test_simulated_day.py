"""The simulated day's bench (bench/simulated_day.py) at a tiny size: 30 calls, 3 agents,
an hour. Its figures are not judged here (docs/performance.md has them); what is checked
is that the simulation holds together: every call ends, every callback booked is rung or
still waiting to be, the shares are shares, and the same seed gives the same day."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

import pytest

from bench.simulated_day import DayConfig, Figures, simulate

TINY = DayConfig(calls=30, agents=3, handle_seconds=360, hours=1, step_seconds=10, drain_minutes=15, seed=7)


@pytest.fixture(scope="module")
def quiet() -> Iterator[None]:
    logging.disable(logging.INFO)  # a line per webhook
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture(scope="module")
def day(quiet: None) -> Figures:
    return simulate(TINY)


def test_every_call_of_the_day_ends_and_every_callback_is_rung_or_still_waiting(day: Figures) -> None:
    assert day.calls > 10
    assert day.calls_not_ended == 0  # nobody is left holding, ringing or talking after the drain
    assert day.booked_asap + day.booked_scheduled > 0  # the offer was heard and taken
    assert day.put_through > 0  # some customers we called were put through to an agent
    for state, due in day.never_rung:
        # Not lost: still due, and due so late (within a handle time of closing, or after)
        # that no agent was free for it before the day ended.
        assert state in ("scheduled", "retry_wait"), (state, due)
        assert due is not None and due >= TINY.closes - timedelta(seconds=TINY.handle_seconds), (state, due)


def test_the_figures_are_shares_and_the_same_seed_gives_the_same_day(day: Figures) -> None:
    for share in (
        day.offered_share,
        day.taken_share,
        day.idle_share,
        day.ecbt_within_range,
        day.abandoned_share,
        day.scheduled_on_time_rate,
    ):
        assert share is None or 0.0 <= share <= 1.0
    assert day.offered_share > 0 and 0 < day.idle_share < 1
    assert simulate(TINY) == day

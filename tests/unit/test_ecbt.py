"""The estimated callback time of an ASAP callback (scheduler/ecbt.py): the caller's own
wait plus the callbacks due before it, each as far behind the one before as the agents
and the dialler's pace allow, and the range in whole minutes they are told."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.agents import Staffing
from scheduler.dialing import ANSWER_LEAD
from scheduler.ecbt import asap_wait_seconds, callback_spacing_seconds, minutes_left, promise
from scheduler.wait import FOREVER

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
# Static staffing: the dialler is not paced by agents, a callback per agent freeing (90 s)
FOUR_AGENTS = Staffing(agents=4, available=None, average_handle_seconds=360, live=False)


def at(minutes: float) -> datetime:
    return NOW + timedelta(minutes=minutes)


def test_without_callbacks_waiting_the_callback_is_due_when_the_caller_would_reach_an_agent() -> None:
    assert asap_wait_seconds(480, [], NOW, FOUR_AGENTS) == 480


def test_callbacks_due_before_the_caller_lengthen_the_wait_and_those_after_do_not() -> None:
    # Two callbacks due before 8 minutes: 2 × 360 s ÷ 4 agents = 180 s more.
    assert asap_wait_seconds(480, [at(1), at(5), at(30)], NOW, FOUR_AGENTS) == 660


def test_the_longer_wait_takes_in_the_callbacks_it_now_reaches() -> None:
    # 8 min + 1 callback (90 s) = 9.5 min, which reaches the one due at 9 min: +90 s more.
    assert asap_wait_seconds(480, [at(7), at(9), at(20)], NOW, FOUR_AGENTS) == 660


def test_free_agents_take_waiting_callbacks_at_once_when_nobody_holds() -> None:
    two_free = Staffing(agents=4, available=2, average_handle_seconds=360, live=True)
    spacing = callback_spacing_seconds(two_free)
    assert asap_wait_seconds(0, [at(-1), at(0)], NOW, two_free) == 0
    assert asap_wait_seconds(0, [at(-2), at(-1), at(0)], NOW, two_free) == math.ceil(spacing)
    # Callers in the line come first: the free agents are theirs.
    assert asap_wait_seconds(60, [at(-1)], NOW, two_free) == 60 + math.ceil(spacing)


def test_paced_by_live_figures_callbacks_ring_no_faster_than_the_dialler_puts_them_through() -> None:
    lead = ANSWER_LEAD.total_seconds()
    twenty = Staffing(agents=20, available=0, average_handle_seconds=360, live=True)
    # An agent frees every 18 s, but one call out at a time (1.1 agents end a call in the 20 s
    # lead) is out for the lead, or longer when no agent frees in it: 20 + 18·e^(−20/18) s
    assert callback_spacing_seconds(twenty) == pytest.approx(lead + 18 * math.exp(-lead / 18))
    assert callback_spacing_seconds(twenty) > 18
    # with the over-dial share two are out at a time: the agents are the limit again
    assert callback_spacing_seconds(twenty, over_dial_ratio=1.0) == 18
    # static staffing: the dialler is not held by agents, one per agent freeing
    assert callback_spacing_seconds(Staffing(20, None, 360, live=False)) == 18
    assert callback_spacing_seconds(Staffing(0, 0, 360, live=True)) == FOREVER
    # a small queue: the agents are the limit (200 s each), the lead hardly counts
    assert callback_spacing_seconds(Staffing(3, 0, 600, live=True)) == pytest.approx(200, rel=0.01)


@given(
    agents=st.integers(1, 200),
    aht=st.integers(1, 3600),
    ratio=st.floats(0, 2, allow_nan=False),
    more=st.floats(0, 2, allow_nan=False),
)
def test_the_spacing_is_never_faster_than_the_agents_and_the_over_dial_share_never_slows_it(
    agents: int, aht: int, ratio: float, more: float
) -> None:
    live = Staffing(agents=agents, available=0, average_handle_seconds=aht, live=True)
    spacing = callback_spacing_seconds(live, ratio)
    assert spacing >= aht / agents
    assert callback_spacing_seconds(live, min(ratio + more, 2.0)) <= spacing


def test_no_agents_is_as_good_as_forever() -> None:
    nobody = Staffing(agents=0, available=0, average_handle_seconds=360, live=True)
    assert asap_wait_seconds(0, [at(-1)], NOW, nobody) == FOREVER


@given(
    wait=st.integers(0, 7200),
    dues=st.lists(st.integers(-600, 10_000), max_size=60),
    agents=st.integers(1, 50),
    aht=st.integers(30, 1800),
)
def test_the_wait_is_never_shorter_than_the_callers_own_and_counts_exactly_the_callbacks_inside_it(
    wait: int, dues: list[int], agents: int, aht: int
) -> None:
    staffing = Staffing(agents=agents, available=0, average_handle_seconds=aht, live=True)
    due = sorted(NOW + timedelta(seconds=s) for s in dues)
    result = asap_wait_seconds(wait, due, NOW, staffing)
    inside = sum(1 for d in due if d <= NOW + timedelta(seconds=result))
    assert result >= wait
    spacing = callback_spacing_seconds(staffing)
    assert result == min(wait + math.ceil(inside * spacing), FOREVER) or result == FOREVER


def test_the_range_runs_from_the_minute_below_the_estimate_to_a_quarter_beyond_it() -> None:
    eight = promise(NOW, 8 * 60 + 20)
    assert eight.due == NOW + timedelta(seconds=500)
    assert minutes_left(eight.earliest, eight.latest, NOW) == (8, 11)
    assert minutes_left(*_range(promise(NOW, 480)), NOW) == (8, 10)
    assert minutes_left(*_range(promise(NOW, 40 * 60)), NOW) == (40, 50)
    assert minutes_left(*_range(promise(NOW, 20)), NOW) == (0, 2)


@given(st.integers(0, FOREVER))
def test_the_estimate_always_lies_inside_the_range_and_the_range_is_two_minutes_or_more(wait: int) -> None:
    made = promise(NOW, wait)
    assert made.earliest <= made.due < made.latest
    assert made.latest - made.earliest >= timedelta(minutes=2)


def test_a_range_said_again_later_counts_from_then() -> None:
    made = promise(NOW, 600)  # 10 to 13 minutes
    assert minutes_left(made.earliest, made.latest, NOW + timedelta(minutes=4)) == (6, 9)
    assert minutes_left(made.earliest, made.latest, NOW + timedelta(minutes=12)) == (0, 1)
    assert minutes_left(made.earliest, made.latest, NOW + timedelta(minutes=20)) == (0, 1)  # late: "within a minute"


def _range(made: object) -> tuple[datetime, datetime]:
    return made.earliest, made.latest  # type: ignore[attr-defined]

"""Pacing by free agents (scheduler/dialing.py): how many callbacks a queue may release
now, and which: never more ringing than its agents free by the time the customer answers
plus the over-dial share, and first due, first dialled within a queue."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.dialing import ANSWER_LEAD, agent_allowance, agents_free_by_answer, choose_claims


@dataclass(frozen=True)
class Due:
    id: int
    queue_id: int
    phone: str
    state: str = "scheduled"
    number_on_call: bool = False
    max_concurrent_calls: int = 1000


def allowance(available: int, ringing: int, ratio: float, signed_in: int | None = None, aht: int = 360) -> int:
    signed_in = available if signed_in is None else signed_in
    return agent_allowance(available, ringing, ratio, signed_in=signed_in, average_handle_seconds=aht)


def test_with_nobody_busy_the_allowance_is_the_free_agents_plus_the_over_dial_share_less_what_is_ringing() -> None:
    assert allowance(available=5, ringing=0, ratio=0.0) == 5
    assert allowance(available=5, ringing=2, ratio=0.0) == 3
    assert allowance(available=5, ringing=0, ratio=0.25) == 6
    assert allowance(available=4, ringing=6, ratio=0.5) == 0  # never negative
    assert allowance(available=0, ringing=0, ratio=1.0) == 0  # nobody signed in: nothing out


def test_busy_agents_count_as_they_will_end_their_calls_by_the_time_the_customer_answers() -> None:
    lead = ANSWER_LEAD.total_seconds()
    # 20 agents all busy with 6-minute calls: one ends every 18 s, 1.1 within the 20 s lead
    assert agents_free_by_answer(0, 20, 360) == pytest.approx(20 * lead / 360)
    assert allowance(available=0, ringing=0, ratio=0.0, signed_in=20) == 1
    assert allowance(available=0, ringing=1, ratio=0.0, signed_in=20) == 0  # that one is ringing
    assert allowance(available=0, ringing=0, ratio=1.0, signed_in=20) == 2  # 2.2 with the over-dial share
    # 3 agents busy with 10-minute calls: 0.1 expected free, nobody dialled until one frees
    assert allowance(available=0, ringing=0, ratio=0.25, signed_in=3, aht=600) == 0
    assert allowance(available=1, ringing=0, ratio=0.0, signed_in=3, aht=600) == 1
    # the busy agents add to the free ones: 2 free + 18 busy × 20 / 120 = 5
    assert allowance(available=2, ringing=0, ratio=0.0, signed_in=20, aht=120) == 5


@given(
    available=st.integers(0, 50),
    busy=st.integers(0, 50),
    ringing=st.integers(0, 60),
    ratio=st.floats(0, 2, allow_nan=False),
    aht=st.integers(1, 3600),
)
def test_released_calls_never_exceed_the_agents_free_by_the_answer_plus_the_over_dial_share(
    available: int, busy: int, ringing: int, ratio: float, aht: int
) -> None:
    allowed = allowance(available, ringing, ratio, signed_in=available + busy, aht=aht)
    expected = agents_free_by_answer(available, available + busy, aht)
    assert allowed >= 0
    assert available <= expected <= available + busy  # never more than the agents there are
    assert ringing + allowed <= max(ringing, math.floor(expected * (1 + ratio)))
    if busy == 0:  # nobody busy: the free agents alone
        assert ringing + allowed <= max(ringing, int(available * (1 + ratio)))


queues = st.integers(1, 3)
due_lists = st.lists(st.tuples(queues, st.integers(0, 20), st.booleans()), max_size=40)


@given(due_lists, st.dictionaries(queues, st.integers(0, 10)), st.dictionaries(queues, st.integers(0, 5)))
def test_within_a_queue_the_first_due_are_dialled_first_and_the_allowance_holds(
    rows: list[tuple[int, int, bool]], allowance: dict[int, int], calls: dict[int, int]
) -> None:
    due = [Due(i, queue, f"+4474000{phone:05d}", number_on_call=busy) for i, (queue, phone, busy) in enumerate(rows)]
    chosen, postponed = choose_claims(due, calls, allowance)
    chosen_ids = {c.id for c in chosen}
    for queue, limit in allowance.items():
        assert sum(1 for c in chosen if c.queue_id == queue) <= limit
    numbers = [c.phone for c in chosen]
    assert len(numbers) == len(set(numbers))  # one call per number
    assert not chosen_ids & set(postponed)
    for queue in {d.queue_id for d in due}:
        line = [d for d in due if d.queue_id == queue]
        # FIFO: once a callback waits for an agent, no later one of its queue goes before it
        # (one put off because its number is on a call steps aside: it waits for the number).
        held = [i for i, d in enumerate(line) if d.id not in chosen_ids and d.id not in postponed]
        if held:
            assert not any(d.id in chosen_ids for d in line[held[0] + 1 :])


def test_a_queue_without_live_figures_is_not_held_by_agents() -> None:
    due = [Due(i, 1, f"+44740000000{i}") for i in range(5)]
    chosen, _ = choose_claims(due, {}, {2: 0})
    assert [c.id for c in chosen] == [0, 1, 2, 3, 4]
    held, _ = choose_claims(due, {}, {1: 2})
    assert [c.id for c in held] == [0, 1]  # the first two due; the rest wait, first in line

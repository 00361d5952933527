"""Pacing by free agents (scheduler/dialing.py): how many callbacks a queue may release
now, and which: never more ringing than its free agents plus the over-dial share, and
first due, first dialled within a queue."""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import given
from hypothesis import strategies as st

from scheduler.dialing import agent_allowance, choose_claims


@dataclass(frozen=True)
class Due:
    id: int
    queue_id: int
    phone: str
    state: str = "scheduled"
    number_on_call: bool = False
    max_concurrent_calls: int = 1000


def test_the_allowance_is_the_free_agents_plus_the_over_dial_share_less_what_is_ringing() -> None:
    assert agent_allowance(available=5, ringing=0, over_dial_ratio=0.0) == 5
    assert agent_allowance(available=5, ringing=2, over_dial_ratio=0.0) == 3
    assert agent_allowance(available=5, ringing=0, over_dial_ratio=0.25) == 6
    assert agent_allowance(available=4, ringing=6, over_dial_ratio=0.5) == 0  # never negative
    assert agent_allowance(available=0, ringing=0, over_dial_ratio=1.0) == 0  # nobody free: nothing out


@given(
    available=st.integers(0, 50),
    ringing=st.integers(0, 60),
    ratio=st.floats(0, 2, allow_nan=False),
)
def test_released_calls_never_exceed_free_agents_plus_the_over_dial_share(
    available: int, ringing: int, ratio: float
) -> None:
    allowed = agent_allowance(available, ringing, ratio)
    assert allowed >= 0
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

"""The dialer's rules: which due callbacks a claim takes, how fast calls go out, how long
to wait after a failed dial, how call-progress reports rank. Pure: time comes in as an
argument; services/dialer/ loads, saves and talks to the providers around them."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from scheduler.lifecycle import next_state

MAX_BACKOFF = timedelta(minutes=10)
ON_CALL_RETRY = timedelta(seconds=30)  # a number already on a call (another queue's callback)
# From dialling a customer to their taking the call (ringing, hello, the menu's 1): the
# agents who end a call within it will be free for them (agents_free_by_answer).
ANSWER_LEAD = timedelta(seconds=20)
CALL_WATCH = timedelta(minutes=5)  # how long a placed call goes without news before we ask the provider
PROVIDER_API_GRACE = timedelta(seconds=30)  # longer than any provider API call we make (10 s timeouts)
# How far a call has got: a report never moves an attempt back down this order.
CALL_STATE_RANK = {s: i for i, s in enumerate(["requested", "queued", "ringing", "answered"])}


def dial_backoff(errors: int) -> timedelta:
    """Provider API failures: 15 s, 30 s, 1 min … up to 10 minutes."""
    return min(timedelta(seconds=15 * 2 ** max(0, errors - 1)), MAX_BACKOFF)


def pace(next_at: datetime | None, now: datetime, calls_per_second: float) -> tuple[datetime, datetime]:
    """(when this call may go, when the next one may): one call per 1/cps seconds."""
    slot = max(next_at or now, now)
    return slot, slot + timedelta(seconds=1 / calls_per_second)


def claim_budget(limit: int, lease: timedelta, next_at: datetime | None, now: datetime, calls_per_second: float) -> int:
    """No more than can be dialled, at the provider's pace and behind the turns other
    workers already hold, within half a lease (claims beyond that would only run out
    before their turn and be fenced off)."""
    backlog = max(0.0, (next_at - now).total_seconds()) if next_at else 0.0
    return max(0, min(limit, int((lease.total_seconds() / 2 - backlog) * calls_per_second)))


class Due(Protocol):
    """What the choice needs to know about a due callback."""

    @property
    def id(self) -> int: ...
    @property
    def queue_id(self) -> int: ...
    @property
    def phone(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def number_on_call(self) -> bool: ...
    @property
    def max_concurrent_calls(self) -> int: ...


D = TypeVar("D", bound=Due)


def agents_free_by_answer(available: int, signed_in: int, average_handle_seconds: int) -> float:
    """The agents expected free when a call dialled now is answered (``ANSWER_LEAD`` on):
    those free now, and the busy ones who end a call within the lead (a busy agent ends
    one every average handle time). While callers hold, every agent is busy and none is
    free, yet one ends a call every AHT ÷ agents: a callback due then is dialled so that
    its customer takes the next agent who frees, ahead of the callers holding behind it
    (the ACD gives our callbacks the next agent: docs/queues.md, "Live agent figures")."""
    busy = max(signed_in - max(available, 0), 0)
    ending = busy * min(ANSWER_LEAD.total_seconds() / max(average_handle_seconds, 1), 1.0)  # each frees once
    return max(available, 0) + ending


def agent_allowance(
    available: int, ringing: int, over_dial_ratio: float, *, signed_in: int, average_handle_seconds: int
) -> int:
    """How many more of a queue's callbacks may be dialled now, by its agents: never more
    calls out without an agent (``ringing``: dialled, in the menu, or put through and
    holding for one) than the agents free by the time the customer answers
    (``agents_free_by_answer``) plus the over-dial share of them (``over_dial_ratio``
    0.25: 5 agents, 6 calls out), so that whoever answers finds an agent. A fraction of an
    agent dials nobody."""
    expected = agents_free_by_answer(available, signed_in, average_handle_seconds)
    return max(0, math.floor(expected * (1 + max(over_dial_ratio, 0.0))) - max(ringing, 0))


def choose_claims(
    due: Iterable[D], calls_by_queue: dict[int, int], allowance: Mapping[int, int] | None = None
) -> tuple[list[D], list[int]]:
    """(the callbacks to dial now, the ids to put off by ``ON_CALL_RETRY``), in the order
    given (due time first: FIFO within a queue): a queue never has more calls than its
    agents (``max_concurrent_calls``), nor more new ones than its ``allowance`` when its
    live agent figures give one (``agent_allowance``); a number is never on two calls (one
    on a call, another queue's, waits). A callback held back stays due, first in line."""
    calls = dict(calls_by_queue)
    left = dict(allowance or {})
    chosen: list[D] = []
    postponed: list[int] = []
    numbers: set[str] = set()
    for callback in due:
        going = calls.get(callback.queue_id, 0)
        if going >= callback.max_concurrent_calls:
            continue  # the queue's agents are all on callbacks: wait for one to end
        if left.get(callback.queue_id, 1) <= 0:
            continue  # no agent will be free for it yet: dialled (late, in due order) when one is
        if callback.number_on_call or callback.phone in numbers:
            postponed.append(callback.id)  # this number is on a call (another queue's): later
            continue
        next_state(callback.state, "start_dial")  # the life cycle's rule (raises if broken)
        calls[callback.queue_id] = going + 1
        if callback.queue_id in left:
            left[callback.queue_id] -= 1
        numbers.add(callback.phone)
        chosen.append(callback)
    return chosen, postponed

"""The estimated callback time (ECBT) of an ASAP callback, and the range the customer is
told. Pure: the figures and ``now`` are arguments.

An ASAP callback keeps the caller's place in line: it is due when they would have reached
an agent. That is their own wait in the line (the EWT the IVR says, from the live agent
figures or the provider's queue position) plus the callbacks already due before then, each
taking an average handle time shared among the agents (free agents take the first at
once). Those callbacks make the wait longer, so more of them fall before it: the sum is
worked out until no further callback falls inside it.

The customer is told a range in whole minutes, "between 8 and 10 minutes from now": from
the estimate rounded down to the minute, to a quarter more than the estimate (at least two
minutes wide). The dialer rings at the estimate, and pacing by free agents
(scheduler/dialing.py) may ring a little later, within the range; the reports' on-time
rate counts an ASAP callback on time when its first ring is before the range's end.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.agents import Staffing
from scheduler.dialing import ANSWER_LEAD, agent_allowance
from scheduler.wait import FOREVER

RANGE_MIN_MINUTES = 2  # the narrowest range said: "between 8 and 10 minutes"
RANGE_SHARE = 0.25  # the range reaches a quarter beyond the estimate


@dataclass(frozen=True)
class Promise:
    """When an ASAP callback rings (``due``), and the range the customer is told."""

    due: datetime
    earliest: datetime
    latest: datetime


def _minutes(span: timedelta) -> int:
    return max(int(span.total_seconds() // 60), 0)


def callback_spacing_seconds(staffing: Staffing, over_dial_ratio: float = 0.0) -> float:
    """How far apart the callbacks waiting ring, every agent busy: one per agent freeing
    (AHT ÷ agents), unless the dialler's pace is slower. While the live figures pace it
    (scheduler/dialing.py: agent_allowance), it has ``k`` calls out at a time with every
    agent busy (the agents ending a call within the answer lead, with the over-dial share;
    at least one), and each is out from its dial until its customer has an agent: the
    answer lead, or longer when no agent frees within it. With agents freeing at random
    every ``m`` seconds, that is on average lead + m·e^(−lead/m); so one callback per
    (lead + m·e^(−lead/m)) ÷ k. Without live figures the dialler is not held by agents."""
    if staffing.agents <= 0:
        return float(FOREVER)
    per_agent = staffing.average_handle_seconds / staffing.agents
    if not staffing.live or per_agent <= 0:
        return per_agent
    lead = ANSWER_LEAD.total_seconds()
    out = max(
        1,
        agent_allowance(
            0, 0, over_dial_ratio, signed_in=staffing.agents, average_handle_seconds=staffing.average_handle_seconds
        ),
    )
    cycle = lead + per_agent * math.exp(-lead / per_agent)
    return max(per_agent, cycle / out)


def asap_wait_seconds(
    caller_wait_seconds: int,
    callbacks_due: Sequence[datetime],
    now: datetime,
    staffing: Staffing,
    over_dial_ratio: float = 0.0,
) -> int:
    """The caller's own wait in line, plus the callbacks due (sorted ``callbacks_due``: the
    queue's waiting callbacks' due times) before they would reach an agent, each rung
    ``callback_spacing_seconds`` after the one before (``over_dial_ratio``: the queue's)."""
    if caller_wait_seconds < 0:
        raise ValueError("a wait cannot be negative")
    # Agents free now take callbacks at once, unless callers in the line are before them.
    free = (staffing.available or 0) if caller_wait_seconds == 0 else 0
    spacing = callback_spacing_seconds(staffing, over_dial_ratio)
    wait, counted = caller_wait_seconds, 0
    while wait < FOREVER:
        ahead = bisect_right(callbacks_due, now + timedelta(seconds=wait))
        if ahead == counted:
            break
        counted = ahead
        extra = math.ceil(max(ahead - free, 0) * spacing)
        wait = min(caller_wait_seconds + extra, FOREVER)
    return wait


def promise(now: datetime, wait_seconds: int) -> Promise:
    """The ECBT ``wait_seconds`` from ``now``, and the range said for it."""
    if wait_seconds < 0:
        raise ValueError("a wait cannot be negative")
    low = wait_seconds // 60
    high = max(low + RANGE_MIN_MINUTES, math.ceil(wait_seconds * (1 + RANGE_SHARE) / 60))
    return Promise(
        due=now + timedelta(seconds=wait_seconds),
        earliest=now + timedelta(minutes=low),
        latest=now + timedelta(minutes=high),
    )


def minutes_left(earliest: datetime, latest: datetime, now: datetime) -> tuple[int, int]:
    """A range made earlier, as whole minutes from ``now`` (for "you asked us to call you
    back between …"): the start rounded down, the end rounded up and at least a minute."""
    low = _minutes(earliest - now)
    high = max(math.ceil((latest - now).total_seconds() / 60), low + 1)
    return low, high

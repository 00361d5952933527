"""Live agent figures: how many agents are signed in and available now, their average
handle time, the longest-waiting contact and how many contacts wait (the ACD's line), as
an ACD, a WFM tool or the provider reports them. Pure: the figures and ``now`` are arguments.

A report older than ``max_age`` (or stamped ahead of ``now`` by more than the clock skew)
counts as unknown, and the queue falls back to its static staffing (``agents`` and
``average_handle_seconds`` in its document).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from scheduler.errors import ValidationFailed
from scheduler.wait import estimated_wait_seconds

CLOCK_SKEW = timedelta(seconds=30)  # a report's time may run this far ahead of ours
MAX_AGENTS = 100_000
MAX_CALLERS = 100_000  # callers waiting, as a queue document's callers_waiting allows
MAX_SECONDS = 86_400


@dataclass(frozen=True)
class AgentFigures:
    signed_in: int
    available: int
    average_handle_seconds: int
    longest_wait_seconds: int | None
    reported_at: datetime  # when the source measured them
    source: str  # "push" (PUT /api/v1/queues/{key}/agents)
    # Contacts waiting for an agent in the ACD's line now (None: not reported, and the
    # queue's static ``callers_waiting`` counts instead).
    callers_waiting: int | None = None

    def __post_init__(self) -> None:
        problems: dict[str, str] = {}
        if not 0 <= self.signed_in <= MAX_AGENTS:
            problems["signed_in"] = f"must be 0 … {MAX_AGENTS}"
        if not 0 <= self.available <= self.signed_in:
            problems["available"] = "must be 0 … signed_in (an available agent is signed in)"
        if not 1 <= self.average_handle_seconds <= MAX_SECONDS:
            problems["average_handle_seconds"] = f"must be 1 … {MAX_SECONDS}"
        if self.longest_wait_seconds is not None and not 0 <= self.longest_wait_seconds <= MAX_SECONDS:
            problems["longest_wait_seconds"] = f"must be 0 … {MAX_SECONDS} or null"
        if self.callers_waiting is not None and not 0 <= self.callers_waiting <= MAX_CALLERS:
            problems["callers_waiting"] = f"must be 0 … {MAX_CALLERS} or null"
        if self.reported_at.tzinfo is None:
            problems["at"] = "needs a time zone"
        if problems:
            raise ValidationFailed("the agent figures do not add up", problems)


@dataclass(frozen=True)
class Staffing:
    """What the wait estimate uses: the live figures when fresh, else the static ones."""

    agents: int  # agents answering the queue
    available: int | None  # free now (None: not known, static staffing)
    average_handle_seconds: int
    live: bool
    waiting: int | None = None  # contacts in the ACD's line now, when the live figures say


def is_fresh(figures: AgentFigures, now: datetime, max_age: timedelta) -> bool:
    return reported_in_time(figures.reported_at, now, max_age)


def reported_in_time(reported_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """Whether figures measured at ``reported_at`` still count (None: never reported)."""
    return reported_at is not None and now - max_age <= reported_at <= now + CLOCK_SKEW


def staffing(
    figures: AgentFigures | None,
    now: datetime,
    max_age: timedelta,
    *,
    static_agents: int,
    static_average_handle_seconds: int,
) -> Staffing:
    if figures is not None and is_fresh(figures, now, max_age):
        return Staffing(
            figures.signed_in,
            figures.available,
            figures.average_handle_seconds,
            live=True,
            waiting=figures.callers_waiting,
        )
    return Staffing(static_agents, None, static_average_handle_seconds, live=False)


def callers_in_line(callers_waiting: int, staffing: Staffing) -> int:
    """The callers waiting in line: the live figure when reported, else ``callers_waiting``
    (the queue's static figure)."""
    return callers_waiting if staffing.waiting is None else staffing.waiting


def callers_ahead(callers_waiting: int, staffing: Staffing) -> int:
    """The callers a new caller waits behind: those in line not already taken by a free agent."""
    waiting = callers_in_line(callers_waiting, staffing)
    if staffing.available is None:
        return waiting
    return max(waiting - staffing.available, 0)


def line_wait_seconds(callers_waiting: int, staffing: Staffing) -> int:
    """The EWT of a caller joining the line now: the callers ahead of them (those a free
    agent does not take at once), each an average handle time shared among the agents."""
    return estimated_wait_seconds(
        callers_ahead(callers_waiting, staffing), staffing.average_handle_seconds, staffing.agents
    )

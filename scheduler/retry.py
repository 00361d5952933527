"""What happens after an attempt: complete, retry in the booked window, re-book into a
later slot, or give up. Pure: the caller supplies the outcome, the policy, ``now`` and
the queue's calendar; nothing here reads a clock or a database."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from scheduler.calendar import QueueCalendar
from scheduler.dial_window import QuietHours, may_dial, next_dial_time


class Outcome(StrEnum):
    CONNECTED = "connected"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    MACHINE = "machine"
    REJECTED = "rejected"
    FAILED = "failed"
    CUSTOMER_HUNG_UP = "customer_hung_up"
    AGENT_UNAVAILABLE = "agent_unavailable"


@dataclass(frozen=True)
class OutcomeRule:
    delay_seconds: int
    max_attempts: int


DEFAULT_RULES: Mapping[Outcome, OutcomeRule] = {
    Outcome.BUSY: OutcomeRule(5 * 60, 3),
    Outcome.NO_ANSWER: OutcomeRule(10 * 60, 3),
    Outcome.MACHINE: OutcomeRule(30 * 60, 3),
    Outcome.REJECTED: OutcomeRule(10 * 60, 3),
    Outcome.FAILED: OutcomeRule(5 * 60, 3),
    Outcome.CUSTOMER_HUNG_UP: OutcomeRule(5 * 60, 3),
    # Not the customer's doing: try again soon, a little more often.
    Outcome.AGENT_UNAVAILABLE: OutcomeRule(2 * 60, 5),
}


@dataclass(frozen=True)
class RetryPolicy:
    rules: Mapping[Outcome, OutcomeRule] = field(default_factory=lambda: dict(DEFAULT_RULES))
    quiet: QuietHours = field(default_factory=QuietHours)

    def rule(self, outcome: Outcome) -> OutcomeRule:
        return self.rules.get(outcome, DEFAULT_RULES[outcome])


@dataclass(frozen=True)
class Complete:
    pass


@dataclass(frozen=True)
class Retry:
    at: datetime


@dataclass(frozen=True)
class Rebook:
    """No retry fits the booked window: move to the first slot starting at or after this."""

    not_before: datetime


@dataclass(frozen=True)
class GiveUp:
    reason: str


Decision = Complete | Retry | Rebook | GiveUp


def decide(
    outcome: Outcome,
    attempts_made: int,
    now: datetime,
    window_end: datetime,
    policy: RetryPolicy,
    calendar: QueueCalendar,
    customer_tz: str,
    *,
    permanent: bool = False,
    closed_by_message: bool = False,
) -> Decision:
    """The next step after an attempt that ended with ``outcome`` (``attempts_made``
    counts it). ``window_end`` is the end of the slot the callback is booked into.
    ``closed_by_message``: a message was left on the answering machine and the queue
    says that is enough (scheduler/machine.py closes_callback): no retry."""
    if outcome is Outcome.CONNECTED:
        return Complete()
    if permanent:
        return GiveUp("the number cannot be called")
    if closed_by_message:
        return GiveUp("a message was left on the answering machine")
    rule = policy.rule(outcome)
    if attempts_made >= rule.max_attempts:
        return GiveUp(f"{attempts_made} attempts made ({outcome.value})")
    earliest = now + timedelta(seconds=rule.delay_seconds)
    at = next_dial_time(earliest, calendar, customer_tz, policy.quiet, not_after=window_end)
    if at is not None:
        return Retry(at)
    return Rebook(earliest)


def first_dialable_slot(
    slot_starts: Iterable[datetime], calendar: QueueCalendar, customer_tz: str, quiet: QuietHours
) -> datetime | None:
    """The first slot start at which we may ring this customer (open, not their quiet hours)."""
    for start in slot_starts:
        if may_dial(start, calendar, customer_tz, quiet):
            return start
    return None

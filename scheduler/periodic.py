"""When a periodic job (the daily retention pass, the hourly upkeep) is due: once per
cluster per period, whichever worker process gets to it first.

Pure rule (time is an argument). A job's record is when its last run started and when a
run last finished. The period counts from start to start, so two runs that finished are
never less than a period apart, however many workers ask or restart. A run that has not
finished (it is running, it raised, or its worker died) holds the job for its lease: when
the lease has run out, the job is due again, so that a dead runner's period is not lost.
The database claim (services/periodic.py) is this rule as one conditional UPDATE, with the two
instants of ``cutoffs`` as its parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class PeriodicJob:
    """A job that runs once per ``period`` in the whole cluster. ``lease``: how long a
    run may take before another worker assumes its runner died and runs it again."""

    name: str
    period: timedelta
    lease: timedelta

    def __post_init__(self) -> None:
        if self.period < timedelta(0) or self.lease <= timedelta(0):
            raise ValueError(f"{self.name}: the period must not be negative and the lease must be positive")


@dataclass(frozen=True)
class Cutoffs:
    """A job is due when it never started, or its last run finished and started at or
    before ``finished_started_by``, or it did not finish and started at or before
    ``unfinished_started_by`` (its lease has run out)."""

    finished_started_by: datetime
    unfinished_started_by: datetime


def cutoffs(now: datetime, period: timedelta, lease: timedelta) -> Cutoffs:
    return Cutoffs(finished_started_by=now - period, unfinished_started_by=now - lease)


def finished(last_started: datetime | None, last_finished: datetime | None) -> bool:
    """Whether the last run that started has finished (a finish at or after its start:
    an older finish is a previous run's)."""
    return last_started is not None and last_finished is not None and last_finished >= last_started


def is_due(
    last_started: datetime | None,
    last_finished: datetime | None,
    period: timedelta,
    lease: timedelta,
    now: datetime,
) -> bool:
    """Whether the job should start at ``now``. A period of zero means "now, unless a run
    holds its lease" (``callbacks worker --once``)."""
    if last_started is None:
        return True
    limits = cutoffs(now, period, lease)
    if finished(last_started, last_finished):
        return last_started <= limits.finished_started_by
    return last_started <= limits.unfinished_started_by

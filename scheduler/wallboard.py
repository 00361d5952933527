"""The live wallboard's rows: one per queue, pure arithmetic over what the shell read
(services/wallboard.py), with ``now`` an argument.

A row says, for one queue:

- **pending**: callbacks waiting to be dialled (scheduled or waiting for a retry);
  **due now**: those of them due at or before ``now``; **oldest due**: how long the
  longest-waiting of those is past its due time (seconds; None when none is due).
- **dialing** and **connected**: callbacks on a call now.
- **ECBT now**: the wait an ASAP callback booked now would be told (scheduler/ecbt.py,
  as services/asap_promise.py computes it), and its **trend**: the samples the worker
  records every ``SAMPLE_SECONDS`` over the last ``TREND_HOURS``, as a sparkline.
- **on-time rate today**: the reports' figure (scheduler/reports.py) over the queue's
  local day so far: first dials within 60 s of their due time (or within an ASAP range).
- **agents free**: the live agent figures' ``available`` while fresh, else unknown.
- **texts failing** / **deliveries failing**: texts failed or undelivered, and CRM event
  deliveries failed for good or being retried, over the last ``FAILING_HOURS``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.agents import Staffing
from scheduler.reports import CallbackRow, figures, local_midnight

SAMPLE_SECONDS = 300  # one ECBT sample per queue per five minutes
TREND_HOURS = 4
FAILING_HOURS = 24
SAMPLE_RETENTION = timedelta(days=2)  # older samples are pruned (the hourly upkeep)
SPARK_WIDTH = 120
SPARK_HEIGHT = 28


@dataclass(frozen=True)
class QueueFacts:
    """What the shell read of one queue."""

    key: str
    name: str
    timezone: str
    due_times: Sequence[datetime]  # next_attempt_at of every callback waiting to be dialled
    dialing: int
    connected: int
    staffing: Staffing
    ecbt_seconds: int
    today: Sequence[CallbackRow]  # the callbacks touched today (local), as the reports read them
    samples: Sequence[tuple[datetime, int]]  # (bucket, ECBT seconds) of the trend window, any order
    texts_failing: int = 0
    deliveries_failing: int = 0


@dataclass(frozen=True)
class Row:
    key: str
    name: str
    pending: int
    due_now: int
    dialing: int
    connected: int
    ecbt_seconds: int
    trend: tuple[tuple[datetime, int], ...]  # (bucket, seconds), oldest first
    sparkline: str  # SVG polyline points, "" with fewer than two samples
    on_time_rate: float | None  # a fraction; None before the first dial of the day
    agents_free: int | None
    oldest_due_seconds: int | None
    texts_failing: int
    deliveries_failing: int

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.key,
            "name": self.name,
            "pending": self.pending,
            "due_now": self.due_now,
            "dialing": self.dialing,
            "connected": self.connected,
            "ecbt_seconds": self.ecbt_seconds,
            "trend": [{"at": at.isoformat(), "seconds": seconds} for at, seconds in self.trend],
            "sparkline": self.sparkline,
            "on_time_rate": self.on_time_rate,
            "agents_free": self.agents_free,
            "oldest_due_seconds": self.oldest_due_seconds,
            "texts_failing": self.texts_failing,
            "deliveries_failing": self.deliveries_failing,
        }


def bucket_of(now: datetime) -> datetime:
    """The start of the sampling bucket ``now`` falls in (UTC, a multiple of SAMPLE_SECONDS)."""
    utc = now.astimezone(UTC)
    seconds = int(utc.timestamp()) // SAMPLE_SECONDS * SAMPLE_SECONDS
    return datetime.fromtimestamp(seconds, UTC)


def trend_since(now: datetime) -> datetime:
    return now - timedelta(hours=TREND_HOURS)


def failing_since(now: datetime) -> datetime:
    return now - timedelta(hours=FAILING_HOURS)


def sparkline(points: Sequence[tuple[datetime, int]], now: datetime) -> str:
    """The samples as SVG polyline points in a SPARK_WIDTH × SPARK_HEIGHT box: time across
    the trend window (now at the right), the wait up from the bottom (scaled to the
    largest sample, at least a minute high)."""
    if len(points) < 2:
        return ""
    start, span = trend_since(now), timedelta(hours=TREND_HOURS).total_seconds()
    top = max(max(seconds for _, seconds in points), 60)
    coordinates = []
    for at, seconds in points:
        x = min(max((at - start).total_seconds() / span, 0.0), 1.0) * SPARK_WIDTH
        y = SPARK_HEIGHT - seconds / top * SPARK_HEIGHT
        coordinates.append(f"{x:.1f},{y:.1f}")
    return " ".join(coordinates)


def row(facts: QueueFacts, now: datetime) -> Row:
    """The wallboard's row of one queue at ``now``."""
    due = [at for at in facts.due_times if at <= now]
    zone = ZoneInfo(facts.timezone)
    today = now.astimezone(zone).date()
    day = figures(facts.today, (), local_midnight(today, zone), local_midnight(today + timedelta(days=1), zone))
    since = trend_since(now)
    trend = tuple(sorted((at, seconds) for at, seconds in facts.samples if since <= at <= now))
    return Row(
        key=facts.key,
        name=facts.name,
        pending=len(facts.due_times),
        due_now=len(due),
        dialing=facts.dialing,
        connected=facts.connected,
        ecbt_seconds=facts.ecbt_seconds,
        trend=trend,
        sparkline=sparkline(trend, now),
        on_time_rate=day.on_time_rate,
        agents_free=facts.staffing.available if facts.staffing.live else None,
        oldest_due_seconds=int((now - min(due)).total_seconds()) if due else None,
        texts_failing=facts.texts_failing,
        deliveries_failing=facts.deliveries_failing,
    )

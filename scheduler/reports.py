"""Report figures for one queue and period: pure arithmetic over plain rows.

The shell (services/reports.py) loads every callback *touched* in the period (an event
or an attempt in it) with its whole history, and the inbound IVR's offers made in it;
``report`` cuts the period into the queue's local days and computes the same figures for
each day and for the whole period. No clock, no database.

A figure belongs to the window its deciding instant falls in:

- **offered / accepted**: inbound calls the IVR offered a callback to (once per call,
  however often it offered), by when it first offered; accepted = those where the caller
  then booked (ASAP or a time) or asked for a link. Take rate = accepted / offered.
- **booked**: ``book`` events, by the callback's source (ivr, sms, web, api, console).
- **completed**: ``complete`` events; **unreachable**: ``give_up`` events.
- **cancelled**: ``cancel`` and ``decline`` events, by who: ``customer:sms`` text,
  ``customer:web``/``customer:link`` web, ``api``/``api-key:*`` api, ``ivr`` the inbound
  IVR, a ``decline`` the customer on the callback call itself, an email address (a
  console user) supervisor, anything else other.
- **connect rate**: of the callbacks with at least one attempt requested in the window
  (dialled), those with an attempt in the window whose outcome is ``connected`` (a
  human answered and an agent was reached) / dialled.
- **attempts per completed**: every attempt (whenever made) of the callbacks completed in
  the window / completed.
- **on time** and **dispatch lag**: for callbacks whose *first* attempt was requested in
  the window: lag = that attempt's ``requested_at`` − the due time the callback then had
  (the last ``book`` or ``reschedule`` at or before it: the booking's ``due_at`` — the
  slot's start for its first seat, spread across the slot for later seats, the ASAP due
  time for ASAP — or the new slot's start). On time: lag ≤ 60 s, or for an ASAP callback
  booked with an ECBT range (scheduler/ecbt.py), dialled before the range's end (the
  book event's ``promised_until``). Average lag in seconds.
- **billable minutes**: over attempts requested in the window, each call's
  ``billable_seconds`` (else ``duration_seconds``, else 0) rounded up to the whole minute,
  as callback services bill; a call of 0 s costs nothing.

The **breakdowns by source and by campaign** (the web visitor's ``utm_source`` and
``utm_campaign``, scheduler/attribution.py) are the same figures over the whole period for
the callbacks of each group, ``(none)`` for callbacks without the value; the IVR's offers
belong to no group (their figures are left out there).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.attribution import BREAKDOWNS, group_of

PERIODS = ("day", "week", "month")
SOURCES = ("ivr", "sms", "web", "api", "console")
CANCELLED_BY = ("text", "web", "api", "ivr", "call", "supervisor", "other")
ON_TIME_SECONDS = 60


@dataclass(frozen=True)
class EventRow:
    step: str
    at: datetime
    actor: str
    due_at: datetime | None = None  # book: the payload's due_at; reschedule: the new slot's start
    promised_until: datetime | None = None  # book of an ASAP callback: the end of the ECBT range told


@dataclass(frozen=True)
class AttemptRow:
    requested_at: datetime
    outcome: str | None = None
    duration_seconds: int | None = None
    billable_seconds: int | None = None


@dataclass(frozen=True)
class CallbackRow:
    source: str
    events: tuple[EventRow, ...] = ()
    attempts: tuple[AttemptRow, ...] = ()
    attribution: dict[str, Any] | None = None  # a web visitor's (scheduler/attribution.py)


@dataclass(frozen=True)
class OfferRow:
    offered_at: datetime
    accepted: bool = False


@dataclass
class Figures:
    """A window's figures; ``tally`` counts into it as it reads the rows."""

    offered: int = 0
    accepted: int = 0
    booked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))  # by source
    completed: int = 0
    unreachable: int = 0
    cancelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CANCELLED_BY, 0))
    dialled: int = 0
    connected: int = 0
    attempts_of_completed: int = 0
    first_dials: int = 0
    on_time: int = 0
    lag_seconds_total: float = 0.0
    attempts: int = 0
    billable_minutes: int = 0

    @property
    def booked_total(self) -> int:
        return sum(self.booked.values())

    @property
    def cancelled_total(self) -> int:
        return sum(self.cancelled.values())

    @property
    def take_rate(self) -> float | None:
        return _ratio(self.accepted, self.offered)

    @property
    def connect_rate(self) -> float | None:
        return _ratio(self.connected, self.dialled)

    @property
    def attempts_per_completed(self) -> float | None:
        return _ratio(self.attempts_of_completed, self.completed)

    @property
    def on_time_rate(self) -> float | None:
        return _ratio(self.on_time, self.first_dials)

    @property
    def average_lag_seconds(self) -> float | None:
        return self.lag_seconds_total / self.first_dials if self.first_dials else None


@dataclass(frozen=True)
class Report:
    period: str
    first_day: date
    days: tuple[date, ...]
    per_day: tuple[Figures, ...]
    total: Figures
    # Per breakdown (source, campaign): each group's figures over the period, most booked first.
    breakdowns: dict[str, tuple[tuple[str, Figures], ...]] = field(default_factory=dict)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def period_days(period: str, start: date) -> tuple[date, ...]:
    """The local days of the period containing ``start``: that day, its week (Monday
    first) or its calendar month."""
    if period == "day":
        return (start,)
    if period == "week":
        monday = start - timedelta(days=start.weekday())
        return tuple(monday + timedelta(days=n) for n in range(7))
    if period == "month":
        first = start.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return tuple(first + timedelta(days=n) for n in range((following - first).days))
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day begins (23- and 25-hour days included)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def period_bounds(days: Sequence[date], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[from, to) of the days, as aware instants."""
    return local_midnight(days[0], zone), local_midnight(days[-1] + timedelta(days=1), zone)


def cancelled_by(step: str, actor: str) -> str:
    if step == "decline":
        return "call"
    if actor == "customer:sms":
        return "text"
    if actor in ("customer:web", "customer:link"):
        return "web"
    if actor == "api" or actor.startswith("api-key:"):
        return "api"
    if actor == "ivr":
        return "ivr"
    if "@" in actor:
        return "supervisor"
    return "other"


def billable_minutes(attempt: AttemptRow) -> int:
    seconds = attempt.billable_seconds if attempt.billable_seconds is not None else attempt.duration_seconds
    return math.ceil(max(seconds or 0, 0) / 60)


@dataclass(frozen=True)
class FirstDial:
    at: datetime  # when the first attempt was requested
    lag_seconds: float  # behind the due time
    on_time: bool


def _first_dial(callback: CallbackRow) -> FirstDial | None:
    """The callback's first attempt against the due time it then had; None without
    attempts or without a known due time. On time: within ON_TIME_SECONDS of it or, for an
    ASAP callback booked with an ECBT range, before the range's end."""
    if not callback.attempts:
        return None
    first = min(a.requested_at for a in callback.attempts)
    due, until = None, None
    for event in sorted(callback.events, key=lambda e: e.at):
        if event.at > first:
            break
        if event.step in ("book", "reschedule") and event.due_at is not None:
            due, until = event.due_at, event.promised_until
    if due is None:
        return None
    lag = (first - due).total_seconds()
    return FirstDial(first, lag, first <= until if until is not None else lag <= ON_TIME_SECONDS)


def tally(callbacks: Iterable[CallbackRow], offers: Iterable[OfferRow], bounds: Sequence[datetime]) -> list[Figures]:
    """The figures of each window [bounds[i], bounds[i + 1]), in one pass over the rows."""
    windows = [Figures() for _ in bounds[1:]]

    def window(at: datetime) -> Figures | None:
        index = bisect_right(bounds, at) - 1
        return windows[index] if 0 <= index < len(windows) else None

    for callback in callbacks:
        for event in callback.events:
            into = window(event.at)
            if into is None:
                continue
            if event.step == "book":
                into.booked[callback.source] = into.booked.get(callback.source, 0) + 1
            elif event.step == "complete":
                into.completed += 1
                into.attempts_of_completed += len(callback.attempts)
            elif event.step == "give_up":
                into.unreachable += 1
            elif event.step in ("cancel", "decline"):
                into.cancelled[cancelled_by(event.step, event.actor)] += 1
        made: dict[int, tuple[Figures, list[AttemptRow]]] = {}  # by id() of the window
        for attempt in callback.attempts:
            into = window(attempt.requested_at)
            if into is not None:
                made.setdefault(id(into), (into, []))[1].append(attempt)
                into.attempts += 1
                into.billable_minutes += billable_minutes(attempt)
        for into, those in made.values():
            into.dialled += 1
            into.connected += any(a.outcome == "connected" for a in those)
        first = _first_dial(callback)
        if first is not None:
            into = window(first.at)
            if into is not None:
                into.first_dials += 1
                into.on_time += first.on_time
                into.lag_seconds_total += first.lag_seconds
    for offer in offers:
        into = window(offer.offered_at)
        if into is not None:
            into.offered += 1
            into.accepted += offer.accepted
    return windows


def figures(callbacks: Iterable[CallbackRow], offers: Iterable[OfferRow], start: datetime, end: datetime) -> Figures:
    """The figures of the window [start, end)."""
    return tally(callbacks, offers, [start, end])[0]


def report(
    period: str, start: date, zone: ZoneInfo, callbacks: Sequence[CallbackRow], offers: Sequence[OfferRow]
) -> Report:
    """The period's figures, one ``Figures`` per local day and one for the whole period."""
    days = period_days(period, start)
    bounds = [local_midnight(day, zone) for day in days] + [local_midnight(days[-1] + timedelta(days=1), zone)]
    per_day = tuple(tally(callbacks, offers, bounds))
    total = figures(callbacks, offers, bounds[0], bounds[-1])
    by = {key: breakdown(callbacks, key, bounds[0], bounds[-1]) for key in BREAKDOWNS}
    return Report(period, days[0], days, per_day, total, by)


def breakdown(
    callbacks: Iterable[CallbackRow], key: str, start: datetime, end: datetime
) -> tuple[tuple[str, Figures], ...]:
    """Each group's figures over [start, end) by the attribution's ``key`` (source,
    campaign): groups with nothing in the window are left out; the most booked first, then
    by name."""
    groups: dict[str, list[CallbackRow]] = {}
    for callback in callbacks:
        groups.setdefault(group_of(callback.attribution, key), []).append(callback)
    counted = [(name, figures(rows, (), start, end)) for name, rows in groups.items()]
    shown = [(name, f) for name, f in counted if f != Figures()]
    return tuple(sorted(shown, key=lambda item: (-item[1].booked_total, item[0])))

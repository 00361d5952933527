"""Report figures for one queue and period: pure arithmetic over plain rows.

The shell (services/reports.py) loads every callback *touched* in the period (an event
or an attempt in it) with its whole history, and the inbound IVR's offers made in it;
``report`` cuts the period into intervals in the queue's zone (15 minutes, hours, local
days, Monday weeks or calendar months) and computes the same figures for each interval and
for the whole period. No clock, no database.

Every figure a callback adds to is a *mark* (``marks``): the figure's name, the instant
that decides its window and the amount. The figures of a window are the sum of the marks
in it, and the drill-down from a chart's bar to the callbacks it counts (``counted``)
reads the same marks: the two cannot disagree.

A figure belongs to the window its deciding instant falls in:

- **offered / accepted**: inbound calls the IVR offered a callback to (once per call,
  however often it offered), by when it first offered; accepted = those where the caller
  then booked (ASAP or a time) or asked for a link. Take rate = accepted / offered; the
  same by where the IVR first offered (on arrival, from the menu, while holding).
- **minutes saved**: for the offers taken, the wait in the line each caller was spared
  when they took it (the IVR's own estimate then), in minutes.
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
- **lateness against the promise**: for the same first dials, how long after the time
  promised the customer was first rung: the end of the ECBT range told for an ASAP
  callback, else the due time (slot start); 0 when rung before it. Average in seconds.
- **speed to answer**: for callbacks whose customer first answered (a human, not a
  machine) in the window: the time from the due time then to that answer. Average.
- **wait after connect** and **abandoned in callbacks**: for every attempt the customer
  answered in the window: the time from the answer to an agent answering, averaged over
  those an agent answered; abandoned = no agent came within ``abandon_seconds`` (60 s
  unless the report is asked otherwise) of the answer.
- **by provider and failover**: attempts requested in the window and those connected,
  by the provider that placed them; failover attempts are those placed on a provider
  after another failed (``failover_from``), and those of them connected.

The **breakdowns by source and by campaign** (the web visitor's ``utm_source`` and
``utm_campaign``, scheduler/attribution.py) are the same figures over the whole period for
the callbacks of each group, ``(none)`` for callbacks without the value; the IVR's offers
belong to no group (their figures are left out there).
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from scheduler.attribution import BREAKDOWNS, group_of
from scheduler.calendar import wall_time_label

PERIODS = ("day", "week", "month", "year")
INTERVALS = ("15min", "hour", "day", "week", "month")
# The intervals each period may be cut into (a period is never cut finer than ~750 windows).
INTERVALS_OF = {
    "day": ("15min", "hour", "day"),
    "week": ("15min", "hour", "day"),
    "month": ("hour", "day", "week"),
    "year": ("week", "month"),
}
DEFAULT_INTERVAL = {"day": "hour", "week": "day", "month": "day", "year": "month"}
SOURCES = ("ivr", "sms", "web", "api", "console")
OFFER_POINTS = ("arrival", "menu", "holding")  # services/ivr_offers.py
CANCELLED_BY = ("text", "web", "api", "ivr", "call", "supervisor", "other")
ON_TIME_SECONDS = 60
ABANDON_SECONDS = 60
# The figures a chart's bar can be drilled into: the callbacks it counts.
DRILLABLE = (
    "booked",
    "completed",
    "unreachable",
    "cancelled",
    "dialled",
    "connected",
    "first_dials",
    "on_time",
    "late",
    "answered",
    "abandoned",
    "failovers",
)


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
    provider: str = ""
    failover_from: str | None = None
    answered_at: datetime | None = None  # the customer answered
    answered_by: str | None = None  # "human" | "machine" | None (not known)
    agent_answered_at: datetime | None = None


@dataclass(frozen=True)
class CallbackRow:
    source: str
    events: tuple[EventRow, ...] = ()
    attempts: tuple[AttemptRow, ...] = ()
    ref: str = ""
    attribution: dict[str, Any] | None = None  # a web visitor's (scheduler/attribution.py)


@dataclass(frozen=True)
class OfferRow:
    offered_at: datetime
    accepted: bool = False
    point: str | None = None  # where the IVR first offered: "arrival", "menu", "holding"
    wait_avoided_seconds: int | None = None  # taken: the wait in the line it spared the caller


@dataclass(frozen=True)
class Mark:
    """A callback's contribution to a figure: its name ("booked.web", "attempts.twilio"),
    the instant that decides its window, and how much it adds."""

    figure: str
    at: datetime
    amount: float = 1


@dataclass
class Figures:
    """A window's figures: the sums of the marks that fell in it (``add``)."""

    offered: int = 0
    accepted: int = 0
    offered_by_point: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OFFER_POINTS, 0))
    accepted_by_point: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OFFER_POINTS, 0))
    wait_avoided_seconds_total: int = 0
    booked: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SOURCES, 0))  # by source
    completed: int = 0
    unreachable: int = 0
    cancelled: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CANCELLED_BY, 0))
    dialled: int = 0
    connected: int = 0
    attempts_of_completed: int = 0
    first_dials: int = 0
    on_time: int = 0
    late: int = 0  # first dials not on time
    lag_seconds_total: float = 0.0
    late_seconds_total: float = 0.0
    attempts: int = 0
    billable_minutes: int = 0
    answered: int = 0  # callbacks whose customer first answered in the window
    due_to_answer_seconds_total: float = 0.0
    answers: int = 0  # attempts the customer answered in the window
    agent_reached: int = 0
    agent_wait_seconds_total: float = 0.0
    abandoned: int = 0
    by_provider: dict[str, int] = field(default_factory=dict)  # attempts placed
    connected_by_provider: dict[str, int] = field(default_factory=dict)
    failovers: int = 0
    failovers_connected: int = 0

    def add(self, mark: Mark) -> None:
        name, _, part = mark.figure.partition(".")
        if name in ("booked", "cancelled", "by_provider", "connected_by_provider"):
            into: dict[str, int] = getattr(self, name)
            into[part] = into.get(part, 0) + int(mark.amount)
        elif name in _FLOAT_FIGURES:
            setattr(self, name, getattr(self, name) + mark.amount)
        else:
            setattr(self, name, getattr(self, name) + int(mark.amount))

    @property
    def booked_total(self) -> int:
        return sum(self.booked.values())

    @property
    def cancelled_total(self) -> int:
        return sum(self.cancelled.values())

    @property
    def take_rate(self) -> float | None:
        return _ratio(self.accepted, self.offered)

    def take_rate_at(self, point: str) -> float | None:
        return _ratio(self.accepted_by_point.get(point, 0), self.offered_by_point.get(point, 0))

    @property
    def minutes_saved(self) -> float:
        """The hold the callers who took a callback were spared, in minutes."""
        return self.wait_avoided_seconds_total / 60

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

    @property
    def average_late_seconds(self) -> float | None:
        return self.late_seconds_total / self.first_dials if self.first_dials else None

    @property
    def average_speed_to_answer_seconds(self) -> float | None:
        return self.due_to_answer_seconds_total / self.answered if self.answered else None

    @property
    def average_wait_after_connect_seconds(self) -> float | None:
        return self.agent_wait_seconds_total / self.agent_reached if self.agent_reached else None

    @property
    def abandon_rate(self) -> float | None:
        return _ratio(self.abandoned, self.answers)


_FLOAT_FIGURES = frozenset(
    {"lag_seconds_total", "late_seconds_total", "due_to_answer_seconds_total", "agent_wait_seconds_total"}
)


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    label: str  # "14:15", "Mon 04", "04 Jan", "Jan"


@dataclass(frozen=True)
class Report:
    period: str
    interval: str
    first_day: date
    days: tuple[date, ...]  # the period's local days
    windows: tuple[Window, ...]
    per_window: tuple[Figures, ...]
    total: Figures
    # Per breakdown (source, campaign): each group's figures over the period, most booked first.
    breakdowns: dict[str, tuple[tuple[str, Figures], ...]] = field(default_factory=dict)


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def period_days(period: str, start: date) -> tuple[date, ...]:
    """The local days of the period containing ``start``: that day, its week (Monday
    first), its calendar month or its calendar year."""
    if period == "day":
        return (start,)
    if period == "week":
        monday = start - timedelta(days=start.weekday())
        return tuple(monday + timedelta(days=n) for n in range(7))
    if period in ("month", "year"):
        first = start.replace(day=1) if period == "month" else date(start.year, 1, 1)
        following = _next_month(first) if period == "month" else date(start.year + 1, 1, 1)
        return tuple(first + timedelta(days=n) for n in range((following - first).days))
    raise ValueError(f"period must be one of {', '.join(PERIODS)}")


def _next_month(first: date) -> date:
    return (first + timedelta(days=32)).replace(day=1)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The instant a local day begins (23- and 25-hour days included)."""
    return datetime.combine(day, time(0), tzinfo=zone)


def period_bounds(days: Sequence[date], zone: ZoneInfo) -> tuple[datetime, datetime]:
    """[from, to) of the days, as aware instants."""
    return local_midnight(days[0], zone), local_midnight(days[-1] + timedelta(days=1), zone)


def interval_windows(days: Sequence[date], interval: str, zone: ZoneInfo) -> tuple[Window, ...]:
    """The period's days cut into windows of ``interval`` in ``zone``. Hours and quarter
    hours are real ones (a 25-hour day has 25 hours; the repeated hour's are labelled with
    their zone, "01:00 GMT"); weeks start on Monday and months on the 1st, cut at the
    period's ends."""
    first, last = period_bounds(days, zone)
    if interval in ("15min", "hour"):
        step = timedelta(minutes=15 if interval == "15min" else 60)
        starts = []
        at = first.astimezone(ZoneInfo("UTC"))
        while at < last:
            starts.append(at)
            at += step
        return tuple(
            Window(s, min(s + step, last), wall_time_label(s, zone) if len(days) == 1 else _hour_label(s, zone))
            for s in starts
        )
    if interval == "day":
        cuts = list(days)
        labels = [d.strftime("%a %d") if len(days) <= 7 else d.strftime("%d") for d in days]
    elif interval == "week":
        cuts = [d for d in days if d.weekday() == 0 or d == days[0]]
        labels = [d.strftime("%d %b") for d in cuts]
    elif interval == "month":
        cuts = [d for d in days if d.day == 1 or d == days[0]]
        labels = [d.strftime("%b") for d in cuts]
    else:
        raise ValueError(f"interval must be one of {', '.join(INTERVALS)}")
    bounds = [local_midnight(d, zone) for d in cuts] + [last]
    return tuple(Window(bounds[i], bounds[i + 1], labels[i]) for i in range(len(cuts)))


def _hour_label(start: datetime, zone: ZoneInfo) -> str:
    return f"{start.astimezone(zone).strftime('%a')} {wall_time_label(start, zone)}"


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
    late_seconds: float  # behind the time promised (the ECBT range's end, else the due time); 0 if before


def _due_then(callback: CallbackRow, instant: datetime) -> tuple[datetime | None, datetime | None]:
    """(the due time, the end of the ECBT range told) the callback had at ``instant``: the
    last book or reschedule at or before it."""
    due, until = None, None
    for event in sorted(callback.events, key=lambda e: e.at):
        if event.at > instant:
            break
        if event.step in ("book", "reschedule") and event.due_at is not None:
            due, until = event.due_at, event.promised_until
    return due, until


def _first_dial(callback: CallbackRow) -> FirstDial | None:
    """The callback's first attempt against the due time it then had; None without
    attempts or without a known due time. On time: within ON_TIME_SECONDS of it or, for an
    ASAP callback booked with an ECBT range, before the range's end."""
    if not callback.attempts:
        return None
    first = min(a.requested_at for a in callback.attempts)
    due, until = _due_then(callback, first)
    if due is None:
        return None
    lag = (first - due).total_seconds()
    promised = until if until is not None else due
    late = max((first - promised).total_seconds(), 0.0)
    return FirstDial(first, lag, first <= until if until is not None else lag <= ON_TIME_SECONDS, late)


def marks(callback: CallbackRow, abandon_seconds: int = ABANDON_SECONDS) -> Iterator[Mark]:
    """Every figure the callback adds to, with the instant that decides its window."""
    for event in callback.events:
        if event.step == "book":
            yield Mark(f"booked.{callback.source}", event.at)
        elif event.step == "complete":
            yield Mark("completed", event.at)
            yield Mark("attempts_of_completed", event.at, len(callback.attempts))
        elif event.step == "give_up":
            yield Mark("unreachable", event.at)
        elif event.step in ("cancel", "decline"):
            yield Mark(f"cancelled.{cancelled_by(event.step, event.actor)}", event.at)
    # Dialled / connected: once per callback per window its attempts were requested in.
    attempts = sorted(callback.attempts, key=lambda a: a.requested_at)
    for attempt in attempts:
        yield Mark("dialled", attempt.requested_at)  # once per window: see tally
        if attempt.outcome == "connected":
            yield Mark("connected", attempt.requested_at)
        yield Mark("attempts", attempt.requested_at)
        yield Mark("billable_minutes", attempt.requested_at, billable_minutes(attempt))
        yield Mark(f"by_provider.{attempt.provider or 'unknown'}", attempt.requested_at)
        if attempt.outcome == "connected":
            yield Mark(f"connected_by_provider.{attempt.provider or 'unknown'}", attempt.requested_at)
        if attempt.failover_from is not None:
            yield Mark("failovers", attempt.requested_at)
            if attempt.outcome == "connected":
                yield Mark("failovers_connected", attempt.requested_at)
        if attempt.answered_at is not None and attempt.answered_by != "machine":
            yield Mark("answers", attempt.answered_at)
            agent = attempt.agent_answered_at
            if agent is not None:
                yield Mark("agent_reached", attempt.answered_at)
                yield Mark(
                    "agent_wait_seconds_total", attempt.answered_at, (agent - attempt.answered_at).total_seconds()
                )
            if agent is None or (agent - attempt.answered_at).total_seconds() > abandon_seconds:
                yield Mark("abandoned", attempt.answered_at)
    first = _first_dial(callback)
    if first is not None:
        yield Mark("first_dials", first.at)
        yield Mark("on_time" if first.on_time else "late", first.at)
        yield Mark("lag_seconds_total", first.at, first.lag_seconds)
        yield Mark("late_seconds_total", first.at, first.late_seconds)
    answered = [a for a in attempts if a.answered_at is not None and a.answered_by != "machine"]
    if answered:
        answer_at = min(a.answered_at for a in answered if a.answered_at is not None)
        due, _until = _due_then(callback, answer_at)
        if due is not None:
            yield Mark("answered", answer_at)
            yield Mark("due_to_answer_seconds_total", answer_at, (answer_at - due).total_seconds())


# Marks a callback gives once per window however many of its attempts fall in it: a
# callback dialled (or connected) on two days counts on both, once on each.
_ONCE_PER_WINDOW = frozenset({"dialled", "connected"})


def _windowed(bounds: Sequence[datetime]) -> Callable[[datetime], int | None]:
    """The index of the window [bounds[i], bounds[i + 1]) an instant falls in, if any."""

    def window(at: datetime) -> int | None:
        index = bisect_right(bounds, at) - 1
        return index if 0 <= index < len(bounds) - 1 else None

    return window


def tally(
    callbacks: Iterable[CallbackRow],
    offers: Iterable[OfferRow],
    bounds: Sequence[datetime],
    abandon_seconds: int = ABANDON_SECONDS,
) -> list[Figures]:
    """The figures of each window [bounds[i], bounds[i + 1]), in one pass over the rows."""
    windows = [Figures() for _ in bounds[1:]]
    window = _windowed(bounds)
    for callback in callbacks:
        seen: set[tuple[str, int]] = set()
        for mark in marks(callback, abandon_seconds):
            index = window(mark.at)
            if index is None:
                continue
            if mark.figure in _ONCE_PER_WINDOW:
                if (mark.figure, index) in seen:
                    continue
                seen.add((mark.figure, index))
            windows[index].add(mark)
    for offer in offers:
        index = window(offer.offered_at)
        if index is not None:
            into = windows[index]
            into.offered += 1
            into.accepted += offer.accepted
            if offer.point in into.offered_by_point:
                into.offered_by_point[offer.point] += 1
                into.accepted_by_point[offer.point] += offer.accepted
            if offer.accepted:
                into.wait_avoided_seconds_total += max(offer.wait_avoided_seconds or 0, 0)
    return windows


def counted(
    callbacks: Iterable[CallbackRow],
    figure: str,
    start: datetime,
    end: datetime,
    abandon_seconds: int = ABANDON_SECONDS,
) -> list[str]:
    """The refs of the callbacks a figure of the window [start, end) counts (the drill-down
    from a chart's bar): those with a mark of that figure ("booked" takes every source,
    "booked.web" one) in the window."""
    if figure.partition(".")[0] not in DRILLABLE:
        raise ValueError(f"figure must be one of {', '.join(DRILLABLE)}")
    found = []
    for callback in callbacks:
        for mark in marks(callback, abandon_seconds):
            if (mark.figure == figure or mark.figure.startswith(f"{figure}.")) and start <= mark.at < end:
                found.append(callback.ref)
                break
    return found


def figures(
    callbacks: Iterable[CallbackRow],
    offers: Iterable[OfferRow],
    start: datetime,
    end: datetime,
    abandon_seconds: int = ABANDON_SECONDS,
) -> Figures:
    """The figures of the window [start, end)."""
    return tally(callbacks, offers, [start, end], abandon_seconds)[0]


def report(
    period: str,
    start: date,
    zone: ZoneInfo,
    callbacks: Sequence[CallbackRow],
    offers: Sequence[OfferRow],
    interval: str | None = None,
    abandon_seconds: int = ABANDON_SECONDS,
) -> Report:
    """The period's figures, one ``Figures`` per interval (the period's default when not
    given: hours of a day, days of a week or month, months of a year) and one for the
    whole period. Raises ``ValueError`` for an interval the period is not cut into."""
    days = period_days(period, start)
    interval = interval or DEFAULT_INTERVAL[period]
    if interval not in INTERVALS_OF[period]:
        raise ValueError(f"a {period} is cut into {', '.join(INTERVALS_OF[period])}")
    windows = interval_windows(days, interval, zone)
    bounds = [w.start for w in windows] + [windows[-1].end]
    per_window = tuple(tally(callbacks, offers, bounds, abandon_seconds))
    total = figures(callbacks, offers, bounds[0], bounds[-1], abandon_seconds)
    by = {key: breakdown(callbacks, key, bounds[0], bounds[-1], abandon_seconds) for key in BREAKDOWNS}
    return Report(period, interval, days[0], days, windows, per_window, total, by)


def breakdown(
    callbacks: Iterable[CallbackRow], key: str, start: datetime, end: datetime, abandon_seconds: int = ABANDON_SECONDS
) -> tuple[tuple[str, Figures], ...]:
    """Each group's figures over [start, end) by the attribution's ``key`` (source,
    campaign): groups with nothing in the window are left out; the most booked first, then
    by name."""
    groups: dict[str, list[CallbackRow]] = {}
    for callback in callbacks:
        groups.setdefault(group_of(callback.attribution, key), []).append(callback)
    counted = [(name, figures(rows, (), start, end, abandon_seconds)) for name, rows in groups.items()]
    shown = [(name, f) for name, f in counted if f != Figures()]
    return tuple(sorted(shown, key=lambda item: (-item[1].booked_total, item[0])))

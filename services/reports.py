"""Loading a queue's report: the rows scheduler/reports.py computes from, in five
queries whatever the number of callbacks (no query per callback); the drill-down from a
window's figure to the callbacks it counts; the figures as CSV columns."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, union
from sqlalchemy.orm import Session

from infra.i18n import N_
from infra.models import Attempt, Callback, CallbackEvent, IvrOffer, Queue
from scheduler.reports import (
    ABANDON_SECONDS,
    CANCELLED_BY,
    OFFER_POINTS,
    SOURCES,
    AttemptRow,
    CallbackRow,
    EventRow,
    Figures,
    OfferRow,
    Report,
    counted,
    period_bounds,
    period_days,
    report,
)
from services.queues import get_queue

# The steps reports read; the rest (start_dial, retry, connect, …) are left in the database.
STEPS = ("book", "reschedule", "complete", "give_up", "cancel", "decline")


@dataclass(frozen=True)
class QueueReport:
    queue_key: str
    queue_name: str
    timezone: str
    report: Report


def _instant(raw: Any) -> datetime | None:
    if not isinstance(raw, str):
        return None
    try:
        parsed = datetime.fromisoformat(raw)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _event_row(step: str, at: datetime, actor: str, payload: dict[str, Any] | None) -> EventRow:
    """The event as the report reads it: the due time a book or reschedule set, and the
    end of the ECBT range an ASAP booking told."""
    payload = payload or {}
    if step == "book":
        due = _instant(payload.get("due_at")) or _instant(payload.get("slot_start"))
        return EventRow(step, at, actor, due, _instant(payload.get("promised_until")))
    if step == "reschedule":
        return EventRow(step, at, actor, _instant(payload.get("to_slot_start")))
    return EventRow(step, at, actor)


def load_rows(
    session: Session, queue: Queue, start: datetime, end: datetime
) -> tuple[list[CallbackRow], list[OfferRow]]:
    """Every callback of ``queue`` with an event or an attempt in [start, end), with its
    whole history (an attempt per completed callback may come before the period), and the
    IVR's offers made in it."""
    touched = union(
        select(CallbackEvent.callback_id)
        .join(Callback, Callback.id == CallbackEvent.callback_id)
        .where(Callback.queue_id == queue.id, CallbackEvent.at >= start, CallbackEvent.at < end),
        select(Attempt.callback_id)
        .join(Callback, Callback.id == Attempt.callback_id)
        .where(Callback.queue_id == queue.id, Attempt.requested_at >= start, Attempt.requested_at < end),
    ).subquery()
    ids = select(touched.c[0])
    heads = {
        callback_id: (source, ref, attribution)
        for callback_id, source, ref, attribution in session.execute(
            select(Callback.id, Callback.source, Callback.ref, Callback.attribution).where(Callback.id.in_(ids))
        )
    }
    events: dict[int, list[EventRow]] = defaultdict(list)
    for callback_id, step, at, actor, payload in session.execute(
        select(
            CallbackEvent.callback_id, CallbackEvent.step, CallbackEvent.at, CallbackEvent.actor, CallbackEvent.payload
        )
        .where(CallbackEvent.callback_id.in_(ids), CallbackEvent.step.in_(STEPS))
        .order_by(CallbackEvent.id)
    ):
        events[callback_id].append(_event_row(step, at, actor, payload))
    attempts: dict[int, list[AttemptRow]] = defaultdict(list)
    for callback_id, *attempt in session.execute(
        select(
            Attempt.callback_id,
            Attempt.requested_at,
            Attempt.outcome,
            Attempt.duration_seconds,
            Attempt.billable_seconds,
            Attempt.provider,
            Attempt.failover_from,
            Attempt.answered_at,
            Attempt.answered_by,
            Attempt.agent_answered_at,
        ).where(Attempt.callback_id.in_(ids))
    ):
        attempts[callback_id].append(AttemptRow(*attempt))
    callbacks = [
        CallbackRow(source, tuple(events[callback_id]), tuple(attempts[callback_id]), ref, attribution)
        for callback_id, (source, ref, attribution) in sorted(heads.items())
    ]
    offers = [
        OfferRow(offered_at, accepted_at is not None, point, avoided)
        for offered_at, accepted_at, point, avoided in session.execute(
            select(
                IvrOffer.offered_at, IvrOffer.accepted_at, IvrOffer.offer_point, IvrOffer.wait_avoided_seconds
            ).where(IvrOffer.queue_id == queue.id, IvrOffer.offered_at >= start, IvrOffer.offered_at < end)
        )
    ]
    return callbacks, offers


def queue_report(
    session: Session,
    key: str,
    period: str,
    start: date,
    interval: str | None = None,
    abandon_seconds: int = ABANDON_SECONDS,
) -> QueueReport:
    """The report of queue ``key`` for the period (day, week, month, year) containing the
    local date ``start``, cut into ``interval`` (the period's default when None). Raises
    ``QueueNotFound`` (a domain error) for an unknown key and ``ValueError`` for an
    unknown period or an interval the period is not cut into."""
    queue = get_queue(session, key)
    zone = ZoneInfo(queue.timezone)
    days = period_days(period, start)
    first, last = period_bounds(days, zone)
    callbacks, offers = load_rows(session, queue, first, last)
    result = report(period, start, zone, callbacks, offers, interval, abandon_seconds)
    return QueueReport(queue.key, queue.name, queue.timezone, result)


def counted_callbacks(
    session: Session,
    key: str,
    figure: str,
    start: datetime,
    end: datetime,
    abandon_seconds: int = ABANDON_SECONDS,
) -> list[Callback]:
    """The callbacks of queue ``key`` a figure of the window [start, end) counts, oldest
    first: the drill-down from a report's bar (scheduler/reports.py ``counted``, the same
    marks the figures are summed from). Raises ``ValueError`` for a figure that is not
    drillable."""
    queue = get_queue(session, key)
    callbacks, _offers = load_rows(session, queue, start, end)
    refs = counted(callbacks, figure, start, end, abandon_seconds)
    if not refs:
        return []
    found = {c.ref: c for c in session.scalars(select(Callback).where(Callback.ref.in_(refs)))}
    return [found[ref] for ref in refs if ref in found]


@dataclass(frozen=True)
class Column:
    """One figure as a CSV column (named by ``key``, for machines) and a row of the page's
    table (named by ``label``, for people: an English msgid the console translates, its
    ``%(name)s`` filled from ``names``, names that read alike in every language)."""

    key: str
    label: str
    kind: str  # "count" | "rate" (a fraction) | "ratio" | "seconds" | "minutes"
    value: Callable[[Figures], float | int | None]
    attributable: bool = True  # counted per source and campaign (the IVR's offers are not)
    names: tuple[tuple[str, str], ...] = ()


def _columns() -> tuple[Column, ...]:
    columns = [
        Column("offered", N_("Offered in the IVR"), "count", lambda f: f.offered, attributable=False),
        Column("accepted", N_("Accepted in the IVR"), "count", lambda f: f.accepted, attributable=False),
        Column("take_rate", N_("Take rate"), "rate", lambda f: f.take_rate, attributable=False),
    ]
    for point in OFFER_POINTS:
        offered, take_rate = OFFER_POINT_LABELS[point]
        columns += [
            Column(f"offered_{point}", offered, "count", _at("offered_by_point", point), attributable=False),
            Column(f"take_rate_{point}", take_rate, "rate", _take_rate(point), attributable=False),
        ]
    columns.append(
        Column("minutes_saved", N_("Minutes of hold saved"), "minutes", lambda f: f.minutes_saved, attributable=False)
    )
    for source in SOURCES:
        columns.append(Column(f"booked_{source}", BOOKED_LABELS[source], "count", _booked(source)))
    columns.append(Column("booked_total", N_("Booked"), "count", lambda f: f.booked_total))
    columns += [
        Column("completed", N_("Completed"), "count", lambda f: f.completed),
        Column("unreachable", N_("Unreachable"), "count", lambda f: f.unreachable),
    ]
    for who in CANCELLED_BY:
        columns.append(Column(f"cancelled_{who}", CANCELLED_LABELS[who], "count", _cancelled(who)))
    columns += [
        Column("cancelled_total", N_("Cancelled"), "count", lambda f: f.cancelled_total),
        Column("dialled", N_("Callbacks dialled"), "count", lambda f: f.dialled),
        Column("connected", N_("Callbacks connected"), "count", lambda f: f.connected),
        Column("connect_rate", N_("Connect rate"), "rate", lambda f: f.connect_rate),
        Column("attempts", N_("Attempts"), "count", lambda f: f.attempts),
        Column(
            "attempts_per_completed", N_("Attempts per completed callback"), "ratio", lambda f: f.attempts_per_completed
        ),
        Column("first_dials", N_("First dials"), "count", lambda f: f.first_dials),
        Column("on_time", N_("First dials on time"), "count", lambda f: f.on_time),
        Column("on_time_rate", N_("On-time rate"), "rate", lambda f: f.on_time_rate),
        Column(
            "average_dispatch_lag_seconds", N_("Average dispatch lag (s)"), "seconds", lambda f: f.average_lag_seconds
        ),
        Column("billable_minutes", N_("Billable minutes"), "count", lambda f: f.billable_minutes),
        Column(
            "average_late_seconds",
            N_("Average lateness against the promise (s)"),
            "seconds",
            lambda f: f.average_late_seconds,
        ),
        Column("answered", N_("Callbacks answered by the customer"), "count", lambda f: f.answered),
        Column(
            "average_speed_to_answer_seconds",
            N_("Average speed to answer, due to answered (s)"),
            "seconds",
            lambda f: f.average_speed_to_answer_seconds,
        ),
        Column("answers", N_("Calls answered by the customer"), "count", lambda f: f.answers),
        Column("agent_reached", N_("Calls an agent answered"), "count", lambda f: f.agent_reached),
        Column(
            "average_wait_after_connect_seconds",
            N_("Average wait for an agent after answering (s)"),
            "seconds",
            lambda f: f.average_wait_after_connect_seconds,
        ),
        Column("abandoned", N_("Abandoned in callbacks"), "count", lambda f: f.abandoned),
        Column("abandon_rate", N_("Abandon rate in callbacks"), "rate", lambda f: f.abandon_rate),
        Column("failovers", N_("Failover attempts"), "count", lambda f: f.failovers),
        Column("failovers_connected", N_("Failover attempts connected"), "count", lambda f: f.failovers_connected),
    ]
    return tuple(columns)


def provider_columns(result: Report) -> tuple[Column, ...]:
    """Attempts and connected attempts by each provider the period's attempts used."""
    providers = sorted(set(result.total.by_provider))
    columns = []
    for name in providers:
        names = (("provider", name),)
        columns += [
            Column(f"attempts_{name}", N_("Attempts on %(provider)s"), "count", _of("by_provider", name), names=names),
            Column(
                f"connected_{name}",
                N_("Connected on %(provider)s"),
                "count",
                _of("connected_by_provider", name),
                names=names,
            ),
        ]
    return tuple(columns)


def report_columns(result: Report) -> tuple[Column, ...]:
    return COLUMNS + provider_columns(result)


def _of(figure: str, key: str) -> Callable[[Figures], int]:
    return lambda f: getattr(f, figure).get(key, 0)


# The labels of the figures by offer point, source and who cancelled: whole sentences for
# the translators (the console translates them where it shows them).
OFFER_POINT_LABELS = {
    "arrival": (N_("Offered on arrival"), N_("Take rate on arrival")),
    "menu": (N_("Offered from the menu"), N_("Take rate from the menu")),
    "holding": (N_("Offered while holding"), N_("Take rate while holding")),
}
BOOKED_LABELS = {
    "ivr": N_("Booked by ivr"),
    "sms": N_("Booked by sms"),
    "web": N_("Booked by web"),
    "api": N_("Booked by api"),
    "console": N_("Booked by console"),
}


def _at(figure: str, point: str) -> Callable[[Figures], int]:
    return lambda f: getattr(f, figure).get(point, 0)


def _take_rate(point: str) -> Callable[[Figures], float | None]:
    return lambda f: f.take_rate_at(point)


def _booked(source: str) -> Callable[[Figures], int]:
    return lambda f: f.booked.get(source, 0)


def _cancelled(who: str) -> Callable[[Figures], int]:
    return lambda f: f.cancelled.get(who, 0)


CANCELLED_LABELS = {
    "text": N_("Cancelled by text"),
    "web": N_("Cancelled by web"),
    "api": N_("Cancelled by API"),
    "ivr": N_("Cancelled by the IVR"),
    "call": N_("Cancelled by the customer on the call"),
    "supervisor": N_("Cancelled by a supervisor"),
    "other": N_("Cancelled by other"),
}
COLUMNS = _columns()


def csv_value(column: Column, figures: Figures) -> str:
    """Machine-readable: rates as fractions to 4 places, lags to 0.1 s, blank for none."""
    value = column.value(figures)
    if value is None:
        return ""
    if column.kind == "rate":
        return f"{value:.4f}"
    if column.kind in ("ratio", "seconds", "minutes"):
        return f"{value:.2f}" if column.kind == "ratio" else f"{value:.1f}"
    return str(value)


def shown_value(column: Column, figures: Figures) -> str:
    """For people: rates as percentages, a dash for none."""
    value = column.value(figures)
    if value is None:
        return "–"
    if column.kind == "rate":
        return f"{value * 100:.1f}%"
    return csv_value(column, figures)


def csv_rows(result: Report, zone: ZoneInfo, by: str | None = None) -> list[list[str]]:
    """The CSV: a header, one row per interval, then the whole period's (``total``). The
    first column is named for the interval (``day``, ``week``, ``month``: the local date it
    starts; ``hour``, ``15min``: its local start with the offset, which tells the two
    01:00 of the day the clocks go back apart). With ``by`` (``source``, ``campaign``: a
    breakdown of scheduler/attribution.py), one row per group over the whole period instead
    of the intervals, blank in the columns no group has (the IVR's offers), then the same
    ``total``."""
    columns = report_columns(result)
    if by is None:
        rows = [[result.interval, *(c.key for c in columns)]]
        for window, figures in zip(result.windows, result.per_window, strict=True):
            local = window.start.astimezone(zone)
            start = local.date().isoformat() if result.interval in ("day", "week", "month") else local.isoformat()
            rows.append([start, *(csv_value(c, figures) for c in columns)])
    else:
        rows = [[by, *(c.key for c in columns)]]
        for name, figures in result.breakdowns[by]:
            rows.append([name, *(csv_value(c, figures) if c.attributable else "" for c in columns)])
    rows.append(["total", *(csv_value(c, result.total) for c in columns)])
    return rows

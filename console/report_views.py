"""The console's reports: one queue, one period (a local day, a Monday week, a calendar
month or year) cut into intervals (15 minutes, hours, days, weeks, months) in the queue's
zone, as a page with server-drawn SVG charts and as CSV (the same figures: one row per
interval and a total row). A chart's bar links to the callbacks it counts (the drill-down,
also as CSV). Figures are defined in scheduler/reports.py and docs/console.md."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, abort, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import console, requires
from console.callback_views import listed_row, source_name
from console.charts import Chart, Series, bar_chart
from console.i18n import N_, _, day
from infra import context
from infra.models import Queue
from scheduler.attribution import BREAKDOWNS
from scheduler.calendar import wall_time_label
from scheduler.errors import DomainError
from scheduler.reports import (
    ABANDON_SECONDS,
    DEFAULT_INTERVAL,
    DRILLABLE,
    INTERVALS_OF,
    PERIODS,
    SOURCES,
    Window,
    interval_windows,
    period_days,
)
from services.reports import (
    COLUMNS,
    Column,
    QueueReport,
    counted_callbacks,
    csv_rows,
    queue_report,
    report_columns,
    shown_value,
)

INTERVAL_NAMES = {
    "15min": N_("15 minutes"),
    "hour": N_("hour"),
    "day": N_("day"),
    "week": N_("week"),
    "month": N_("month"),
}
PERIOD_NAMES = {"day": N_("day"), "week": N_("week"), "month": N_("month"), "year": N_("year")}
# "each hour" in the charts' titles, "by hour" in the report's line.
EVERY = {
    "15min": N_("each 15 minutes"),
    "hour": N_("each hour"),
    "day": N_("each day"),
    "week": N_("each week"),
    "month": N_("each month"),
}
BY = {
    "15min": N_("by 15 minutes"),
    "hour": N_("by hour"),
    "day": N_("by day"),
    "week": N_("by week"),
    "month": N_("by month"),
}
SPANS = {
    "day": N_("Day from %(first)s to %(last)s"),
    "week": N_("Week from %(first)s to %(last)s"),
    "month": N_("Month from %(first)s to %(last)s"),
    "year": N_("Year from %(first)s to %(last)s"),
}
# The charts' series and the drill-down's figures (scheduler/reports.py DRILLABLE).
FIGURE_NAMES = {
    "booked": N_("booked"),
    "completed": N_("completed"),
    "unreachable": N_("unreachable"),
    "cancelled": N_("cancelled"),
    "dialled": N_("dialled"),
    "connected": N_("connected"),
    "first_dials": N_("first dials"),
    "on_time": N_("on time"),
    "late": N_("late"),
    "answered": N_("answered"),
    "abandoned": N_("abandoned"),
    "failovers": N_("failovers"),
}
MIN_ABANDON, MAX_ABANDON = 5, 600

# The breakdowns' tables on the page (the CSV has every figure a group has).
BREAKDOWN_FIGURES = (
    "booked_total",
    "completed",
    "unreachable",
    "cancelled_total",
    "dialled",
    "connected",
    "connect_rate",
    "on_time_rate",
    "billable_minutes",
)
BREAKDOWN_COLUMNS = tuple(c for c in COLUMNS if c.key in BREAKDOWN_FIGURES)
BREAKDOWN_TITLES = {"source": N_("By source (utm_source)"), "campaign": N_("By campaign (utm_campaign)")}
BREAKDOWN_HEADS = {"source": N_("Source"), "campaign": N_("Campaign")}
BREAKDOWN_CSV = {"source": N_("Download CSV by source"), "campaign": N_("Download CSV by campaign")}


@dataclass(frozen=True)
class Asked:
    """What the query string asks for: ``queue`` (the first queue by key when not given),
    ``period`` (week unless day, month or year), ``interval`` (the period's default unless
    one it is cut into), ``start`` (a local date in the period; today in the queue's zone
    when absent or not a date) and ``abandon`` (seconds without an agent after the
    customer answered that count as abandoned, 60 unless 5 to 600)."""

    key: str
    timezone: str
    period: str
    interval: str
    start: date
    abandon: int

    def query(self, **more: Any) -> dict[str, Any]:
        values = {"queue": self.key, "period": self.period, "interval": self.interval, "start": self.start.isoformat()}
        if self.abandon != ABANDON_SECONDS:
            values["abandon"] = str(self.abandon)
        return {**values, **more}


def _asked() -> tuple[Asked, list[tuple[str, str]]]:
    """The request's report and the queues to pick from, as (key, name)."""
    period = request.args.get("period", "week")
    if period not in PERIODS:
        period = "week"
    interval = request.args.get("interval", "")
    if interval not in INTERVALS_OF[period]:
        interval = DEFAULT_INTERVAL[period]
    raw_abandon = request.args.get("abandon", "")
    abandon = int(raw_abandon) if raw_abandon.isdigit() else ABANDON_SECONDS
    abandon = abandon if MIN_ABANDON <= abandon <= MAX_ABANDON else ABANDON_SECONDS
    with context.db().read() as session:
        queues = [(k, n) for k, n in session.execute(select(Queue.key, Queue.name).order_by(Queue.name, Queue.key))]
        key = request.args.get("queue") or (min(k for k, _ in queues) if queues else None)
        if key is None:
            abort(404)
        timezone = session.scalar(select(Queue.timezone).where(Queue.key == key))
    if timezone is None:
        abort(404)
    try:
        start = date.fromisoformat(request.args.get("start", ""))
    except ValueError:
        start = context.now().astimezone(ZoneInfo(timezone)).date()
    return Asked(key, timezone, period, interval, start, abandon), queues


def _request_report() -> tuple[QueueReport, Asked, list[tuple[str, str]]]:
    asked, queues = _asked()
    with context.db().read() as session:
        try:
            result = queue_report(session, asked.key, asked.period, asked.start, asked.interval, asked.abandon)
        except DomainError:
            abort(404)
    return result, asked, queues


def column_label(column: Column) -> str:
    """A figure's label (services/reports.py COLUMNS) in the console's language."""
    return _(column.label, **dict(column.names))


def _window_label(start: datetime, interval: str, days: int, zone: ZoneInfo) -> str:
    """A window's label (scheduler/reports.py interval_windows) in the console's language:
    "14:15", "Mon 10:00", "Mon 04", "04", "04 Jan", "Jan"."""
    local = start.astimezone(zone)
    if interval in ("15min", "hour"):
        clock = wall_time_label(start, zone)
        return clock if days == 1 else f"{day(local.date(), 'EEE')} {clock}"
    if interval == "day":
        return day(local.date(), "EEE dd" if days <= 7 else "dd")
    if interval == "week":
        return day(local.date(), "dd MMM")
    return day(local.date(), "LLL")


def _labels(report: Any, zone: ZoneInfo) -> list[str]:
    return [_window_label(w.start, report.interval, len(report.days), zone) for w in report.windows]


def _figure(key: str) -> str:
    return _(FIGURE_NAMES[key])


def _charts(result: QueueReport) -> list[Chart]:
    report = result.report
    labels = _labels(report, ZoneInfo(result.timezone))
    per = report.per_window
    every = _(EVERY[report.interval])
    booked = bar_chart(
        "booked",
        _("Callbacks booked, %(every)s, by source", every=every),
        _("Stacked bars: callbacks booked %(every)s through the IVR, SMS, web, API and console.", every=every),
        labels,
        [Series(source_name(source), [f.booked.get(source, 0) for f in per], f"booked.{source}") for source in SOURCES],
        stacked=True,
    )
    outcomes = bar_chart(
        "outcomes",
        _("Completed, unreachable and cancelled, %(every)s", every=every),
        _("Side-by-side bars: callbacks completed, given up as unreachable and cancelled %(every)s.", every=every),
        labels,
        [
            Series(_figure("completed"), [f.completed for f in per], "completed"),
            Series(_figure("unreachable"), [f.unreachable for f in per], "unreachable"),
            Series(_figure("cancelled"), [f.cancelled_total for f in per], "cancelled"),
        ],
        stacked=False,
    )
    on_time = bar_chart(
        "on-time",
        _("First dials on time and late, %(every)s", every=every),
        _(
            "Stacked bars: callbacks first dialled by the time promised (on time) and after it (late), %(every)s.",
            every=every,
        ),
        labels,
        [
            Series(_figure("on_time"), [f.on_time for f in per], "on_time"),
            Series(_figure("late"), [f.late for f in per], "late"),
        ],
        stacked=True,
    )
    answered = bar_chart(
        "answered",
        _("Answered by the customer, and abandoned waiting for an agent, %(every)s", every=every),
        _(
            "Side-by-side bars: callbacks the customer answered, and calls where no agent came in time, %(every)s.",
            every=every,
        ),
        labels,
        [
            Series(_figure("answered"), [f.answered for f in per], "answered"),
            Series(_figure("abandoned"), [f.abandoned for f in per], "abandoned"),
        ],
        stacked=False,
    )
    return [booked, outcomes, on_time, answered]


def _neighbours(asked: Asked) -> tuple[str, str]:
    days = period_days(asked.period, asked.start)
    return (days[0] - timedelta(days=1)).isoformat(), (days[-1] + timedelta(days=1)).isoformat()


@console.get("/reports")
@requires("viewer")
def reports() -> ResponseReturnValue:
    result, asked, queues = _request_report()
    report = result.report
    previous, following = _neighbours(asked)
    table = [
        (column_label(column), [shown_value(column, f) for f in report.per_window], shown_value(column, report.total))
        for column in report_columns(report)
    ]
    charts = _charts(result)
    breakdowns = [
        (
            key,
            _(BREAKDOWN_TITLES[key]),
            _(BREAKDOWN_HEADS[key]),
            _(BREAKDOWN_CSV[key]),
            [
                (_("(none)") if name == "(none)" else name, [shown_value(c, f) for c in BREAKDOWN_COLUMNS])
                for name, f in groups
            ],
        )
        for key, groups in report.breakdowns.items()
    ]
    zone = ZoneInfo(result.timezone)
    span = _(
        SPANS[report.period],
        first=day(report.days[0], "EEE dd MMM y"),
        last=day(report.days[-1], "EEE dd MMM y"),
    )
    return render_template(
        "console_reports.html",
        result=result,
        report=report,
        asked=asked,
        queues=queues,
        periods=[(p, _(PERIOD_NAMES[p])) for p in PERIODS],
        intervals=[(i, _(INTERVAL_NAMES[i])) for i in INTERVALS_OF[asked.period]],
        span=span,
        by=_(BY[report.interval]),
        interval_name=_(INTERVAL_NAMES[report.interval]),
        period_name=_(PERIOD_NAMES[report.period]),
        window_labels=_labels(report, zone),
        table=table,
        charts=charts,
        breakdowns=breakdowns,
        breakdown_labels=[column_label(c) for c in BREAKDOWN_COLUMNS],
        by_csv=lambda key: url_for("console.reports_csv", **asked.query(by=key)),
        drill=lambda figure, index: url_for("console.report_callbacks", **asked.query(figure=figure, window=index)),
        previous=url_for("console.reports", **asked.query(start=previous)),
        following=url_for("console.reports", **asked.query(start=following)),
        csv_url=url_for("console.reports_csv", **asked.query()),
    )


def _csv(rows: list[list[str]], name: str) -> Response:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(rows)
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]", "_", text)


@console.get("/reports.csv")
@requires("viewer")
def reports_csv() -> ResponseReturnValue:
    result, asked, _queues = _request_report()
    report = result.report
    by = request.args.get("by") or None  # a breakdown (source, campaign) instead of the intervals
    if by is not None and by not in BREAKDOWNS:
        abort(404)
    interval = "" if report.interval == DEFAULT_INTERVAL[report.period] or by else f"-{report.interval}"
    suffix = f"-by-{by}" if by else ""
    name = f"callbacks-{_safe(result.queue_key)}-{report.period}{interval}-{report.first_day.isoformat()}{suffix}.csv"
    return _csv(csv_rows(report, ZoneInfo(asked.timezone), by), name)


def _drilled() -> tuple[Asked, str, Window, str, list[dict[str, str]]]:
    """The drill-down the query asks for: the report's query plus ``figure`` (a drillable
    one; 404 otherwise) and ``window`` (the interval's index; the whole period when absent)."""
    asked, _queues = _asked()
    figure = request.args.get("figure", "")
    if figure.partition(".")[0] not in DRILLABLE:
        abort(404)
    zone = ZoneInfo(asked.timezone)
    windows = interval_windows(period_days(asked.period, asked.start), asked.interval, zone)
    raw = request.args.get("window", "")
    if raw == "":
        window = Window(windows[0].start, windows[-1].end, _("the whole period"))
    elif raw.isdigit() and int(raw) < len(windows):
        one = windows[int(raw)]
        days = len(period_days(asked.period, asked.start))
        window = Window(one.start, one.end, _window_label(one.start, asked.interval, days, zone))
    else:
        abort(404)
    with context.db().read() as session:
        try:
            rows = counted_callbacks(session, asked.key, figure, window.start, window.end, asked.abandon)
        except DomainError:
            abort(404)
        listed = [listed_row(c, zone) for c in rows]
        name = session.scalar(select(Queue.name).where(Queue.key == asked.key)) or asked.key
    return asked, figure, window, name, listed


@console.get("/reports/callbacks")
@requires("viewer")
def report_callbacks() -> ResponseReturnValue:
    asked, figure, window, queue_name, listed = _drilled()
    zone = ZoneInfo(asked.timezone)
    return render_template(
        "console_report_callbacks.html",
        asked=asked,
        figure=figure,
        figure_name=_figure_name(figure),
        window=window,
        window_text=f"{_shown(window.start, zone)} – {_shown(window.end, zone)}",
        queue_name=queue_name,
        rows=listed,
        back=url_for("console.reports", **asked.query()),
        csv_url=url_for(
            "console.report_callbacks_csv", **asked.query(figure=figure, window=request.args.get("window"))
        ),
    )


def _shown(instant: datetime, zone: ZoneInfo) -> str:
    local = instant.astimezone(zone)
    return f"{day(local.date(), 'EEE dd MMM y')} {local:%H:%M}"


def _figure_name(figure: str) -> str:
    """A drillable figure's name: "booked", "booked (ivr)"."""
    head, _dot, part = figure.partition(".")
    name = _figure(head) if head in FIGURE_NAMES else head
    return _("%(figure)s (%(part)s)", figure=name, part=source_name(part)) if part else name


DRILL_COLUMNS = ("ref", "phone", "state", "kind", "source", "when", "attempts", "created")


@console.get("/reports/callbacks.csv")
@requires("viewer")
def report_callbacks_csv() -> ResponseReturnValue:
    asked, figure, window, _name, listed = _drilled()
    start = window.start.astimezone(ZoneInfo(asked.timezone)).strftime("%Y-%m-%dT%H%M")
    name = f"callbacks-{_safe(asked.key)}-{_safe(figure)}-{start}.csv"
    return _csv([list(DRILL_COLUMNS), *([row[c] for c in DRILL_COLUMNS] for row in listed)], name)

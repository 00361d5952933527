"""The console's reports: one queue, one period (a local day, a Monday week or a calendar
month), as a page with server-drawn SVG charts and as CSV (the same figures: one row per
day and a total row). Figures are defined in scheduler/reports.py and docs/console.md."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from flask import Response, abort, render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import console, requires
from console.charts import Chart, Series, bar_chart
from infra import context
from infra.models import Queue
from scheduler.attribution import BREAKDOWNS
from scheduler.errors import DomainError
from scheduler.reports import PERIODS, SOURCES
from services.reports import COLUMNS, QueueReport, csv_rows, queue_report, shown_value

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
BREAKDOWN_TITLES = {"source": "By source (utm_source)", "campaign": "By campaign (utm_campaign)"}


def _request_report() -> tuple[QueueReport, list[str]]:
    """The report the query string asks for: ``queue`` (the first queue by key when not
    given), ``period`` (week unless day or month) and ``start`` (a local date in the
    period; today in the queue's zone when absent or not a date)."""
    period = request.args.get("period", "week")
    if period not in PERIODS:
        period = "week"
    with context.db().read() as session:
        keys = list(session.scalars(select(Queue.key).order_by(Queue.key)))
        key = request.args.get("queue") or (keys[0] if keys else None)
        if key is None:
            abort(404)
        timezone = session.scalar(select(Queue.timezone).where(Queue.key == key))
        if timezone is None:
            abort(404)
        try:
            start = date.fromisoformat(request.args.get("start", ""))
        except ValueError:
            start = context.now().astimezone(ZoneInfo(timezone)).date()
        try:
            return queue_report(session, key, period, start), keys
        except DomainError:
            abort(404)


def _charts(result: QueueReport) -> list[Chart]:
    report = result.report
    many = len(report.days) > 7
    labels = [day.strftime("%d") if many else day.strftime("%a %d") for day in report.days]
    booked = bar_chart(
        "booked",
        "Callbacks booked per day, by source",
        "Stacked bars: callbacks booked each day through the IVR, SMS, web, API and console.",
        labels,
        [Series(source, [f.booked.get(source, 0) for f in report.per_day]) for source in SOURCES],
        stacked=True,
    )
    outcomes = bar_chart(
        "outcomes",
        "Completed, unreachable and cancelled per day",
        "Side-by-side bars: callbacks completed, given up as unreachable and cancelled each day.",
        labels,
        [
            Series("completed", [f.completed for f in report.per_day]),
            Series("unreachable", [f.unreachable for f in report.per_day]),
            Series("cancelled", [f.cancelled_total for f in report.per_day]),
        ],
        stacked=False,
    )
    on_time = bar_chart(
        "on-time",
        "On-time rate of first dials per day",
        "Bars: the share of callbacks first dialled within 60 seconds of their due time, each day.",
        labels,
        [Series("on time", [round((f.on_time_rate or 0) * 100, 1) for f in report.per_day])],
        stacked=False,
        top=100,
        unit="%",
    )
    return [booked, outcomes, on_time]


@console.get("/reports")
@requires("viewer")
def reports() -> ResponseReturnValue:
    result, keys = _request_report()
    report = result.report
    days = report.days
    previous = (days[0] - timedelta(days=1)).isoformat()  # a day of the period before
    following = (days[-1] + timedelta(days=1)).isoformat()
    table = [
        (column.label, [shown_value(column, f) for f in report.per_day], shown_value(column, report.total))
        for column in COLUMNS
    ]
    breakdowns = [
        (key, BREAKDOWN_TITLES[key], [(name, [shown_value(c, f) for c in BREAKDOWN_COLUMNS]) for name, f in groups])
        for key, groups in report.breakdowns.items()
    ]
    return render_template(
        "console_reports.html",
        result=result,
        report=report,
        keys=keys,
        periods=PERIODS,
        table=table,
        breakdowns=breakdowns,
        breakdown_labels=[c.label for c in BREAKDOWN_COLUMNS],
        charts=_charts(result),
        previous=previous,
        following=following,
    )


@console.get("/reports.csv")
@requires("viewer")
def reports_csv() -> ResponseReturnValue:
    result, _keys = _request_report()
    by = request.args.get("by") or None  # a breakdown (source, campaign) instead of the days
    if by is not None and by not in BREAKDOWNS:
        abort(404)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\r\n").writerows(csv_rows(result.report, by))
    safe_key = re.sub(r"[^A-Za-z0-9_-]", "_", result.queue_key)
    suffix = f"-by-{by}" if by else ""
    name = f"callbacks-{safe_key}-{result.report.period}-{result.report.first_day.isoformat()}{suffix}.csv"
    return Response(
        buffer.getvalue(),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )

"""The capacity grid: a week of a queue's slots (rows: local start times, columns: days),
each cell booked / capacity coloured by how full it is. Supervisors change capacity in
bulk, each change one POST, one transaction and one audit entry (services/slot_capacity.py):
seats for a range of cells (selected in the grid with the mouse or the keyboard, or typed),
this week copied to the next N weeks, or a pattern. console/static/grid.js does the
selection; without it the forms work as typed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from flask import Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.error_statuses import http_status
from console import capacity_form
from console.blueprint import console, requires
from infra import context
from infra.models import Queue, Slot
from scheduler.booking import local_midnight
from scheduler.bulk_capacity import FILL_LEVELS, MAX_SEATS, MAX_WEEKS, fill_level
from scheduler.calendar import wall_time_row
from scheduler.errors import DomainError
from services.accounts import at_least
from services.queues import get_queue
from services.slot_capacity import change_slot_capacity, copy_week, set_seats

GRID_JS = Path(__file__).with_name("static") / "grid.js"
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def _week_start(raw: str | None, zone: ZoneInfo) -> date:
    try:
        day = date.fromisoformat(raw) if raw else context.now().astimezone(zone).date()
    except ValueError:
        day = context.now().astimezone(zone).date()
    return day - timedelta(days=day.weekday())


def _clock(instant_local_hm: str) -> str:
    return "24:00" if instant_local_hm == "00:00" else instant_local_hm


def _grid(key: str, week: str | None, error: DomainError | None = None) -> ResponseReturnValue:
    now = context.now()
    with context.db().read() as db_session:
        queue = get_queue(db_session, key)
        zone = ZoneInfo(queue.timezone)
        monday = _week_start(week, zone)
        days = [monday + timedelta(days=n) for n in range(7)]
        slots = db_session.scalars(
            select(Slot)
            .where(
                Slot.queue_id == queue.id,
                Slot.active.is_(True),
                Slot.starts_at >= local_midnight(monday, zone),
                Slot.starts_at < local_midnight(monday + timedelta(days=7), zone),
            )
            .order_by(Slot.starts_at)
        ).all()
        cells: dict[tuple[str, date], Slot] = {}
        rows: dict[str, tuple[str, str]] = {}  # label -> (starts, ends) as the range form takes them
        for slot in slots:
            # A time the clock shows twice (fall back): the first in the 01:30 row with the
            # other days', the second a row of its own, "01:30 GMT".
            label = wall_time_row(slot.starts_at, zone)
            cells[(label, slot.starts_at.astimezone(zone).date())] = slot
            rows.setdefault(
                label,
                (
                    slot.starts_at.astimezone(zone).strftime("%H:%M"),
                    _clock(slot.ends_at.astimezone(zone).strftime("%H:%M")),
                ),
            )
        times = sorted(rows)
        html = render_template(
            "console_grid.html",
            queue=queue,
            days=days,
            times=times,
            rows=rows,
            cells=cells,
            fill=fill_level,
            levels=FILL_LEVELS,
            weekdays=WEEKDAYS,
            now=now,
            editable=at_least(g.user.role, "supervisor"),
            previous=(monday - timedelta(days=7)).isoformat(),
            next=(monday + timedelta(days=7)).isoformat(),
            week=monday.isoformat(),
            today=now.astimezone(zone).date().isoformat(),
            max_seats=MAX_SEATS,
            max_weeks=MAX_WEEKS,
            form=request.form if error else {},
            error=error,
        )
    return html, http_status(error) if error else 200


@console.get("/queues/<key>/grid")
@requires("viewer")
def grid(key: str) -> ResponseReturnValue:
    return _grid(key, request.args.get("week"))


@console.get("/grid.js")
@requires("viewer")
def grid_js() -> Response:
    response = Response(GRID_JS.read_bytes(), mimetype="text/javascript")
    response.cache_control.max_age = 300
    return response


def _change(key: str, how: Callable[[Session, Queue], int]) -> ResponseReturnValue:
    """One bulk change in one transaction; refused as a whole with the grid and the reason."""
    week = request.form.get("week")
    try:
        with context.db().write() as db_session:
            how(db_session, get_queue(db_session, key))
    except DomainError as error:
        return _grid(key, week, error)
    return redirect(url_for("console.grid", key=key, week=week), 303)


@console.post("/queues/<key>/slots/<int:slot_id>")
@requires("supervisor")
def set_slot_capacity(key: str, slot_id: int) -> ResponseReturnValue:
    def one(db_session: Session, queue: Queue) -> int:
        seats = capacity_form.seats(request.form, "capacity")
        return change_slot_capacity(db_session, queue, slot_id, seats, context.now(), str(g.user.email))

    return _change(key, one)


@console.post("/queues/<key>/capacity/range")
@requires("supervisor")
def set_range_capacity(key: str) -> ResponseReturnValue:
    def in_range(db_session: Session, queue: Queue) -> int:
        form = request.form
        chosen, seats = capacity_form.range_pattern(form), capacity_form.seats(form)
        return set_seats(db_session, queue, chosen, seats, context.now(), str(g.user.email))

    return _change(key, in_range)


@console.post("/queues/<key>/capacity/copy")
@requires("supervisor")
def copy_capacity(key: str) -> ResponseReturnValue:
    def copied(db_session: Session, queue: Queue) -> int:
        monday = _week_start(request.form.get("week"), ZoneInfo(queue.timezone))
        weeks = capacity_form.weeks(request.form)
        return copy_week(db_session, queue, monday, weeks, context.now(), str(g.user.email))

    return _change(key, copied)


@console.post("/queues/<key>/capacity/pattern")
@requires("supervisor")
def pattern_capacity(key: str) -> ResponseReturnValue:
    def patterned(db_session: Session, queue: Queue) -> int:
        today = context.now().astimezone(ZoneInfo(queue.timezone)).date()
        chosen, seats = capacity_form.pattern(request.form, today), capacity_form.seats(request.form)
        return set_seats(db_session, queue, chosen, seats, context.now(), str(g.user.email), how="pattern")

    return _change(key, patterned)

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
from typing import Any
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import get_day_names
from flask import Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from app.error_statuses import http_status
from console import capacity_form
from console.blueprint import console, requires
from console.i18n import CATALOGS, N_, _, language, ngettext
from infra import context
from infra.models import Queue, Slot
from scheduler.booking import local_midnight
from scheduler.bulk_capacity import MAX_DAYS, MAX_SEATS, MAX_WEEKS, fill_level
from scheduler.calendar import wall_time_row
from scheduler.errors import DomainError
from services.accounts import at_least
from services.queues import get_queue
from services.slot_capacity import change_slot_capacity, copy_week, set_seats

GRID_JS = Path(__file__).with_name("static") / "grid.js"
# How full a cell is (scheduler/bulk_capacity.py fill_level): its name in a cell, its legend.
LEVEL_NAMES = {"empty": N_("empty"), "low": N_("low"), "high": N_("high"), "full": N_("full")}
LEVELS = (
    ("empty", N_("none booked")),
    ("low", N_("under half booked")),
    ("high", N_("half booked or more")),
    ("full", N_("full")),
)
# A refused change as the console says it, by the error's type; another type in its own words.
ERROR_TEXTS = {"slot_not_found": N_("There is no such slot in this queue.")}
# A range or pattern refused by scheduler/bulk_capacity.py, by the field it names.
FIELD_TEXTS = {
    "weekdays": N_("Choose at least one weekday."),
    "ends": N_("The end time must be after the start time."),
    "last_day": N_("The last day must be on or after the first day, at most %(days)s days later."),
    "range": N_("No slot in that range."),
    "seats": N_("Seats are a whole number from 0 to %(most)s."),
    "weeks": N_("Copy to 1 to %(most)s weeks."),
}
# What grid.js writes when cells are selected, by the plural category (CLDR, as the browser's
# Intl.PluralRules gives it) of the number of cells.
SAMPLES = (*range(0, 200), 1_000_000)


def level_name(level: str) -> str:
    return _(LEVEL_NAMES[level]) if level in LEVEL_NAMES else level


def error_text(error: DomainError) -> str:
    """A refused change in the console's language (the English message for a type not known here)."""
    if isinstance(error, capacity_form.FormInvalid):
        return error.message
    if error.type == "capacity_below_booked":
        cells = len(error.details.get("cells", ()))
        return ngettext(
            "Nothing was changed: %(num)d slot cannot go below the seats booked.",
            "Nothing was changed: %(num)d slots cannot go below the seats booked.",
            cells,
        )
    if error.type == "slot_in_the_past":
        return ngettext(
            "This slot has begun: its capacity no longer changes.",
            "These slots have begun: their capacity no longer changes.",
            int(error.details.get("slots", 1)),
        )
    if error.type == "validation_error" and error.details and all(f in FIELD_TEXTS for f in error.details):
        limits = {"days": MAX_DAYS, "most": MAX_WEEKS if "weeks" in error.details else MAX_SEATS}
        return " ".join(_(FIELD_TEXTS[f]) % limits for f in error.details)
    return _(ERROR_TEXTS[error.type]) if error.type in ERROR_TEXTS else error.message


def weekday_names() -> list[str]:
    """Monday to Sunday in the console's language."""
    names = get_day_names("wide", context="stand-alone", locale=language())
    return [names[n] for n in range(7)]


def grid_words() -> dict[str, Any]:
    """The words grid.js writes: the selection's sentence for each plural category, its
    placeholders filled in the browser (the days as ISO dates, alike in every language)."""
    lang = language()
    rule = Locale.parse(lang).plural_form
    selected: dict[str, str] = {}
    for n in SAMPLES:
        selected.setdefault(
            rule(n),
            CATALOGS.ngettext(
                "Selected %(num)d cell: %(first)s to %(last)s, %(starts)s to %(ends)s.",
                "Selected %(num)d cells: %(first)s to %(last)s, %(starts)s to %(ends)s.",
                n,
                lang,
            ),
        )
    selected.setdefault("other", selected.get("many", selected.get("one", "")))
    return {"selected": selected}


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
            levels=[(level, _(says)) for level, says in LEVELS],
            level_name=level_name,
            weekdays=weekday_names(),
            grid_words=grid_words(),
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
            error_text=error_text(error) if error else "",
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

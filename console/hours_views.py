"""A queue's weekly hours and date overrides as forms: one row per interval, seats typed
or derived from staffing, blank rows to add, an emptied row removed. Saved through the
queue document (``services.queue_documents``), so the checks, the slot re-planning and the
audit log are the document editor's."""

from __future__ import annotations

from typing import Any

from babel.dates import get_day_names
from flask import g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.blueprint import console, requires
from console.i18n import _, language
from console.queue_views import document_error, save_edited
from infra import context
from services.queue_documents import WEEKDAYS, export_queue
from services.queues import get_queue

BLANK_ROWS = 3
MAX_ROWS = 200


def _int(raw: str) -> int | str:
    """A whole number as a number; anything else as typed, for the document's check to name."""
    raw = raw.strip()
    return int(raw) if raw.isdigit() else raw


def _interval(form: Any, prefix: str, i: int) -> dict[str, Any] | None:
    """One row of the form as an interval of the document; None for an empty row."""

    def get(name: str) -> str:
        return str(form.get(f"{prefix}-{i}-{name}", "")).strip()

    opens, closes = get("opens"), get("closes")
    if not opens and not closes:
        return None
    hours: dict[str, Any] = {"opens": opens, "closes": closes, "slot_minutes": _int(get("slot_minutes"))}
    if get("agents"):
        hours["agents"] = _int(get("agents"))
        hours["callback_percent"] = _int(get("callback_percent") or "100")
    else:
        hours["capacity"] = _int(get("capacity"))
    return hours


def _rows_from(form: Any) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    weekly = []
    for i in range(min(int(form.get("weekly-count", "0") or 0), MAX_ROWS)):
        hours = _interval(form, "w", i)
        if hours is not None:
            weekly.append({"weekday": form.get(f"w-{i}-weekday", ""), **hours})
    overrides: dict[str, dict[str, Any]] = {}
    for i in range(min(int(form.get("override-count", "0") or 0), MAX_ROWS)):
        day = form.get(f"o-{i}-date", "").strip()
        if not day:
            continue
        entry = overrides.setdefault(day, {"date": day, "closed": False, "hours": []})
        note = form.get(f"o-{i}-note", "").strip()
        if note:
            entry["note"] = note
        if form.get(f"o-{i}-closed") == "yes":
            entry["closed"] = True
            continue
        hours = _interval(form, "o", i)
        if hours is not None:
            entry["hours"].append(hours)
    return weekly, list(overrides.values())


def _label(field: str) -> str:
    """ "weekly_hours.2.capacity" -> "Weekly hours, row 3, capacity"."""
    parts = field.split(".")
    if len(parts) >= 2 and parts[0] in ("weekly_hours", "date_overrides") and parts[1].isdigit():
        number = int(parts[1]) + 1
        said = (
            _("Weekly hours, row %(row)s", row=number)
            if parts[0] == "weekly_hours"
            else _("Date overrides, date %(row)s", row=number)
        )
        rest = [p for p in parts[2:] if not p.isdigit()]
        return ", ".join([said, *rest])
    return field


def weekday_names() -> list[tuple[str, str]]:
    """(the document's weekday, its name in the console's language), Monday first."""
    names = get_day_names("wide", context="stand-alone", locale=language())
    return [(weekday, names[n]) for n, weekday in enumerate(WEEKDAYS)]


def _page(key: str, document: dict[str, Any], errors: dict[str, str], status: int = 200) -> ResponseReturnValue:
    weekly = list(document["weekly_hours"]) + [{} for _ in range(BLANK_ROWS)]
    override_rows: list[dict[str, Any]] = []
    for o in document["date_overrides"]:
        if o.get("closed"):
            override_rows.append({"date": o["date"], "closed": True, "note": o.get("note", "")})
        for h in o.get("hours", []):
            override_rows.append({"date": o["date"], "note": o.get("note", ""), **h})
    override_rows += [{} for _ in range(BLANK_ROWS)]
    html = render_template(
        "console_hours.html",
        key=key,
        queue_name=document["name"],
        timezone=document["timezone"],
        weekly=weekly,
        overrides=override_rows,
        weekdays=weekday_names(),
        errors={_label(k): v for k, v in errors.items()},
        editable=g.user.role in ("supervisor", "admin"),
    )
    return html, status


@console.get("/queues/<key>/hours")
@requires("viewer")
def hours(key: str) -> ResponseReturnValue:
    with context.db().read() as session:
        document = export_queue(get_queue(session, key))
    return _page(key, document, {})


@console.post("/queues/<key>/hours")
@requires("supervisor")
def save_hours(key: str) -> ResponseReturnValue:
    try:
        weekly, overrides = _rows_from(request.form)
    except ValueError:
        weekly, overrides = [], []
    wanted, error = save_edited(
        key,
        lambda current: {**current, "weekly_hours": weekly, "date_overrides": overrides},
        "queue.hours",
        lambda _before, _after: ("weekly_hours", "date_overrides"),
    )
    if error is not None:
        return _page(key, wanted, {k: str(v) for k, v in error.details.items()} or {"form": document_error(error)}, 422)
    return redirect(url_for("console.hours", key=key, saved=1), 303)

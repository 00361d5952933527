"""The console's callbacks: a filtered, paged list (and its CSV), one callback's detail
with its calls and history, and what a supervisor may do to it: dial now, move it to
another time, cancel it, add a note. Every change goes through the booking service or
the life-cycle's event record, as from any other channel, and names the supervisor.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Response, g, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, joinedload

from app.error_statuses import http_status
from app.request_input import parse_instant
from console.blueprint import console, requires
from console.i18n import N_, _
from infra import context
from infra.models import Attempt, Callback, CallbackEvent, Queue
from infra.text_models import SmsMessage
from scheduler.booking import local_midnight
from scheduler.errors import DomainError, NotDialable
from scheduler.lifecycle import State
from services.availability import next_bookable_starts
from services.booking_service import cancel, get_callback, reschedule
from services.transitions import record_event

PAGE_SIZE = 50
STATES = [s.value for s in State]
SOURCES = ["ivr", "sms", "web", "api", "console"]
DIALABLE_NOW = (State.SCHEDULED.value, State.RETRY_WAIT.value, State.REQUESTED.value)
NOTE_MAX = 1000

# What a person reads for the codes (the codes stay in the filters, the URLs and the CSV).
STATE_NAMES = {
    State.REQUESTED.value: N_("requested"),
    State.SCHEDULED.value: N_("scheduled"),
    State.DIALING.value: N_("dialing"),
    State.CONNECTED.value: N_("connected"),
    State.COMPLETED.value: N_("completed"),
    State.RETRY_WAIT.value: N_("retry_wait"),
    State.UNREACHABLE.value: N_("unreachable"),
    State.CANCELLED.value: N_("cancelled"),
}
SOURCE_NAMES = {"ivr": N_("ivr"), "sms": N_("sms"), "web": N_("web"), "api": N_("api"), "console": N_("console")}
KIND_NAMES = {"asap": N_("asap"), "scheduled": N_("scheduled")}
STEP_NAMES = {
    "book": N_("book"),
    "schedule": N_("schedule"),
    "start_dial": N_("start_dial"),
    "connect": N_("connect"),
    "complete": N_("complete"),
    "retry": N_("retry"),
    "give_up": N_("give_up"),
    "cancel": N_("cancel"),
    "decline": N_("decline"),
    "release": N_("release"),
    "reschedule": N_("reschedule"),
    "note": N_("note"),
    "dial_now": N_("dial_now"),
}
# The web widget's attribution, by key (scheduler/attribution.py KEYS).
ATTRIBUTION_NAMES = {
    "session_key": N_("session key"),
    "first_visit_at": N_("first visit at"),
    "source": N_("source"),
    "medium": N_("medium"),
    "campaign": N_("campaign"),
    "term": N_("term"),
    "content": N_("content"),
    "referrer": N_("referrer"),
    "landing_page": N_("landing page"),
}
# A supervisor's action refused (a DomainError's type): the console's words for it; the
# error's English message for a type not here.
ERRORS = {
    "not_dialable": N_("This callback cannot be dialled now."),
    "not_cancellable": N_("This callback cannot be cancelled now."),
    "not_reschedulable": N_("This callback cannot be moved now."),
    "illegal_transition": N_("This callback cannot do that now."),
    "slot_not_found": N_("No slot starts at that time: choose another."),
    "slot_full": N_("That time is fully booked: choose another."),
    "too_soon": N_("That time is too soon: choose a later one."),
    "too_far": N_("That time is too far ahead: choose an earlier one."),
    "slot_in_the_past": N_("That time has passed: choose another."),
}


def _named(names: dict[str, str], code: str | None) -> str:
    """``code``'s name in the console's language; a code without one as it is."""
    if not code:
        return ""
    return _(names[code]) if code in names else code


def state_name(state: str | None) -> str:
    return _named(STATE_NAMES, state)


def source_name(source: str | None) -> str:
    return _named(SOURCE_NAMES, source)


def kind_name(kind: str | None) -> str:
    return _named(KIND_NAMES, kind)


def _attribution_name(key: str) -> str:
    return _(ATTRIBUTION_NAMES[key]) if key in ATTRIBUTION_NAMES else key.replace("_", " ")


def error_text(error: DomainError) -> str:
    return _(ERRORS[error.type]) if error.type in ERRORS else error.message


@dataclass(frozen=True)
class Filters:
    queue: str = ""
    state: str = ""
    source: str = ""
    phone: str = ""
    start: date | None = None  # created on or after, the queue's local day (UTC without a queue)
    end: date | None = None  # created on or before

    @classmethod
    def from_args(cls, args: Any) -> Filters:
        def day(name: str) -> date | None:
            try:
                return date.fromisoformat(args.get(name, ""))
            except ValueError:
                return None

        return cls(
            queue=args.get("queue", "")[:64],
            state=args.get("state", "") if args.get("state") in STATES else "",
            source=args.get("source", "") if args.get("source") in SOURCES else "",
            phone="".join(ch for ch in args.get("phone", "") if ch.isdigit())[:15],
            start=day("from"),
            end=day("to"),
        )

    def query(self) -> dict[str, str]:
        values = {"queue": self.queue, "state": self.state, "source": self.source, "phone": self.phone}
        values["from"] = self.start.isoformat() if self.start else ""
        values["to"] = self.end.isoformat() if self.end else ""
        return {k: v for k, v in values.items() if v}


def _select(session: Session, filters: Filters) -> Select[Callback]:
    stmt = select(Callback).join(Queue, Queue.id == Callback.queue_id)
    zone = ZoneInfo("UTC")
    if filters.queue:
        stmt = stmt.where(Queue.key == filters.queue)
        queue = session.scalars(select(Queue).where(Queue.key == filters.queue)).first()
        if queue is not None:
            zone = ZoneInfo(queue.timezone)
    if filters.state:
        stmt = stmt.where(Callback.state == filters.state)
    if filters.source:
        stmt = stmt.where(Callback.source == filters.source)
    if filters.phone:
        stmt = stmt.where(Callback.phone.contains(filters.phone))
    if filters.start:
        stmt = stmt.where(Callback.created_at >= local_midnight(filters.start, zone))
    if filters.end:
        stmt = stmt.where(Callback.created_at < local_midnight(filters.end + timedelta(days=1), zone))
    return stmt


def _actor() -> str:
    return f"console:{g.user.email}"[:64]


def _local(instant: datetime | None, zone: str | ZoneInfo) -> str:
    return instant.astimezone(ZoneInfo(str(zone))).strftime("%Y-%m-%d %H:%M") if instant else ""


def listed_row(c: Callback, zone: ZoneInfo) -> dict[str, str]:
    """A callback as a row of a list (the callbacks page, a report's drill-down): its codes
    (for CSV and links), their names in the console's language, and its times in ``zone``."""
    return {
        "ref": c.ref,
        "phone": c.phone,
        "name": c.name or "",
        "state": c.state,
        "kind": c.kind,
        "source": c.source,
        "state_name": state_name(c.state),
        "kind_name": kind_name(c.kind),
        "source_name": source_name(c.source),
        "when": _local(c.promised_at, zone),
        "attempts": str(c.attempts),
        "created": _local(c.created_at, zone),
    }


@console.get("/callbacks")
@requires("viewer")
def callbacks() -> ResponseReturnValue:
    filters = Filters.from_args(request.args)
    try:
        page = max(1, int(request.args.get("page", "1")))
    except ValueError:
        page = 1
    with context.db().read() as session:
        stmt = _select(session, filters)
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        rows = session.scalars(
            stmt.options(joinedload(Callback.queue), joinedload(Callback.slot))
            .order_by(Callback.created_at.desc(), Callback.id.desc())
            .limit(PAGE_SIZE)
            .offset((page - 1) * PAGE_SIZE)
        ).all()
        queues = [(k, n) for k, n in session.execute(select(Queue.key, Queue.name).order_by(Queue.name, Queue.key))]
        listed = [listed_row(c, ZoneInfo(c.queue.timezone)) | {"queue": c.queue.key} for c in rows]
    return render_template(
        "console_callbacks.html",
        rows=listed,
        filters=filters,
        query=filters.query(),
        queues=queues,
        states=[(s, state_name(s)) for s in STATES],
        sources=[(s, source_name(s)) for s in SOURCES],
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        total=total,
    )


CSV_COLUMNS = [
    "ref",
    "queue",
    "phone",
    "name",
    "state",
    "kind",
    "source",
    "when",
    "attempts",
    "created_at",
    "tags",
    "unit",
]


@console.get("/callbacks.csv")
@requires("viewer")
def callbacks_csv() -> Response:
    """The filtered list, every row (not one page), streamed."""
    filters = Filters.from_args(request.args)
    db = context.db()  # the generator runs after the view returns, outside the request

    def lines() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(CSV_COLUMNS)
        with db.read() as session:
            stmt = _select(session, filters).options(joinedload(Callback.queue), joinedload(Callback.slot))
            for c in session.scalars(stmt.order_by(Callback.created_at, Callback.id)).yield_per(500):
                zone = ZoneInfo(c.queue.timezone)
                when = c.promised_at
                writer.writerow(
                    [
                        c.ref,
                        c.queue.key,
                        c.phone,
                        _safe_cell(c.name or ""),
                        c.state,
                        c.kind,
                        c.source,
                        when.astimezone(zone).isoformat() if when else "",
                        c.attempts,
                        c.created_at.astimezone(zone).isoformat(),
                        _safe_cell(" ".join(c.tags or [])),
                        _safe_cell(c.unit or ""),
                    ]
                )
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(lines(), mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="callbacks.csv"'
    return response


def _safe_cell(value: str) -> str:
    """A customer's text that a spreadsheet would run as a formula (=, +, -, @) is quoted
    with a leading apostrophe (CSV injection)."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


@console.get("/callbacks/<ref>")
@requires("viewer")
def callback_detail(ref: str) -> ResponseReturnValue:
    return _detail(ref)


def _detail(ref: str, error: str | None = None, status: int = 200) -> ResponseReturnValue:
    now = context.now()
    with context.db().read() as session:
        callback = get_callback(session, ref)
        queue = callback.queue
        events = session.scalars(
            select(CallbackEvent)
            .where(CallbackEvent.callback_id == callback.id)
            .order_by(CallbackEvent.at, CallbackEvent.id)
        ).all()
        calls = session.scalars(
            select(Attempt).where(Attempt.callback_id == callback.id).order_by(Attempt.number)
        ).all()
        texts = session.scalars(
            select(SmsMessage).where(SmsMessage.callback_id == callback.id).order_by(SmsMessage.created_at)
        ).all()
        times: list[datetime] = []
        if callback.state in DIALABLE_NOW:
            times = next_bookable_starts(session, queue, now, 12) if _slots_ready(queue, now) else []
        html = render_template(
            "console_callback.html",
            c=callback,
            queue=queue,
            when=_local(callback.promised_at, queue.timezone),
            # An ASAP callback's ECBT range as its customer was told it, while it holds.
            told=[_local(t, queue.timezone) for t in callback.promised_window or ()]
            if callback.kind == "asap"
            else None,
            events=events,
            calls=calls,
            texts=texts,
            local=lambda instant: _local(instant, queue.timezone),
            times=[(t.isoformat(), _local(t, queue.timezone)) for t in times],
            can_act=callback.state in DIALABLE_NOW,
            state_name=state_name,
            source_name=source_name,
            kind_name=kind_name,
            step_name=lambda step: _named(STEP_NAMES, step),
            attribution_name=lambda key: (
                _named(ATTRIBUTION_NAMES, key) if key in ATTRIBUTION_NAMES else key.replace("_", " ")
            ),
            error=error,
        )
    return html, status


def _slots_ready(queue: Queue, now: datetime) -> bool:
    from services.slot_sync import slots_are_current

    return slots_are_current(queue, now)


def _act(ref: str, action: Any) -> ResponseReturnValue:
    try:
        with context.db().write() as session:
            action(session)
    except DomainError as error:
        return _detail(ref, error_text(error), http_status(error))
    return redirect(url_for("console.callback_detail", ref=ref), 303)


@console.post("/callbacks/<ref>/cancel")
@requires("supervisor")
def callback_cancel(ref: str) -> ResponseReturnValue:
    return _act(ref, lambda s: cancel(s, ref, context.now(), _actor(), reason="cancelled by a supervisor"))


@console.post("/callbacks/<ref>/reschedule")
@requires("supervisor")
def callback_reschedule(ref: str) -> ResponseReturnValue:
    try:
        start = parse_instant(request.form.get("slot_start", ""))
    except ValueError:
        return _detail(ref, _("Choose a time to move the callback to."), 422)
    return _act(ref, lambda s: reschedule(s, ref, start, context.now(), _actor()))


@console.post("/callbacks/<ref>/dial-now")
@requires("supervisor")
def callback_dial_now(ref: str) -> ResponseReturnValue:
    """Due now: the dialer rings it on its next pass (its seat stays where it is)."""

    def dial_now(session: Session) -> None:
        callback = get_callback(session, ref, for_update=True)
        if callback.state not in DIALABLE_NOW:
            raise NotDialable(f"a callback that is {callback.state} cannot be dialled now")
        now = context.now()
        record_event(session, callback, "dial_now", callback.state, callback.state, now, _actor(), "dial now")
        callback.next_attempt_at = now
        callback.updated_at = now

    return _act(ref, dial_now)


@console.post("/callbacks/<ref>/note")
@requires("supervisor")
def callback_note(ref: str) -> ResponseReturnValue:
    text = request.form.get("note", "").strip()[:NOTE_MAX]
    if not text:
        return _detail(ref, _("Write the note first."), 422)

    def note(session: Session) -> None:
        callback = get_callback(session, ref, for_update=True)
        record_event(session, callback, "note", callback.state, callback.state, context.now(), _actor(), text)

    return _act(ref, note)

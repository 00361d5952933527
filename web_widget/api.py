"""JSON API v1: queues, availability, callbacks. Views parse and answer; the rules live elsewhere."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from functools import partial
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Response, current_app, jsonify, request
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.protection import check_phone, request_actor, request_api_key, require_admin_key, require_api_key
from app.request_input import json_body, parse_instant, parse_query_date, parse_query_int
from infra import context
from infra.models import Attempt, Callback, Queue
from infra.text_models import SmsMessage
from scheduler.agents import AgentFigures, callers_in_line
from scheduler.attribution import kept
from scheduler.calendar import is_open, weekly_schedule
from scheduler.errors import LinkInvalid, LinkUsed, QueueNotFound, ValidationFailed
from scheduler.phone import mask_phone, parse_phone
from services import agent_figures, centre_switches
from services.availability_cache import SlotLists
from services.booking_service import BookingRequest, book, cancel, get_callback, prepare_booking, reschedule
from services.idempotency import run_once
from services.links import BookingLink, is_used, link_callback, read_booking_token, reschedule_with_link
from services.personal_data import erase_person, export_person
from services.queues import get_queue, queue_calendar
from sms.service import confirm_new_booking
from web_widget.schemas import AgentFiguresBody, CreateCallback, Reschedule, SwitchesBody, validate
from web_widget.web_booking import web_form_problems, web_tags

api = Blueprint("api", __name__, url_prefix="/api/v1")


@api.before_request
def _identify() -> None:
    request_api_key()  # a wrong key is refused before anything else (401)


OPENAPI_PATH = Path(__file__).with_name("openapi.json")
DEFAULT_DAYS = 7


def _iso(instant: datetime | None, zone: ZoneInfo) -> str | None:
    return instant.astimezone(zone).isoformat() if instant else None


def callback_json(callback: Callback) -> dict[str, Any]:
    zone = ZoneInfo(callback.queue.timezone)
    slot = callback.slot
    return {
        "ref": callback.ref,
        "state": callback.state,
        "queue": callback.queue.key,
        "phone": callback.phone,
        "kind": callback.kind,
        "slot_start": _iso(slot.starts_at, zone) if slot else None,
        "slot_end": _iso(slot.ends_at, zone) if slot else None,
        "due_at": _iso(callback.next_attempt_at, zone),
        "estimated_call_at": _window(callback, zone),
        "name": callback.name,
        "fields": callback.fields,
        "tags": callback.tags,
        "unit": callback.unit,
        "locale": callback.locale,
        "sms_consent": callback.sms_consent,
        "sms_consent_channel": callback.sms_consent_channel,
        "sms_consent_at": _iso(callback.sms_consent_at, zone),
        "sms_consent_wording": callback.sms_consent_wording,
        "source": callback.source,
        "attribution": callback.attribution,
        "attempts": callback.attempts,
        "created_at": _iso(callback.created_at, zone),
    }


def _window(callback: Callback, zone: ZoneInfo) -> dict[str, str | None] | None:
    """The range we said we would call in, while it holds (Callback.promised_window)."""
    window = callback.promised_window
    if window is None:
        return None
    return {"earliest": _iso(window[0], zone), "latest": _iso(window[1], zone)}


@api.get("/openapi.json")
def openapi() -> Response:
    return Response(OPENAPI_PATH.read_bytes(), mimetype="application/json")


@api.get("/queues/<key>")
def show_queue(key: str) -> Response:
    with context.db().read() as session:
        queue = get_queue(session, key)
        calendar = queue_calendar(queue)
        return jsonify(
            {
                "key": queue.key,
                "name": queue.name,
                "timezone": queue.timezone,
                "language": queue.language,
                "region": queue.region,
                "open_now": is_open(calendar, context.now()),
                "collect_off_hours": queue.collect_off_hours,
                "lead_minutes": queue.lead_minutes,
                "horizon_days": queue.horizon_days,
                "schedule": weekly_schedule(calendar),
                "widget": public_widget_settings(queue),
            }
        )


def agent_figures_json(queue: Queue, figures: AgentFigures | None, now: datetime) -> dict[str, Any]:
    max_age = context.settings().agent_figures_max_age
    used = agent_figures.staffing_of(queue, figures, now, max_age)
    zone = ZoneInfo(queue.timezone)
    return {
        "queue": queue.key,
        "live": used.live,
        "reported": None
        if figures is None
        else {
            "signed_in": figures.signed_in,
            "available": figures.available,
            "average_handle_seconds": figures.average_handle_seconds,
            "longest_wait_seconds": figures.longest_wait_seconds,
            "callers_waiting": figures.callers_waiting,
            "at": _iso(figures.reported_at, zone),
            "source": figures.source,
        },
        "max_age_seconds": int(max_age.total_seconds()),
        "static": {"agents": queue.agents, "average_handle_seconds": queue.average_handle_seconds},
        "used": {
            "agents": used.agents,
            "available": used.available,
            "average_handle_seconds": used.average_handle_seconds,
            "callers_waiting": callers_in_line(queue.callers_waiting, used),
        },
    }


@api.put("/queues/<key>/agents")
def put_agent_figures(key: str) -> Response:
    """A queue's live agent figures, pushed by an ACD or WFM tool (any API key)."""
    require_api_key()
    body = validate(AgentFiguresBody, json_body(request))
    now = context.now()
    figures = AgentFigures(
        signed_in=body.signed_in,
        available=body.available,
        average_handle_seconds=body.average_handle_seconds,
        longest_wait_seconds=body.longest_wait_seconds,
        reported_at=parse_instant(body.at) if body.at is not None else now,
        source="push",
        callers_waiting=body.callers_waiting,
    )
    with context.db().write() as session:
        queue = get_queue(session, key)
        agent_figures.report(session, queue, figures, now)
        return jsonify(agent_figures_json(queue, agent_figures.latest(session, queue), now))


@api.get("/queues/<key>/agents")
def show_agent_figures(key: str) -> Response:
    """The figures last reported, whether they are fresh enough to use, and what is used."""
    require_api_key()
    now = context.now()
    with context.db().read() as session:
        queue = get_queue(session, key)
        return jsonify(agent_figures_json(queue, agent_figures.latest(session, queue), now))


def switches_json(switches: centre_switches.Switches) -> dict[str, Any]:
    return {
        **switches.as_dict(),
        "changed_at": switches.changed_at.isoformat() if switches.changed_at else None,
        "changed_by": switches.changed_by,
    }


@api.get("/switches")
def show_switches() -> Response:
    """The switches for every queue at once (admin keys)."""
    require_admin_key()
    with context.db().read() as session:
        return jsonify(switches_json(centre_switches.current(session)))


@api.put("/switches")
def put_switches() -> Response:
    """Take new callbacks / dial the waiting ones, in every queue at once (admin keys), audited."""
    require_admin_key()
    body = validate(SwitchesBody, json_body(request))
    with context.db().write() as session:
        switches = centre_switches.change(
            session, body.register_enabled, body.process_enabled, request_actor("api"), context.now()
        )
        return jsonify(switches_json(switches))


def public_widget_settings(queue: Queue) -> dict[str, Any]:
    """What a visitor's form needs (never the allowed origins or blocked numbers)."""
    widget = queue.widget or {}
    return {
        "fields": [{"required": False, **f} for f in widget.get("fields", [])],
        "units": list(widget.get("units", [])),
    }


@api.get("/queues/<key>/slots")
def list_slots(key: str) -> Response:
    """Bookable slots with seats left: the answer kept by this process while the queue's
    availability version holds (services/availability_cache.py), one indexed read per
    request; ``ETag`` and ``If-None-Match`` give a 304 without the body."""
    first_day = parse_query_date(request.args.get("from"), "from")
    days = parse_query_int(request.args.get("days"), "days", DEFAULT_DAYS)
    lists: SlotLists = current_app.extensions["slot_lists"]
    dumps = partial(current_app.json.dumps, separators=(",", ":"))  # as compact as jsonify's
    answer = lists.answer(context.db(), key, context.now(), first_day, days, dumps)
    response = Response(answer.body, mimetype="application/json")
    response.set_etag(answer.etag)
    response.headers["Cache-Control"] = "no-cache"  # kept by a browser, asked again each time (304)
    response.make_conditional(request)  # 304 without the body when If-None-Match has the ETag
    return response


def _answer(status: int, body: dict[str, Any]) -> Response:
    response = jsonify(body)
    response.status_code = status
    if status == 201:
        response.headers["Location"] = f"/api/v1/callbacks/{body['ref']}"
    return response


@api.post("/callbacks")
def create_callback() -> Response:
    document = json_body(request)
    body = validate(CreateCallback, document)
    # A browser (the widget, a site's own form) sends Origin; a server with a key does not need to.
    web = request.headers.get("Origin") is not None and request_api_key() is None
    booking = BookingRequest(
        queue=body.queue,
        phone=body.phone,
        kind=body.kind,
        source="web" if web else "api",
        slot_start=body.slot_instant,
        name=body.name or None,
        fields=[f.model_dump() for f in body.fields],
        tags=body.tags,
        unit=body.unit,
        locale=body.locale,
        sms_consent=body.sms_consent,
        attribution=kept(body.attribution.model_dump()) if body.attribution else None,
    )
    now = context.now()
    with context.db().read() as session:  # the reads and checks, outside the write lock
        prepared = prepare_booking(session, booking, now, context.settings().agent_figures_max_age)
        if web:  # the queue's required fields and units, and its web tags
            widget = prepared.queue.widget or {}
            problems = web_form_problems(widget, {f.name: f.value for f in body.fields}, body.unit)
            if problems:
                raise ValidationFailed("some fields are not valid", problems)
            booking = replace(booking, tags=web_tags(widget, booking.tags))
        if not prepared.has_live_callback:  # a duplicate just gets its callback back
            check_phone(session, prepared.queue, prepared.phone, now, per_phone=request_api_key() is None)

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        result = book(session, booking, now, actor=request_actor("api"), prepared=prepared)
        confirm_new_booking(session, result, now, context.settings().caller_id)
        return (201 if result.created else 200), callback_json(result.callback)

    status, answer = run_once(
        context.db(), "POST /callbacks", request.headers.get("Idempotency-Key"), document, now, action
    )
    return _answer(status, answer)


@api.get("/callbacks/<ref>")
def show_callback(ref: str) -> Response:
    with context.db().read() as session:
        return jsonify(callback_json(get_callback(session, ref)))


@api.get("/callbacks/<ref>/texts")
def list_callback_texts(ref: str) -> Response:
    """Its texts in the order they go out (a reminder at its ``send_at``): sent, planned,
    refused or failed, each with what became of it."""
    with context.db().read() as session:
        callback = get_callback(session, ref)
        zone = ZoneInfo(callback.queue.timezone)
        rows = session.scalars(
            select(SmsMessage)
            .where(SmsMessage.callback_id == callback.id)
            .order_by(func.coalesce(SmsMessage.send_at, SmsMessage.created_at), SmsMessage.id)
        )
        return jsonify({"texts": [text_json(m, zone) for m in rows]})


@api.get("/callbacks/<ref>/calls")
def list_callback_calls(ref: str) -> Response:
    """Its calls, oldest first: through which provider each went (and which one it failed
    over from), when it was answered and ended, and how it ended."""
    with context.db().read() as session:
        callback = get_callback(session, ref)
        zone = ZoneInfo(callback.queue.timezone)
        rows = session.scalars(select(Attempt).where(Attempt.callback_id == callback.id).order_by(Attempt.number))
        return jsonify({"calls": [call_json(a, zone) for a in rows]})


def call_json(attempt: Attempt, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "provider": attempt.provider,
        "failover_from": attempt.failover_from,
        "state": attempt.call_state,
        "requested_at": _iso(attempt.requested_at, zone),
        "answered_at": _iso(attempt.answered_at, zone),
        "ended_at": _iso(attempt.ended_at, zone),
        "duration_seconds": attempt.duration_seconds,
        "result": attempt.outcome,
        "answered_by": attempt.answered_by,
    }


def text_json(message: SmsMessage, zone: ZoneInfo) -> dict[str, Any]:
    return {
        "kind": message.kind,
        "status": message.status,
        "to": message.to,
        "body": message.body,
        "send_at": _iso(message.send_at, zone),
        "sent_at": _iso(message.sent_at, zone),
        "status_at": _iso(message.status_at, zone),
        "delivered_at": _iso(message.delivered_at, zone),
        "error": message.error,
        "error_code": message.error_code,
        "created_at": _iso(message.created_at, zone),
    }


@api.delete("/callbacks/<ref>")
def cancel_callback(ref: str) -> Response:
    with context.db().write() as session:
        callback = cancel(session, ref, context.now(), actor=request_actor("api"), reason="cancelled through the API")
        return jsonify(callback_json(callback))


@api.post("/callbacks/<ref>/reschedule")
def reschedule_callback(ref: str) -> Response:
    document = json_body(request)
    body = validate(Reschedule, document)
    now = context.now()

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        callback = reschedule(session, ref, parse_instant(body.slot_start), now, actor=request_actor("api"))
        return 200, callback_json(callback)

    status, answer = run_once(
        context.db(),
        f"POST /callbacks/{ref.upper()}/reschedule",
        request.headers.get("Idempotency-Key"),
        document,
        now,
        action,
    )
    return _answer(status, answer)


def _person_phone(raw: str) -> str:
    """A path's number in E.164 (national numbers read in the region of the query's
    ``region``, else GB)."""
    region = (request.args.get("region") or "GB").strip().upper()
    if len(region) != 2 or not region.isalpha():
        raise ValidationFailed("region must be a two-letter country code", {"region": "invalid"})
    return parse_phone(raw, region)


@api.get("/people/<phone>")
def export_person_data(phone: str) -> Response:
    """Everything stored about a number (a subject access request): admin keys only."""
    require_admin_key()
    number = _person_phone(phone)
    with context.db().read() as session:
        return jsonify(export_person(session, number, context.settings().secret_key))


@api.delete("/people/<phone>")
def erase_person_data(phone: str) -> Response:
    """Erase a number: its live callbacks cancelled, everything anonymised but its opt-out."""
    require_admin_key()
    number = _person_phone(phone)
    with context.db().write() as session:
        counts = erase_person(session, number, context.now(), request_actor("api"), context.settings().secret_key)
    return jsonify({"erased": counts})


def _read_link(token: str) -> BookingLink:
    return read_booking_token(context.settings().secret_key, token, context.now())


@api.get("/booking-links/<token>")
def show_booking_link(token: str) -> Response:
    """What the booking page needs to know about the link it was opened with."""
    link = _read_link(token)
    with context.db().read() as session:
        try:
            queue = get_queue(session, link.queue)
        except QueueNotFound:
            raise LinkInvalid("this link is not valid", {"reason": "no such queue"}) from None
        callback = None
        if link.is_reschedule:
            if is_used(session, link):
                raise LinkUsed("this link has already been used to move the callback", {"ref": link.ref})
            callback = link_callback(session, link)
        zone = ZoneInfo(queue.timezone)
        return jsonify(
            {
                "queue": queue.key,
                "phone": link.phone,
                "phone_masked": mask_phone(link.phone),
                "language": (callback.locale if callback else None) or queue.language,
                "reschedule": link.is_reschedule,
                "expires_at": _iso(link.expires_at, zone),
                "callback": callback_json(callback) if callback else None,
            }
        )


@api.post("/booking-links/<token>/reschedule")
def reschedule_with_booking_link(token: str) -> Response:
    link = _read_link(token)
    if not link.is_reschedule:
        raise LinkInvalid("this link books a new callback; it does not move one", {"reason": "not a reschedule link"})
    document = json_body(request)
    body = validate(Reschedule, document)
    now = context.now()

    def action(session: Session) -> tuple[int, dict[str, Any]]:
        callback = reschedule_with_link(session, link, parse_instant(body.slot_start), now)
        return 200, callback_json(callback)

    status, answer = run_once(
        context.db(),
        f"POST /booking-links/{link.nonce}/reschedule",
        request.headers.get("Idempotency-Key"),
        document,
        now,
        action,
    )
    return _answer(status, answer)


def openapi_document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    return loaded

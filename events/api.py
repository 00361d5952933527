"""JSON API v1 for event subscriptions and the delivery log: admin API keys only.

The same prefix, error answers and per-address limit as the booking API
(web_widget/api.py); every route first requires an admin key (403
``admin_key_required``). The rules live in events/subscriptions.py and events/log.py; a
URL whose host is or resolves to an internal address, and is not in
EVENT_TARGETS_ALLOWED, is answered ``422 target_not_allowed`` (events/address_rules.py).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, jsonify, request

from app.protection import request_actor, require_admin_key
from app.request_input import json_body, parse_instant
from events import log, subscriptions
from events.log import DeliveryView, LogFilter
from events.subscriptions import Saved, SubscriptionInvalid
from events.targets import app_targets
from infra import context
from infra.event_models import EventSubscription
from scheduler.errors import ValidationFailed

events_api = Blueprint("events_api", __name__, url_prefix="/api/v1")


@events_api.before_request
def _admin_only() -> None:
    require_admin_key()  # a wrong key: 401 first, as everywhere; no key or a client key: 403


def _iso(instant: datetime | None) -> str | None:
    return instant.astimezone(UTC).isoformat() if instant else None


def subscription_json(subscription: EventSubscription, queue_key: str | None) -> dict[str, Any]:
    return {
        "id": subscription.id,
        "name": subscription.name,
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "format": subscription.format,
        "queue": queue_key,
        "active": subscription.active,
        "secret_hint": subscriptions.secret_hint(subscription.secret),
        "created_by": subscription.created_by,
        "created_at": _iso(subscription.created_at),
        "updated_at": _iso(subscription.updated_at),
    }


# event_subscription.id is a 32-bit INTEGER on PostgreSQL: a larger id overflows it (a 500).
MAX_SUBSCRIPTION_ID = 2**31 - 1


def _path_id(raw: str, at_most: int = 2**62) -> int:
    """A path's id for the lookups. One no row could have (a word, a sign, more than its
    column holds) is looked up as 0, which no row has: 404 ``subscription_not_found`` /
    ``delivery_not_found`` as documented, not the router's ``not_found``, nor a 500 from
    the database's integer overflow."""
    return int(raw) if raw.isascii() and raw.isdigit() and len(raw) <= 19 and int(raw) <= at_most else 0


def _subscription_id(raw: str) -> int:
    return _path_id(raw, MAX_SUBSCRIPTION_ID)


def _saved_json(saved: Saved) -> dict[str, Any]:
    body = subscription_json(saved.subscription, saved.queue_key)
    if saved.new_secret is not None:  # shown this once
        body["secret"] = saved.new_secret
    return body


def delivery_json(delivery: DeliveryView) -> dict[str, Any]:
    return {
        "id": delivery.id,
        "subscription": {"id": delivery.subscription_id, "name": delivery.subscription_name},
        "event_id": delivery.event_id,
        "event_type": delivery.event_type,
        "event_at": _iso(delivery.event_at),
        "callback_ref": delivery.callback_ref,
        "status": delivery.status,
        "attempts_in_round": delivery.attempts,
        "next_attempt_at": _iso(delivery.next_attempt_at) if delivery.status == "pending" else None,
        "created_at": _iso(delivery.created_at),
        "settled_at": _iso(delivery.settled_at),
        "attempts": [
            {
                "at": _iso(a.at),
                "http_status": a.http_status,
                "error": a.error,
                "duration_ms": a.duration_ms,
                "succeeded": a.succeeded,
            }
            for a in delivery.log
        ],
    }


def _object_body() -> dict[str, Any]:
    document = json_body(request)
    if not isinstance(document, dict):
        raise SubscriptionInvalid("the body must be a JSON object", {"body": "expected an object"})
    return document


@events_api.get("/subscriptions")
def list_subscriptions() -> Response:
    with context.db().read() as session:
        rows = subscriptions.list_subscriptions(session)
        return jsonify({"subscriptions": [subscription_json(s, key) for s, key in rows]})


@events_api.post("/subscriptions")
def create_subscription() -> Response:
    fields = _object_body()
    targets = app_targets(fields.get("url"))  # DNS before the transaction
    with context.db().write() as session:
        saved = subscriptions.create_subscription(session, fields, request_actor("api"), context.now(), targets)
        response = jsonify(_saved_json(saved))
    response.status_code = 201
    response.headers["Location"] = f"/api/v1/subscriptions/{saved.subscription.id}"
    response.headers["Cache-Control"] = "no-store"  # it holds the secret
    return response


@events_api.get("/subscriptions/<subscription_id>")
def show_subscription(subscription_id: str) -> Response:
    with context.db().read() as session:
        subscription = subscriptions.get_subscription(session, _subscription_id(subscription_id))
        return jsonify(subscription_json(subscription, subscriptions.queue_key_of(session, subscription)))


@events_api.patch("/subscriptions/<subscription_id>")
def change_subscription(subscription_id: str) -> Response:
    fields = _object_body()
    targets = app_targets(fields.get("url"))  # DNS before the transaction
    with context.db().write() as session:
        saved = subscriptions.update_subscription(
            session, _subscription_id(subscription_id), fields, request_actor("api"), context.now(), targets
        )
        response = jsonify(_saved_json(saved))
    if saved.new_secret is not None:
        response.headers["Cache-Control"] = "no-store"
    return response


@events_api.delete("/subscriptions/<subscription_id>")
def delete_subscription(subscription_id: str) -> Response:
    with context.db().write() as session:
        saved = subscriptions.delete_subscription(
            session, _subscription_id(subscription_id), request_actor("api"), context.now()
        )
        return jsonify(subscription_json(saved.subscription, saved.queue_key))


def _query_instant(name: str, problems: dict[str, str]) -> datetime | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    try:
        return parse_instant(raw)
    except ValueError as exc:
        problems[name] = str(exc)
        return None


def _query_id(name: str, problems: dict[str, str], *, at_most: int = 2**62) -> int | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18 or not 1 <= int(raw) <= at_most:
        problems[name] = "expected a whole number" + (f" from 1 to {at_most}" if at_most < 2**62 else "")
        return None
    return int(raw)


def read_log_query() -> tuple[LogFilter, int, int | None]:
    """The log's filter, page size and cursor from the query string; every problem at once."""
    problems: dict[str, str] = {}
    since = _query_instant("from", problems)
    until = _query_instant("until", problems)
    subscription_id = _query_id("subscription", problems, at_most=MAX_SUBSCRIPTION_ID)
    limit = _query_id("limit", problems, at_most=log.MAX_LIMIT)
    cursor = _query_id("cursor", problems)
    status = request.args.get("status") or None
    if status is not None and status not in log.STATUSES:
        problems["status"] = " or ".join(log.STATUSES)
    if since is not None and until is not None and until <= since:
        problems["until"] = "must be after from"
    if problems:
        raise ValidationFailed("some query parameters are not valid", problems)
    return LogFilter(subscription_id, status, since, until), limit or log.DEFAULT_LIMIT, cursor


@events_api.get("/deliveries")
def list_deliveries() -> Response:
    log_filter, limit, cursor = read_log_query()
    with context.db().read() as session:
        page = log.list_deliveries(session, log_filter, limit, cursor)
    return jsonify(
        {
            "deliveries": [delivery_json(d) for d in page.deliveries],
            "next_cursor": str(page.next_cursor) if page.next_cursor is not None else None,
        }
    )


@events_api.post("/deliveries/<delivery_id>/redeliver")
def redeliver(delivery_id: str) -> Response:
    number = _path_id(delivery_id)
    with context.db().write() as session:
        log.redeliver(session, number, context.now(), request_actor("api"))
    with context.db().read() as session:
        response = jsonify(delivery_json(log.get_delivery(session, number)))
    response.status_code = 202
    return response

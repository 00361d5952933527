"""Event subscriptions and the delivery log through the JSON API (admin keys only)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.factory import create_app
from infra.account_models import AuditEntry
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent
from infra.models import Callback
from infra.settings import Settings
from services.accounts import new_api_key
from tests.integration.helpers import book

HOOK = "https://crm.example.com/hooks/callbacks"


def make_key(db: Database, clock: FixedClock, role: str) -> dict[str, str]:
    with db.write() as session:
        key, _ = new_api_key(session, f"{role} key", "admin@example.com", clock.now(), role=role)
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def admin(db: Database, clock: FixedClock) -> dict[str, str]:
    return make_key(db, clock, "admin")


def subscribe(client: FlaskClient, admin: dict[str, str], **fields: Any) -> Any:
    body = {"name": "CRM", "url": HOOK, "event_types": ["callback.created"], **fields}
    answer = client.post("/api/v1/subscriptions", json=body, headers=admin)
    assert answer.status_code == 201, answer.get_json()
    return answer.get_json()


def add_delivery(
    db: Database,
    subscription_id: int,
    created_at: datetime,
    status: str = "pending",
    attempts: list[tuple[datetime, int | None]] = (),  # type: ignore[assignment]
    callback_ref: str | None = None,
    event_type: str = "callback.created",
) -> int:
    """An event and its delivery as the outbox and the sender would leave them."""
    with db.write() as session:
        callback_id = session.scalar(select(Callback.id).where(Callback.ref == callback_ref)) if callback_ref else None
        count = session.scalar(select(OutboxEvent.id).order_by(OutboxEvent.id.desc()).limit(1)) or 0
        event = OutboxEvent(
            event_id=f"00000000-0000-4000-8000-{count + 1:012d}",
            type=event_type,
            at=created_at,
            callback_id=callback_id,
            data={},
            fanned_out=True,
        )
        session.add(event)
        session.flush()
        delivery = EventDelivery(
            subscription_id=subscription_id,
            outbox_id=event.id,
            callback_id=callback_id,
            status=status,
            attempts=len(attempts),
            next_attempt_at=created_at if status == "pending" else None,
            created_at=created_at,
            settled_at=attempts[-1][0] if status != "pending" and attempts else None,
        )
        session.add(delivery)
        session.flush()
        for at, http_status in attempts:
            session.add(
                DeliveryAttempt(
                    delivery_id=delivery.id,
                    subscription_id=subscription_id,
                    at=at,
                    http_status=http_status,
                    error=None if http_status else "connection_refused",
                    duration_ms=120,
                    succeeded=http_status is not None and 200 <= http_status < 300,
                )
            )
        return delivery.id


def test_an_admin_key_creates_lists_reads_changes_and_deletes_a_subscription(
    client: FlaskClient, admin: dict[str, str], demo_queue: str, db: Database
) -> None:
    made = subscribe(
        client,
        admin,
        event_types=["callback.created", "callback.cancelled", "callback.created"],
        format="xml",
        queue="support",
    )
    assert made["secret"].startswith("whsec_") and len(made["secret"]) > 40
    assert made["secret_hint"] == made["secret"][:10] + "…"
    assert (made["event_types"], made["format"], made["queue"], made["active"]) == (
        ["callback.created", "callback.cancelled"],
        "xml",
        "support",
        True,
    )
    assert made["created_by"] == "api-key:admin key"
    url = f"/api/v1/subscriptions/{made['id']}"

    shown = client.get(url, headers=admin).get_json()
    assert "secret" not in shown and shown["secret_hint"] == made["secret_hint"]
    listed = client.get("/api/v1/subscriptions", headers=admin).get_json()["subscriptions"]
    assert [s["id"] for s in listed] == [made["id"]] and "secret" not in listed[0]

    changed = client.patch(url, json={"active": False, "queue": None, "name": "CRM (paused)"}, headers=admin)
    assert changed.status_code == 200
    assert (changed.get_json()["active"], changed.get_json()["queue"], changed.get_json()["name"]) == (
        False,
        None,
        "CRM (paused)",
    )
    assert "secret" not in changed.get_json()

    rotated = client.patch(url, json={"secret": "rotate"}, headers=admin).get_json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != made["secret"]
    given = client.patch(url, json={"secret": "a-secret-of-my-own-choosing"}, headers=admin).get_json()
    assert given["secret"] == "a-secret-of-my-own-choosing" and given["secret_hint"] == "a-se…"
    with db.read() as session:
        assert session.get_one(EventSubscription, made["id"]).secret == "a-secret-of-my-own-choosing"

    assert client.delete(url, headers=admin).get_json()["id"] == made["id"]
    missing = client.get(url, headers=admin)
    assert (missing.status_code, missing.get_json()["type"]) == (404, "subscription_not_found")
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
        secrets_in_log = [str(e.after) for e in session.scalars(select(AuditEntry))]
    assert actions == [
        "subscription.create",
        "subscription.change",
        "subscription.change",
        "subscription.change",
        "subscription.delete",
    ]
    assert not any(made["secret"] in text or "my-own-choosing" in text for text in secrets_in_log)


@pytest.mark.parametrize(
    ("request_", "path"),
    [
        ("get", "/api/v1/subscriptions"),
        ("post", "/api/v1/subscriptions"),
        ("get", "/api/v1/subscriptions/1"),
        ("patch", "/api/v1/subscriptions/1"),
        ("delete", "/api/v1/subscriptions/1"),
        ("get", "/api/v1/deliveries"),
        ("post", "/api/v1/deliveries/1/redeliver"),
    ],
)
def test_a_client_key_or_no_key_gets_403_and_a_wrong_key_401(
    client: FlaskClient, db: Database, clock: FixedClock, request_: str, path: str
) -> None:
    client_key = make_key(db, clock, "client")
    for headers in (client_key, {}):
        answer = client.open(path, method=request_.upper(), json={}, headers=headers)
        assert (answer.status_code, answer.get_json()["type"]) == (403, "admin_key_required")
    wrong = client.open(path, method=request_.upper(), json={}, headers={"Authorization": "Bearer cbk_nope"})
    assert (wrong.status_code, wrong.get_json()["type"]) == (401, "api_key_invalid")


@pytest.mark.parametrize(
    ("fields", "problems"),
    [
        ({}, {"name", "url", "event_types"}),
        ({"name": "", "url": "ftp://crm.example.com/", "event_types": []}, {"name", "url", "event_types"}),
        ({"name": "x" * 101, "url": "/relative", "event_types": ["callback.made"]}, {"name", "url", "event_types"}),
        ({"name": "CRM", "url": HOOK, "event_types": ["callback.created"], "format": "csv"}, {"format"}),
        ({"name": "CRM", "url": HOOK, "event_types": ["callback.created"], "queue": "nope"}, {"queue"}),
        ({"name": "CRM", "url": HOOK, "event_types": ["callback.created"], "secret": "short"}, {"secret"}),
        ({"name": "CRM", "url": HOOK, "event_types": ["callback.created"], "active": "yes"}, {"active"}),
        ({"name": "CRM", "url": HOOK, "event_types": "callback.created", "colour": "red"}, {"event_types", "colour"}),
        ({"name": "CRM", "url": "https://" + "a" * 500 + ".example.com/", "event_types": ["sms.received"]}, {"url"}),
    ],
)
def test_invalid_fields_are_refused_each_by_name(
    client: FlaskClient, admin: dict[str, str], demo_queue: str, fields: dict[str, Any], problems: set[str]
) -> None:
    answer = client.post("/api/v1/subscriptions", json=fields, headers=admin)
    assert (answer.status_code, answer.get_json()["type"]) == (422, "subscription_invalid")
    assert set(answer.get_json()["details"]) == problems
    assert client.get("/api/v1/subscriptions", headers=admin).get_json()["subscriptions"] == []


def test_a_change_is_checked_like_a_creation(client: FlaskClient, admin: dict[str, str]) -> None:
    made = subscribe(client, admin, url="http://crm.example.com:8080/hook")  # http is allowed
    url = f"/api/v1/subscriptions/{made['id']}"
    answer = client.patch(url, json={"url": "mailto:crm@example.com", "event_types": []}, headers=admin)
    assert (answer.status_code, answer.get_json()["type"]) == (422, "subscription_invalid")
    assert set(answer.get_json()["details"]) == {"url", "event_types"}
    assert client.get(url, headers=admin).get_json()["url"] == "http://crm.example.com:8080/hook"
    assert client.patch("/api/v1/subscriptions/999", json={}, headers=admin).status_code == 404


def test_deliveries_are_listed_with_their_attempts_and_filtered(
    client: FlaskClient, admin: dict[str, str], demo_queue: str, db: Database, clock: FixedClock
) -> None:
    ref = book(client, 1).get_json()["ref"]
    crm = subscribe(client, admin)["id"]
    other = subscribe(client, admin, name="Other")["id"]
    t0 = clock.now() - timedelta(days=2)
    old_retried = add_delivery(
        db,
        crm,
        t0,
        "failed",
        [(t0, 500), (t0 + timedelta(minutes=5), None), (clock.now() - timedelta(hours=1), 503)],
        callback_ref=ref,
    )
    old_done = add_delivery(db, crm, t0, "delivered", [(t0, 200)])
    today = add_delivery(db, other, clock.now() - timedelta(minutes=30), "pending")

    every = client.get("/api/v1/deliveries", headers=admin).get_json()
    assert [d["id"] for d in every["deliveries"]] == [today, old_done, old_retried] and every["next_cursor"] is None
    first = every["deliveries"][2]
    assert (first["event_type"], first["callback_ref"], first["status"], first["subscription"]["id"]) == (
        "callback.created",
        ref,
        "failed",
        crm,
    )
    assert [(a["http_status"], a["error"], a["succeeded"]) for a in first["attempts"]] == [
        (500, None, False),
        (None, "connection_refused", False),
        (503, None, False),
    ]
    assert first["attempts"][0]["at"] == t0.isoformat() and first["attempts"][0]["duration_ms"] == 120

    def ids(**query: str) -> list[int]:
        answer = client.get("/api/v1/deliveries", query_string=query, headers=admin)
        assert answer.status_code == 200, answer.get_json()
        return [d["id"] for d in answer.get_json()["deliveries"]]

    since = (clock.now() - timedelta(hours=2)).isoformat()
    assert ids(**{"from": since}) == [today, old_retried]  # made, or attempted, since then
    assert ids(until=(t0 + timedelta(minutes=1)).isoformat()) == [old_done, old_retried]
    assert ids(**{"from": (t0 + timedelta(minutes=1)).isoformat(), "until": since}) == [old_retried]
    assert ids(subscription=str(crm)) == [old_done, old_retried]
    assert ids(**{"from": since, "subscription": str(crm)}) == [old_retried]
    assert ids(**{"from": since, "subscription": str(other)}) == [today]
    assert ids(status="pending") == [today]
    assert ids(status="failed", subscription=str(other)) == []

    page = client.get("/api/v1/deliveries?limit=2", headers=admin).get_json()
    assert [d["id"] for d in page["deliveries"]] == [today, old_done] and page["next_cursor"] == str(old_done)
    assert ids(limit="2", cursor=page["next_cursor"]) == [old_retried]


@pytest.mark.parametrize(
    ("query", "problems"),
    [
        ({"from": "2027-01-04T10:00:00"}, {"from"}),
        ({"from": "yesterday", "until": "2027-01-04"}, {"from", "until"}),
        ({"status": "lost", "limit": "0", "cursor": "x"}, {"status", "limit", "cursor"}),
        ({"limit": "201", "subscription": "-1"}, {"limit", "subscription"}),
        ({"from": "2027-01-04T10:00:00Z", "until": "2027-01-04T09:00:00Z"}, {"until"}),
    ],
)
def test_bad_log_queries_are_refused_with_each_parameter_named(
    client: FlaskClient, admin: dict[str, str], query: dict[str, str], problems: set[str]
) -> None:
    answer = client.get("/api/v1/deliveries", query_string=query, headers=admin)
    assert (answer.status_code, answer.get_json()["type"]) == (422, "validation_error")
    assert set(answer.get_json()["details"]) == problems


def test_redeliver_puts_a_failed_delivery_back_to_pending_and_leaves_a_pending_one(
    client: FlaskClient, admin: dict[str, str], db: Database, clock: FixedClock
) -> None:
    crm = subscribe(client, admin)["id"]
    t0 = clock.now() - timedelta(hours=3)
    failed = add_delivery(db, crm, t0, "failed", [(t0, 500), (t0 + timedelta(minutes=5), 500)])
    pending = add_delivery(db, crm, t0, "pending")

    answer = client.post(f"/api/v1/deliveries/{failed}/redeliver", headers=admin)
    assert answer.status_code == 202
    body = answer.get_json()
    assert (body["status"], body["attempts_in_round"], body["next_attempt_at"], body["settled_at"]) == (
        "pending",
        0,
        clock.now().isoformat(),
        None,
    )
    assert len(body["attempts"]) == 2  # the log is kept
    with db.read() as session:
        row = session.get_one(EventDelivery, failed)
        assert (row.status, row.attempts, row.next_attempt_at, row.lease_until) == ("pending", 0, clock.now(), None)

    again = client.post(f"/api/v1/deliveries/{pending}/redeliver", headers=admin)
    assert again.status_code == 202 and again.get_json()["next_attempt_at"] == t0.isoformat()
    missing = client.post("/api/v1/deliveries/999/redeliver", headers=admin)
    assert (missing.status_code, missing.get_json()["type"]) == (404, "delivery_not_found")
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action).where(AuditEntry.action.like("event_delivery%"))).all()
    assert actions == ["event_delivery.redeliver"]


def test_deleting_a_subscription_deletes_its_deliveries_and_their_log(
    client: FlaskClient, admin: dict[str, str], db: Database, clock: FixedClock
) -> None:
    crm = subscribe(client, admin)["id"]
    add_delivery(db, crm, clock.now(), "delivered", [(clock.now(), 204)])
    assert client.delete(f"/api/v1/subscriptions/{crm}", headers=admin).status_code == 200
    with db.read() as session:
        assert session.scalars(select(EventDelivery)).all() == []
        assert session.scalars(select(DeliveryAttempt)).all() == []


def test_an_admin_key_is_not_limited_per_address(settings: Settings, clock: FixedClock) -> None:
    app: Flask = create_app(settings.with_overrides(api_rate_limit="1/minute"), clock)
    client = app.test_client()
    admin = make_key(app.extensions["db"], clock, "admin")
    codes = [client.get("/api/v1/subscriptions", headers=admin).status_code for _ in range(3)]
    assert codes == [200, 200, 200]
    assert [client.get("/api/v1/subscriptions").status_code for _ in range(2)] == [403, 429]
    app.extensions["db"].dispose()

"""The console's event pages: subscriptions (admins manage them) and the delivery log."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import AuditEntry
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import EventDelivery, EventSubscription
from tests.integration.helpers import book
from tests.integration.test_console_access import SignedIn, csrf, signed_in, users
from tests.integration.test_events_api import add_delivery

__all__ = ["signed_in", "users"]  # fixtures

HOOK = "https://crm.example.com/hooks"


def shown_secret(html: str) -> str:
    found = re.search(r'id="new-secret">([^<]+)<', html)
    assert found, html
    return found.group(1)


def test_an_admin_subscribes_a_receiver_and_sees_the_secret_once(
    signed_in: SignedIn, db: Database, demo_queue: str
) -> None:
    admin = signed_in("admin")
    token = csrf(admin, "/console/events")
    made = admin.post(
        "/console/events",
        data={
            "csrf_token": token,
            "name": "Acme CRM",
            "url": HOOK,
            "event_types": ["callback.created", "callback.completed"],
            "format": "xml",
            "queue": "support",
            "secret": "",
        },
    )
    assert made.status_code == 201 and made.headers["Cache-Control"] == "no-store"
    secret = shown_secret(made.get_data(as_text=True))
    with db.read() as session:
        row = session.scalars(select(EventSubscription)).one()
        assert (row.name, row.secret, row.event_types, row.format, row.created_by) == (
            "Acme CRM",
            secret,
            ["callback.created", "callback.completed"],
            "xml",
            "admin@example.com",
        )
    listed = admin.get("/console/events")
    html = listed.get_data(as_text=True)
    assert listed.headers["Cache-Control"] == "no-store"
    assert secret not in html and secret[:10] in html and "Acme CRM" in html and "support" in html


def test_a_subscription_form_with_mistakes_says_what_is_wrong(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    token = csrf(admin, "/console/events")
    answer = admin.post("/console/events", data={"csrf_token": token, "name": "CRM", "url": "crm.example.com"})
    html = answer.get_data(as_text=True)
    assert answer.status_code == 422
    assert "must be an absolute http:// or https:// URL" in html and "choose at least one event type" in html
    assert 'value="CRM"' in html  # the form keeps what was typed
    with db.read() as session:
        assert session.scalars(select(EventSubscription)).all() == []


def test_an_admin_edits_pauses_rotates_and_deletes_a_subscription(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    token = csrf(admin, "/console/events")
    made = admin.post(
        "/console/events",
        data={"csrf_token": token, "name": "CRM", "url": HOOK, "event_types": ["callback.created"]},
    )
    first_secret = shown_secret(made.get_data(as_text=True))
    with db.read() as session:
        sub_id = session.scalars(select(EventSubscription.id)).one()

    form = admin.get(f"/console/events/{sub_id}").get_data(as_text=True)
    assert f'value="{HOOK}"' in form and 'value="callback.created" checked' in form
    bad = admin.post(f"/console/events/{sub_id}", data={"csrf_token": token, "name": "", "url": HOOK})
    assert bad.status_code == 422
    saved = admin.post(
        f"/console/events/{sub_id}",
        data={"csrf_token": token, "name": "CRM 2", "url": HOOK, "event_types": ["sms.received"], "format": "json"},
    )
    assert saved.status_code == 303
    assert admin.post(f"/console/events/{sub_id}/active", data={"csrf_token": token, "active": "no"}).status_code == 303
    rotated = admin.post(f"/console/events/{sub_id}/rotate", data={"csrf_token": token})
    assert rotated.headers["Cache-Control"] == "no-store"
    second_secret = shown_secret(rotated.get_data(as_text=True))
    with db.read() as session:
        row = session.get_one(EventSubscription, sub_id)
        assert (row.name, row.event_types, row.active, row.secret) == ("CRM 2", ["sms.received"], False, second_secret)
    assert second_secret != first_secret
    assert "paused" in admin.get("/console/events").get_data(as_text=True)

    assert admin.post(f"/console/events/{sub_id}/delete", data={"csrf_token": token}).status_code == 303
    with db.read() as session:
        assert session.scalars(select(EventSubscription)).all() == []
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == [
        "subscription.create",
        "subscription.change",
        "subscription.change",
        "subscription.change",
        "subscription.delete",
    ]


def test_a_supervisor_reads_the_subscriptions_without_the_admin_buttons(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    admin.post(
        "/console/events",
        data={
            "csrf_token": csrf(admin, "/console/events"),
            "name": "CRM",
            "url": HOOK,
            "event_types": ["sms.received"],
        },
    )
    html = signed_in("supervisor").get("/console/events").get_data(as_text=True)
    assert "CRM" in html and "Rotate secret" not in html and "Subscribe a receiver" not in html
    assert "/console/events/deliveries?subscription=" in html


def test_the_delivery_log_shows_attempts_filters_and_redelivers(
    signed_in: SignedIn, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    ref = book(client, 1).get_json()["ref"]
    admin = signed_in("admin")
    for name in ("CRM", "Other"):
        admin.post(
            "/console/events",
            data={
                "csrf_token": csrf(admin, "/console/events"),
                "name": name,
                "url": HOOK,
                "event_types": ["sms.received"],
            },
        )
    with db.read() as session:
        crm, other = session.scalars(select(EventSubscription.id).order_by(EventSubscription.id)).all()
    t0 = clock.now() - timedelta(days=1)
    failed = add_delivery(db, crm, t0, "failed", [(t0, 500), (t0 + timedelta(minutes=5), None)], callback_ref=ref)
    add_delivery(db, other, clock.now(), "pending", event_type="callback.cancelled")

    supervisor = signed_in("supervisor")
    page = supervisor.get("/console/events/deliveries")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert (
        "HTTP 500 (server error)" in html
        and "Connection refused by the receiver" in html
        and ref in html
        and "callback.cancelled" in html
    )
    assert html.count("Redeliver</button>") == 1  # the pending one is on its way already

    only_crm = supervisor.get(f"/console/events/deliveries?subscription={crm}").get_data(as_text=True)
    assert "HTTP 500" in only_crm and "callback.cancelled" not in only_crm
    today = clock.now().strftime("%Y-%m-%dT00:00")
    recent = supervisor.get(f"/console/events/deliveries?from={today}").get_data(as_text=True)
    assert "callback.cancelled" in recent and "HTTP 500" not in recent
    assert supervisor.get("/console/events/deliveries?from=yesterday").status_code == 422
    backwards = supervisor.get(f"/console/events/deliveries?from={today}&until=2027-01-01")
    assert backwards.status_code == 422 and "must be after from" in backwards.get_data(as_text=True)

    back = f"/console/events/deliveries?subscription={crm}"
    answer = supervisor.post(
        f"/console/events/deliveries/{failed}/redeliver",
        data={"csrf_token": csrf(supervisor, "/console/"), "next": back},
    )
    assert answer.status_code == 303 and answer.headers["Location"] == back
    with db.read() as session:
        row = session.get_one(EventDelivery, failed)
        assert (row.status, row.attempts, row.next_attempt_at) == ("pending", 0, clock.now())
        audited = session.scalars(select(AuditEntry).where(AuditEntry.action == "event_delivery.redeliver")).one()
        assert audited.actor == "supervisor@example.com"
    assert "Redeliver</button>" not in supervisor.get(back).get_data(as_text=True)

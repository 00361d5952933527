"""The console's blocked numbers (applied to web and API bookings) and providers' status."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import AuditEntry
from infra.db import Database
from tests.integration.helpers import phone
from tests.integration.test_console_access import SignedIn, csrf, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures


def test_a_blocked_prefix_refuses_bookings_until_removed(
    signed_in: SignedIn, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    supervisor = signed_in("supervisor")
    token = csrf(supervisor, "/console/")
    bad = supervisor.post("/console/blocked", data={"csrf_token": token, "prefix": "4474", "reason": ""})
    assert bad.status_code == 422 and "E.164" in bad.get_data(as_text=True)
    added = supervisor.post(
        "/console/blocked", data={"csrf_token": token, "prefix": "+44 7400", "reason": "fraud ring"}
    )
    assert added.status_code == 303
    refused = client.post("/api/v1/callbacks", json={"queue": "support", "phone": phone(1), "kind": "asap"})
    assert (refused.status_code, refused.get_json()["type"]) == (403, "request_phone_blacklisted")
    page = client.post("/book/support", data={"phone": phone(1), "when": "asap"})
    assert page.status_code == 403 and "cannot book a callback here" in page.get_data(as_text=True)
    listed = supervisor.get("/console/blocked").get_data(as_text=True)
    assert "+447400" in listed and "fraud ring" in listed
    row_id = int(listed.split("/console/blocked/")[1].split("/remove")[0])
    assert supervisor.post(f"/console/blocked/{row_id}/remove", data={"csrf_token": token}).status_code == 303
    assert (
        client.post("/api/v1/callbacks", json={"queue": "support", "phone": phone(1), "kind": "asap"}).status_code
        == 201
    )
    with db.read() as session:
        actions = session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)).all()
    assert actions == ["blocked_number.add", "blocked_number.remove"]


def test_the_providers_page_gives_the_urls_to_paste(app: Flask, signed_in: SignedIn) -> None:
    html = signed_in("admin").get("/console/providers").get_data(as_text=True)
    base = app.extensions["settings"].public_base_url
    assert f"{base}/webhooks/simulator/sms/inbound" in html and f"{base}/webhooks/simulator/voice/inbound" in html
    assert "simulator (default)" in html and "not HTTPS" in html

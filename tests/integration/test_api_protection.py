"""The public API's protections: a limit per client IP, a limit per phone number, the
queue's blocked numbers (the honeypot is in test_api_input_errors.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.factory import create_app
from infra.clock import FixedClock
from infra.settings import Settings
from tests.integration.helpers import book, phone, slots


@pytest.fixture
def limited(settings: Settings, clock: FixedClock, demo_queue: str) -> Iterator[FlaskClient]:
    app = create_app(settings.with_overrides(api_rate_limit="5/second"), clock)
    yield app.test_client()
    app.extensions["db"].dispose()


def test_over_five_requests_a_second_from_one_address_are_refused(limited: FlaskClient) -> None:
    # One allowance for the whole API, whichever routes the requests go to.
    urls = ["/api/v1/queues/support", "/api/v1/queues/support/slots"] * 4
    answers = [limited.get(url) for url in urls[:7]]
    assert [a.status_code for a in answers] == [200] * 5 + [429, 429]
    refused = answers[-1]
    assert refused.get_json()["type"] == "request_throttle_timeout"
    assert int(refused.headers["Retry-After"]) >= 0
    # Another address has its own allowance.
    other = limited.get("/api/v1/queues/support", environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert other.status_code == 200


def test_webhooks_and_pages_are_not_limited(limited: FlaskClient) -> None:
    assert all(limited.get("/healthz").status_code == 200 for _ in range(10))


def test_a_phone_gets_its_hourly_allowance_of_bookings_then_429(
    client: FlaskClient, clock: FixedClock, demo_queue: str
) -> None:
    starts = [s["start"] for s in slots(client)[:5]]
    for start in starts[:3]:  # book, cancel, book again: each request counts
        ref = book(client, 1, start).get_json()["ref"]
        assert client.delete(f"/api/v1/callbacks/{ref}").status_code == 200
    refused = book(client, 1, starts[3])
    assert refused.status_code == 429
    assert refused.get_json()["type"] == "request_throttle_count"
    assert "phone" in refused.get_json()["details"]
    assert book(client, 2, starts[3]).status_code == 201  # another number is not affected
    clock.advance(hours=1, seconds=1)
    assert book(client, 1, slots(client)[0]["start"]).status_code == 201


def test_a_duplicate_request_gets_its_callback_back_not_a_throttle(client: FlaskClient, demo_queue: str) -> None:
    start = slots(client)[0]["start"]
    first = book(client, 1, start).get_json()
    answers = [book(client, 1, start) for _ in range(5)]
    assert {(a.status_code, a.get_json()["ref"]) for a in answers} == {(200, first["ref"])}


@pytest.mark.parametrize(("number", "blocked"), [(phone(1), True), ("+447400999999", True), ("+447400123456", False)])
def test_blocked_numbers_and_prefixes_are_refused(
    client: FlaskClient, make_queue: Any, number: str, blocked: bool
) -> None:
    make_queue(widget={"blocked_numbers": [phone(1), "+4474009"]})
    answer = client.post("/api/v1/callbacks", json={"queue": "support", "phone": number, "kind": "asap"})
    if blocked:
        assert (answer.status_code, answer.get_json()["type"]) == (403, "request_phone_blacklisted")
    else:
        assert answer.status_code == 201


def test_the_allowance_is_a_queue_setting(client: FlaskClient, make_queue: Any) -> None:
    make_queue(widget={"requests_per_phone_per_hour": 1})
    starts = [s["start"] for s in slots(client)[:2]]
    ref = book(client, 1, starts[0]).get_json()["ref"]
    client.delete(f"/api/v1/callbacks/{ref}")
    assert book(client, 1, starts[1]).get_json()["type"] == "request_throttle_count"


def test_the_client_address_comes_from_the_proxy_only_when_trusted(
    settings: Settings, clock: FixedClock, demo_queue: str
) -> None:
    for proxies, expected in ((0, [200, 429]), (1, [200, 200])):
        app: Flask = create_app(settings.with_overrides(api_rate_limit="1/second", trusted_proxies=proxies), clock)
        client = app.test_client()
        codes = [
            client.get("/api/v1/queues/support", headers={"X-Forwarded-For": f"198.51.100.{n}"}).status_code
            for n in (1, 2)
        ]
        assert codes == expected
        app.extensions["db"].dispose()


def _key(db: Any, clock: FixedClock) -> str:
    from services.accounts import new_api_key

    with db.write() as session:
        key, _ = new_api_key(session, "CRM", "admin@example.com", clock.now())
    return key


def test_a_request_with_an_api_key_is_not_limited_per_address_or_per_number(
    settings: Settings, clock: FixedClock, demo_queue: str
) -> None:
    app = create_app(settings.with_overrides(api_rate_limit="2/minute"), clock)
    client = app.test_client()
    key = _key(app.extensions["db"], clock)
    auth = {"Authorization": f"Bearer {key}"}
    starts = [s["start"] for s in slots(client)[:6]]
    for start in starts[:5]:  # five bookings for one number in a second: a CRM may
        answer = client.post(
            "/api/v1/callbacks",
            json={"queue": "support", "phone": phone(1), "kind": "scheduled", "slot_start": start},
            headers=auth,
        )
        assert answer.status_code == 201, answer.get_json()
        client.delete(f"/api/v1/callbacks/{answer.get_json()['ref']}", headers=auth)
    # Without the key: limited (the slot list above was the first request of this minute).
    assert [client.get("/api/v1/queues/support").status_code for _ in range(2)] == [200, 429]
    with app.extensions["db"].read() as session:
        from infra.account_models import ApiKey
        from infra.models import CallbackEvent

        actors = set(session.scalars(select(CallbackEvent.actor)))
        assert actors == {"api-key:CRM"}
        assert session.scalars(select(ApiKey.last_used_at)).one() == clock.now()
    app.extensions["db"].dispose()


def test_a_wrong_or_revoked_key_is_refused_not_treated_as_anonymous(
    client: FlaskClient, db: Any, clock: FixedClock, demo_queue: str
) -> None:
    key = _key(db, clock)
    assert client.get("/api/v1/queues/support", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/api/v1/queues/support", headers={"Authorization": f"Bearer {key}x"}).status_code == 401
    from infra.account_models import ApiKey

    with db.write() as session:
        session.scalars(select(ApiKey)).one().revoked_at = clock.now()
    revoked = client.get("/api/v1/queues/support", headers={"Authorization": f"Bearer {key}"})
    assert (revoked.status_code, revoked.get_json()["type"]) == (401, "api_key_invalid")


def test_a_browsers_booking_is_from_the_web_with_the_queues_rules_and_tags(
    client: FlaskClient, db: Any, make_queue: Any
) -> None:
    make_queue(
        widget={
            "allowed_origins": ["https://shop.example.com"],
            "fields": [{"name": "order", "label": "Order", "required": True}],
            "units": [{"id": "sales", "name": "Sales"}],
            "tags": ["web"],
        }
    )
    browser = {"Origin": "https://shop.example.com"}
    body = {"queue": "support", "phone": phone(1), "kind": "asap", "tags": ["promo"]}
    refused = client.post("/api/v1/callbacks", json=body, headers=browser)
    assert refused.status_code == 422
    assert refused.get_json()["details"] == {"fields.order": "required", "unit": "must be one of sales"}
    good = {**body, "fields": [{"name": "order", "value": "A-1"}], "unit": "sales"}
    made = client.post("/api/v1/callbacks", json=good, headers=browser).get_json()
    assert (made["source"], made["tags"], made["unit"]) == ("web", ["promo", "web"], "sales")
    # A server's request (no Origin) keeps the API's own shape: no web rules, source api.
    server = client.post("/api/v1/callbacks", json={**body, "phone": phone(2)}).get_json()
    assert (server["source"], server["tags"]) == ("api", ["promo"])

"""CORS on /api/v1: only the origins a queue lists in widget.allowed_origins (and the app's own)
may call the API from a browser; everything else is refused."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.db import Database
from infra.models import Callback
from tests.integration.helpers import book, phone, slots

SHOP = "https://shop.example.com"
EVIL = "https://evil.example.net"


def preflight(client: FlaskClient, url: str, origin: str, method: str = "POST") -> Any:
    return client.options(
        url,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": "content-type",
        },
    )


def test_an_allowed_origin_gets_cors_headers_on_reads_bookings_and_errors(client: FlaskClient, make_queue: Any) -> None:
    make_queue(widget={"allowed_origins": [SHOP]})
    headers = {"Origin": SHOP}

    response = client.get("/api/v1/queues/support", headers=headers)
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Origin" in response.headers["Vary"]

    start = slots(client)[0]["start"]
    response = client.get("/api/v1/queues/support/slots", headers=headers)
    assert response.headers["Access-Control-Allow-Origin"] == SHOP

    body = {"queue": "support", "phone": phone(1), "kind": "scheduled", "slot_start": start}
    created = client.post("/api/v1/callbacks", json=body, headers=headers)
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == SHOP
    assert "Location" in created.headers["Access-Control-Expose-Headers"]

    # Errors carry the headers too, so the page can read the typed error.
    invalid = client.post("/api/v1/callbacks", json={**body, "phone": "+447700900123"}, headers=headers)
    assert (invalid.status_code, invalid.get_json()["type"]) == (422, "phone_invalid")
    assert invalid.headers["Access-Control-Allow-Origin"] == SHOP

    ref = created.get_json()["ref"]
    cancelled = client.delete(f"/api/v1/callbacks/{ref}", headers=headers)
    assert cancelled.status_code == 200
    assert cancelled.headers["Access-Control-Allow-Origin"] == SHOP


def test_an_allowed_origins_preflight_is_answered(client: FlaskClient, make_queue: Any) -> None:
    make_queue(widget={"allowed_origins": [SHOP]})
    ref = book(client, 2).get_json()["ref"]
    for url, method in (
        ("/api/v1/callbacks", "POST"),
        ("/api/v1/queues/support", "GET"),
        (f"/api/v1/callbacks/{ref}", "DELETE"),
        (f"/api/v1/callbacks/{ref.lower()}", "DELETE"),
    ):
        response = preflight(client, url, SHOP, method)
        assert response.status_code == 204, url
        assert response.headers["Access-Control-Allow-Origin"] == SHOP
        assert method in response.headers["Access-Control-Allow-Methods"]
        assert "Content-Type" in response.headers["Access-Control-Allow-Headers"]
        assert "Origin" in response.headers["Vary"]


def test_another_origin_gets_no_cors_headers_and_its_preflight_is_refused(
    client: FlaskClient, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [SHOP]})
    response = client.get("/api/v1/queues/support", headers={"Origin": EVIL})
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert "Origin" in response.headers["Vary"]

    for url in ("/api/v1/callbacks", "/api/v1/queues/support/slots"):
        refused = preflight(client, url, EVIL)
        assert refused.status_code == 403
        assert refused.get_json()["type"] == "origin_not_allowed"
        assert "Access-Control-Allow-Origin" not in refused.headers

    # A booking that skipped the preflight is refused too: nothing is booked for a page
    # that could not read the answer.
    body = {"queue": "support", "phone": phone(3), "kind": "asap"}
    refused = client.post("/api/v1/callbacks", json=body, headers={"Origin": EVIL})
    assert (refused.status_code, refused.get_json()["type"]) == (403, "origin_not_allowed")
    assert "Access-Control-Allow-Origin" not in refused.headers
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 0


def test_an_origin_allowed_by_one_queue_cannot_use_another(client: FlaskClient, make_queue: Any) -> None:
    make_queue(widget={"allowed_origins": [SHOP]})
    make_queue(key="sales", name="Sales")
    assert preflight(client, "/api/v1/queues/sales", SHOP, "GET").status_code == 403
    response = client.get("/api/v1/queues/sales", headers={"Origin": SHOP})
    assert "Access-Control-Allow-Origin" not in response.headers
    body = {"queue": "sales", "phone": phone(4), "kind": "asap"}
    refused = client.post("/api/v1/callbacks", json=body, headers={"Origin": SHOP})
    assert (refused.status_code, refused.get_json()["type"]) == (403, "origin_not_allowed")
    sales_ref = client.post("/api/v1/callbacks", json=body).get_json()["ref"]
    assert preflight(client, f"/api/v1/callbacks/{sales_ref}", SHOP, "DELETE").status_code == 403


def test_the_apps_own_origin_is_always_allowed(client: FlaskClient, demo_queue: str) -> None:
    own = "http://127.0.0.1:5000"  # PUBLIC_BASE_URL's default
    response = preflight(client, "/api/v1/callbacks", own)
    assert response.status_code == 204
    assert response.headers["Access-Control-Allow-Origin"] == own
    created = client.post(
        "/api/v1/callbacks", json={"queue": "support", "phone": phone(5), "kind": "asap"}, headers={"Origin": own}
    )
    assert created.status_code == 201
    assert created.headers["Access-Control-Allow-Origin"] == own
    # The host the request was sent to is the page's own origin too (same-origin).
    same = client.get("/api/v1/queues/support", headers={"Origin": "http://localhost"})
    assert same.headers["Access-Control-Allow-Origin"] == "http://localhost"


def test_requests_without_an_origin_are_untouched(client: FlaskClient, demo_queue: str) -> None:
    response = client.get("/api/v1/queues/support")
    assert response.status_code == 200
    assert "Access-Control-Allow-Origin" not in response.headers
    assert book(client, 6).status_code == 201
    assert client.get("/healthz", headers={"Origin": EVIL}).headers.get("Vary") is None


def test_an_unknown_queue_or_callback_is_refused_to_other_origins(client: FlaskClient, demo_queue: str) -> None:
    assert preflight(client, "/api/v1/queues/nope", SHOP, "GET").status_code == 403
    assert preflight(client, "/api/v1/callbacks/ZZZZZZZZZZ", SHOP, "DELETE").status_code == 403
    response = client.get("/api/v1/queues/nope", headers={"Origin": SHOP})
    assert response.status_code == 404
    assert "Access-Control-Allow-Origin" not in response.headers

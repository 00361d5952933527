"""A JSON document nested deeper than anyone sends (issue 16, finding 1) gets a 4xx on
every route that takes a body: 400 malformed_json where the body is read as JSON, 403
where a signature or key is checked first, 204 for a signed delivery report we cannot
use — never a 500 (Python's parser raises RecursionError,
not ValueError, past about a thousand levels)."""

from __future__ import annotations

import hashlib
import time

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient

from infra.json_input import MAX_DEPTH, JSONTooDeep, loads
from services.accounts import new_api_key
from tests.unit.test_vonage_adapter import SIGNATURE_SECRET, make_adapter

DEEP = b"[" * 20_000 + b"]" * 20_000  # past the parser's recursion limit, under MAX_BODY_BYTES
JUST_TOO_DEEP = b'{"a":' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1)  # parses, but too deep
DEEP_BODIES = [DEEP, JUST_TOO_DEEP]


@pytest.fixture
def vonage(app: Flask) -> None:
    app.extensions["providers"].register(make_adapter())


@pytest.fixture
def admin_key(app: Flask, db) -> str:  # type: ignore[no-untyped-def]
    with db.write() as session:
        key, _ = new_api_key(session, "deep-json", "test", app.extensions["clock"].now(), role="admin")
    return key


def test_the_parser_refuses_deep_documents_and_takes_the_deepest_allowed() -> None:
    for body in DEEP_BODIES:
        with pytest.raises(JSONTooDeep):
            loads(body)
    allowed = b"[" * MAX_DEPTH + b"]" * MAX_DEPTH
    assert loads(allowed) is not None
    assert issubclass(JSONTooDeep, ValueError)  # handlers of bad JSON handle it too


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["20k-levels", "limit+1"])
@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/v1/callbacks"),
        ("POST", "/api/v1/callbacks/CB-NOPE/reschedule"),
        ("POST", "/api/v1/booking-links/nope/reschedule"),
        ("POST", "/api/v1/subscriptions"),
        ("PATCH", "/api/v1/subscriptions/1"),
    ],
)
def test_the_api_answers_malformed_json(
    client: FlaskClient, admin_key: str, demo_queue: str, method: str, path: str, body: bytes
) -> None:
    for headers in ({}, {"Authorization": f"Bearer {admin_key}"}):
        answer = client.open(path, method=method, data=body, headers={"Content-Type": "application/json", **headers})
        # 403/404: refused before the body is read (no key; a booking link that is not valid).
        assert answer.status_code in (400, 403, 404), (path, answer.status_code, answer.data[:300])
        if answer.status_code == 400:
            assert answer.get_json()["type"] == "malformed_json"


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["20k-levels", "limit+1"])
@pytest.mark.parametrize(
    "path",
    [
        "/webhooks/vonage/voice/inbound",
        "/webhooks/vonage/voice/event/nope",
        "/webhooks/vonage/voice/answer/nope",
        "/webhooks/vonage/sms/inbound",
        "/webhooks/vonage/sms/status",
        "/webhooks/simulator/voice/event/nope",
        "/webhooks/simulator/sms/inbound",
    ],
)
def test_webhooks_refuse_it_signed_or_not(
    client: FlaskClient, vonage: None, demo_queue: str, path: str, body: bytes
) -> None:
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest(), "iss": "Vonage"}
    signed = jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")
    unsigned = client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert 400 <= unsigned.status_code < 500, (path, unsigned.status_code, unsigned.data[:300])
    # Signed, it is refused too, but for delivery reports: those are answered 204 and
    # logged, so that the provider does not retry what we cannot use (sms/webhooks.py).
    answer = client.post(
        path, data=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {signed}"}
    )
    expected = (204,) if path.endswith("/sms/status") else tuple(range(400, 500))
    assert answer.status_code in expected, (path, answer.status_code, answer.data[:300])


@pytest.mark.parametrize("body", DEEP_BODIES, ids=["20k-levels", "limit+1"])
@pytest.mark.parametrize("path", ["/simulator/api/calls", "/simulator/api/texts", "/simulator/crm"])
def test_the_simulator_and_the_demo_crm_refuse_it(client: FlaskClient, demo_queue: str, path: str, body: bytes) -> None:
    answer = client.post(path, data=body, headers={"Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500, (path, answer.status_code, answer.data[:300])

"""A callback through the real Vonage adapter: the SDK's request is caught at its HTTP
boundary, and Vonage's webhooks (JSON bodies with a signed HS256 JWT whose payload_hash
covers the body) drive the same handlers. NCCO answers are asserted as JSON."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback
from services.dialer.dialer import Dialer
from telephony.vonage_adapter import VonageTelephony
from tests.integration.helpers import apply_call_events, book
from tests.unit.test_vonage_adapter import SIGNATURE_SECRET, make_adapter
from tests.unit.vonage_fakes import FakeTransport, Reply, json_body, mount

CALL_UUID = "63f61863-4a51-4f6b-86e1-46edebcf9356"


@pytest.fixture
def vonage(app: Flask) -> tuple[VonageTelephony, FakeTransport]:
    adapter = make_adapter()
    http = mount(
        adapter.voice_client,
        FakeTransport(
            Reply(201, {"uuid": CALL_UUID, "status": "started", "direction": "outbound", "conversation_uuid": "CON-1"})
        ),
    )
    app.extensions["providers"].register(adapter)
    return adapter, http


def post_signed(client: FlaskClient, app: Flask, url: str, document: dict[str, Any], secret: str = SIGNATURE_SECRET):  # type: ignore[no-untyped-def]
    body = json.dumps(document).encode()
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest(), "iss": "Vonage"}
    token = jwt.encode(claims, secret, algorithm="HS256")
    path = url[len(app.extensions["settings"].public_base_url) :]
    return client.post(
        path, data=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )


def test_a_callback_through_vonage_from_dial_to_agent(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,  # type: ignore[no-untyped-def]
    vonage: tuple[VonageTelephony, FakeTransport],
) -> None:
    _, http = vonage
    make_queue(estimated_wait_seconds=0, primary_provider="vonage", agent_target="+442079460000")
    ref = book(client, 1).get_json()["ref"]
    assert Dialer(db, app.extensions["providers"], clock, app.extensions["settings"]).dispatch() == 1
    created = json_body(http.sent[0])
    assert created["to"] == [{"type": "phone", "number": "447400000001"}]
    answer_url, event_url = created["answer_url"][0], created["event_url"][0]

    base = {"uuid": CALL_UUID, "conversation_uuid": "CON-1", "timestamp": "2027-01-04T10:00:01.000Z"}
    assert post_signed(client, app, event_url, {**base, "status": "ringing"}).status_code == 204
    answered = post_signed(client, app, answer_url, {**base, "from": "441632960000", "to": "447400000001"})
    assert answered.status_code == 200 and answered.mimetype == "application/json"
    ncco = answered.get_json()
    talk_texts = " ".join(a.get("text", "") for a in ncco if a["action"] == "talk")
    assert "returning your call" in talk_texts
    gather = next(a for a in ncco if a["action"] == "input")
    chosen = post_signed(
        client, app, gather["eventUrl"][0], {**base, "dtmf": {"digits": "1", "timed_out": False}, "speech": {}}
    )
    connect = next(a for a in chosen.get_json() if a["action"] == "connect")
    assert connect["endpoint"] == [{"type": "phone", "number": "442079460000"}]
    leg = {"uuid": "agent-leg", "conversation_uuid": "CON-1", "timestamp": "2027-01-04T10:00:40.000Z"}
    assert post_signed(client, app, connect["eventUrl"][0], {**leg, "status": "answered"}).status_code == 200
    done = {**base, "status": "completed", "duration": "190", "timestamp": "2027-01-04T10:03:30.000Z"}
    assert post_signed(client, app, event_url, done).status_code == 204
    apply_call_events(app)
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        attempt = session.scalars(select(Attempt)).one()
    assert callback.state == "completed"
    assert (attempt.provider, attempt.call_id, attempt.outcome) == ("vonage", CALL_UUID, "connected")


def test_vonage_webhooks_with_a_bad_jwt_or_a_tampered_body_are_refused(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,  # type: ignore[no-untyped-def]
    vonage: tuple[VonageTelephony, FakeTransport],
) -> None:
    _, http = vonage
    make_queue(estimated_wait_seconds=0, primary_provider="vonage", agent_target="+442079460000")
    ref = book(client, 1).get_json()["ref"]
    Dialer(db, app.extensions["providers"], clock, app.extensions["settings"]).dispatch()
    event_url = json_body(http.sent[0])["event_url"][0]
    busy = {"uuid": CALL_UUID, "status": "busy", "timestamp": "2027-01-04T10:00:05.000Z"}
    assert post_signed(client, app, event_url, busy, secret="x" * 40).status_code == 403
    body = json.dumps(busy).encode()
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(b"{}").hexdigest()}
    token = jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")
    path = event_url[len(app.extensions["settings"].public_base_url) :]
    tampered = client.post(
        path, data=body, headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    )
    assert tampered.status_code == 403
    assert apply_call_events(app) == 0  # nothing was stored
    with db.read() as session:
        assert session.scalars(select(Callback.state).where(Callback.ref == ref)).one() == "dialing"


def test_a_vonage_event_we_do_not_act_on_is_acknowledged(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,  # type: ignore[no-untyped-def]
    vonage: tuple[VonageTelephony, FakeTransport],
) -> None:
    _, http = vonage
    make_queue(estimated_wait_seconds=0, primary_provider="vonage", agent_target="+442079460000")
    book(client, 1)
    Dialer(db, app.extensions["providers"], clock, app.extensions["settings"]).dispatch()
    event_url = json_body(http.sent[0])["event_url"][0]
    transfer = {
        "conversation_uuid_from": "CON-1",
        "conversation_uuid_to": "CON-2",
        "type": "transfer",
        "timestamp": "2027-01-04T10:00:05.000Z",
    }
    assert post_signed(client, app, event_url, transfer).status_code == 204
    assert apply_call_events(app) == 0  # acknowledged, logged, not stored

"""Delivery reports for outgoing texts: /webhooks/<provider>/sms/status in each provider's
format (Twilio form, Vonage SMS API delivery receipt by GET and POST, Vonage Messages API
JSON, the simulator's JSON), signed as the provider signs; forward only, idempotent."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from datetime import timedelta
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from vonage import Auth

from infra.clock import FixedClock
from infra.db import Database
from infra.text_models import EarlySmsStatus, SmsMessage
from sms.delivery import forget_early_reports
from sms.outbox import send_pending_sms
from telephony.base import SentSms
from telephony.simulator import SIGNATURE_HEADER, sign
from telephony.twilio_adapter import TwilioTelephony
from tests.unit.test_vonage_adapter import API_KEY, SIGNATURE_SECRET, make_adapter
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response


@pytest.fixture(autouse=True)
def providers(app: Flask) -> None:
    registry = app.extensions["providers"]
    registry.register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=FakeTwilioHttp(json_response(201, {}))))
    registry.register(make_adapter())


def _url(app: Flask, provider: str) -> str:
    return f"{app.extensions['settings'].public_base_url}/webhooks/{provider}/sms/status"


def outgoing(db: Database, clock: FixedClock, provider: str, message_id: str, status: str = "sent") -> int:
    with db.write() as session:
        message = SmsMessage(
            kind="reminder_24h",
            to="+447700900001",
            body="Your callback is tomorrow at 10:30.",
            status=status,
            provider=provider,
            message_id=message_id,
            created_at=clock.now(),
            sent_at=clock.now(),
        )
        session.add(message)
        session.flush()
        return message.id


def load(db: Database, message_id: int) -> SmsMessage:
    with db.read() as session:
        return session.get_one(SmsMessage, message_id)


def twilio(client: FlaskClient, app: Flask, sid: str, status: str, error: str | None = None) -> Any:
    form = {"MessageSid": sid, "AccountSid": ACCOUNT_SID, "MessageStatus": status, "SmsStatus": status}
    if error is not None:
        form["ErrorCode"] = error
    signature = RequestValidator(AUTH_TOKEN).compute_signature(_url(app, "twilio"), form)
    return client.post("/webhooks/twilio/sms/status", data=form, headers={"X-Twilio-Signature": signature})


def _dlr(message_id: str, status: str, error: str) -> dict[str, str]:
    params = {
        "msisdn": "447700900001",
        "to": "441632960000",
        "network-code": "23410",
        "messageId": message_id,
        "price": "0.03330000",
        "status": status,
        "scts": "2701041030",
        "err-code": error,
        "api-key": API_KEY,
        "message-timestamp": "2027-01-04 10:30:00",
        "timestamp": str(int(time.time())),  # when it was signed: checked against this machine's clock
        "nonce": "5a4f2c1e-0000-4000-8000-000000000001",
    }
    signer = Auth(api_key=API_KEY, signature_secret=SIGNATURE_SECRET, signature_method="sha256")
    return {**params, "sig": signer.sign_params(dict(params))}


def vonage_get(client: FlaskClient, app: Flask, mid: str, status: str, error: str = "0") -> Any:
    return client.get("/webhooks/vonage/sms/status", query_string=_dlr(mid, status, error))


def vonage_post(client: FlaskClient, app: Flask, mid: str, status: str, error: str = "0") -> Any:
    return client.post("/webhooks/vonage/sms/status", data=_dlr(mid, status, error))


def vonage_messages(client: FlaskClient, app: Flask, uuid_: str, status: str, error: str | None = None) -> Any:
    document: dict[str, Any] = {
        "message_uuid": uuid_,
        "to": "447700900001",
        "from": "441632960000",
        "timestamp": "2027-01-04T10:30:00Z",
        "status": status,
        "channel": "sms",
    }
    if error is not None:
        document["error"] = {"type": "https://developer.vonage.com/api-errors/messages", "code": error}
    body = json.dumps(document).encode()
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest(), "iss": "Vonage"}
    token = jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return client.post("/webhooks/vonage/sms/status", data=body, headers=headers)


def simulator(client: FlaskClient, app: Flask, mid: str, status: str, error: str | None = None) -> Any:
    body = json.dumps({"message_id": mid, "status": status, "error_code": error}).encode()
    secret = app.extensions["providers"].get("simulator").secret  # type: ignore[attr-defined]
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(secret, "POST", _url(app, "simulator"), body)}
    return client.post("/webhooks/simulator/sms/status", data=body, headers=headers)


# format -> (provider, send, delivered word, failed word, error code)
FORMATS: dict[str, tuple[str, Any, str, str, str]] = {
    "twilio": ("twilio", twilio, "delivered", "undelivered", "30003"),
    "vonage-dlr-get": ("vonage", vonage_get, "delivered", "expired", "5"),
    "vonage-dlr-post": ("vonage", vonage_post, "delivered", "rejected", "6"),
    "vonage-messages": ("vonage", vonage_messages, "delivered", "undeliverable", "1320"),
    "simulator": ("simulator", simulator, "delivered", "failed", "sim-1"),
}


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_marks_the_text_delivered(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, fmt: str
) -> None:
    provider, send, delivered, _, _ = FORMATS[fmt]
    message = outgoing(db, clock, provider, "M-" + fmt)
    assert send(client, app, "M-" + fmt, delivered).status_code == 204
    row = load(db, message)
    assert (row.status, row.error_code, row.delivered_at) == ("delivered", None, clock.now())
    assert row.status_at == clock.now()
    # a redelivery of the same report changes nothing
    clock.advance(seconds=60)
    assert send(client, app, "M-" + fmt, delivered).status_code == 204
    assert load(db, message).status_at == row.status_at


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_records_a_failure_with_the_error_code_and_it_is_not_resent(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, fmt: str
) -> None:
    provider, send, _, failed, code = FORMATS[fmt]
    message = outgoing(db, clock, provider, "F-" + fmt)
    assert send(client, app, "F-" + fmt, failed, code).status_code == 204
    row = load(db, message)
    assert row.status in ("undelivered", "failed")
    assert row.error_code == code
    assert row.error is not None and code in row.error
    assert row.delivered_at is None
    ext = app.extensions
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 0
    assert load(db, message).status == row.status


def test_reports_out_of_order_only_move_forward(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock
) -> None:
    message = outgoing(db, clock, "twilio", "SMorder", status="sending")
    twilio(client, app, "SMorder", "queued")
    assert load(db, message).status == "queued"
    twilio(client, app, "SMorder", "delivered")
    twilio(client, app, "SMorder", "sent")  # late
    twilio(client, app, "SMorder", "queued")  # later still
    assert load(db, message).status == "delivered"
    twilio(client, app, "SMorder", "failed", "30008")  # a delivered text stays delivered
    assert (load(db, message).status, load(db, message).error_code) == ("delivered", None)

    failed = outgoing(db, clock, "vonage", "0A00FAIL")
    vonage_get(client, app, "0A00FAIL", "failed", "4")
    vonage_get(client, app, "0A00FAIL", "delivered")  # terminal failure stays
    vonage_get(client, app, "0A00FAIL", "accepted")
    assert (load(db, failed).status, load(db, failed).error_code) == ("failed", "4")


def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock
) -> None:
    message = outgoing(db, clock, "twilio", "SMbad")
    form = {"MessageSid": "SMbad", "MessageStatus": "failed", "ErrorCode": "30003"}
    assert client.post("/webhooks/twilio/sms/status", data=form).status_code == 403
    bad = RequestValidator("not-the-token").compute_signature(_url(app, "twilio"), form)
    headers = {"X-Twilio-Signature": bad}
    assert client.post("/webhooks/twilio/sms/status", data=form, headers=headers).status_code == 403
    vmessage = outgoing(db, clock, "vonage", "0A00BAD")
    params = _dlr("0A00BAD", "failed", "4")
    assert client.get("/webhooks/vonage/sms/status", query_string={**params, "sig": "0" * 64}).status_code == 403
    assert (load(db, message).status, load(db, message).error_code) == ("sent", None)
    assert (load(db, vmessage).status, load(db, vmessage).error_code) == ("sent", None)


def test_unknown_message_and_unknown_status_answer_204_and_log(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    message = outgoing(db, clock, "twilio", "SMknown")
    assert twilio(client, app, "SMnobody", "delivered").status_code == 204
    assert "message SMnobody, not saved yet: kept" in caplog.text
    with db.read() as session:
        assert session.scalars(select(EarlySmsStatus.message_id)).all() == ["SMnobody"]
    assert twilio(client, app, "SMknown", "teleported").status_code == 204
    assert "not understood" in caplog.text
    assert load(db, message).status == "sent"
    # the same id from another provider is another message
    assert vonage_get(client, app, "SMknown", "delivered").status_code == 204
    assert load(db, message).status == "sent"


def test_the_outbox_gives_each_provider_its_status_url(
    app: Flask, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    ext = app.extensions
    adapter = ext["providers"].get("simulator")
    urls: list[str | None] = []

    def send_sms(to: str, from_: str, text: str, status_url: str | None = None) -> SentSms:
        urls.append(status_url)
        return SentSms("simulator", "SIMSMtest")

    monkeypatch.setattr(adapter, "send_sms", send_sms)
    message = outgoing(db, clock, "simulator", "", status="pending")
    with db.write() as session:
        session.get_one(SmsMessage, message).message_id = None
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 1
    assert urls == [_url(app, "simulator")]
    assert load(db, message).message_id == "SIMSMtest"


def test_a_report_that_comes_before_the_outbox_saved_the_id_is_applied_when_it_does(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Twilio reports "failed" while our outbox is still waiting for its answer to the send."""
    ext = app.extensions
    adapter = ext["providers"].get("twilio")

    def send_sms(to: str, from_: str, text: str, status_url: str | None = None) -> SentSms:
        # The provider's report arrives (signed, as Twilio sends it) before send_sms returns.
        assert twilio(client, app, "SMfast", "failed", "30003").status_code == 204
        return SentSms("twilio", "SMfast")

    monkeypatch.setattr(adapter, "send_sms", send_sms)
    message = outgoing(db, clock, "twilio", "", status="pending")
    with db.write() as session:
        session.get_one(SmsMessage, message).message_id = None
        session.get_one(SmsMessage, message).provider = "twilio"
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 1
    sent = load(db, message)
    assert (sent.message_id, sent.status, sent.error_code) == ("SMfast", "failed", "30003")
    assert sent.error == "twilio reported failed (error 30003)"
    with db.read() as session:
        assert session.scalars(select(EarlySmsStatus)).all() == []


def test_early_reports_no_text_claims_are_forgotten_after_a_day(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock
) -> None:
    assert twilio(client, app, "SMstranger", "delivered").status_code == 204
    with db.write() as session:
        assert forget_early_reports(session, clock.now() + timedelta(hours=23)) == 0
        assert forget_early_reports(session, clock.now() + timedelta(hours=25)) == 1

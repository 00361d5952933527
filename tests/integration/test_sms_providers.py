"""Text commands in each provider's inbound format, signed as the provider signs them:
Twilio (form post, X-Twilio-Signature), Vonage SMS API (GET and form POST with a `sig`,
concatenated parts) and Vonage Messages API (JSON with a signed JWT)."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator
from vonage import Auth

from infra.db import Database
from infra.models import Callback
from infra.text_models import InboundText, SmsMessage, SmsOptOut
from telephony.twilio_adapter import TwilioTelephony
from tests.integration.helpers import book, phone, slots
from tests.unit.test_vonage_adapter import API_KEY, SIGNATURE_SECRET, make_adapter
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response

OUR_NUMBER = "+441632960000"
Send = Callable[..., Any]  # (client, app, n, text, message_id=None, **overrides) -> response


@pytest.fixture(autouse=True)
def providers(app: Flask) -> None:
    registry = app.extensions["providers"]
    registry.register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=FakeTwilioHttp(json_response(201, {}))))
    registry.register(make_adapter())


def _url(app: Flask, provider: str) -> str:
    return f"{app.extensions['settings'].public_base_url}/webhooks/{provider}/sms/inbound"


def twilio(client: FlaskClient, app: Flask, n: int, text: str, message_id: str | None = None, **extra: str) -> Any:
    form = {
        "MessageSid": message_id or "SM" + uuid.uuid4().hex,
        "AccountSid": ACCOUNT_SID,
        "From": phone(n),
        "To": OUR_NUMBER,
        "Body": text,
        "NumSegments": "1",
        **extra,
    }
    url = _url(app, "twilio")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, form)
    return client.post("/webhooks/twilio/sms/inbound", data=form, headers={"X-Twilio-Signature": signature})


def _vonage_params(n: int, text: str, message_id: str | None, extra: dict[str, str]) -> dict[str, str]:
    params = {
        "msisdn": phone(n)[1:],
        "to": OUR_NUMBER[1:],
        "messageId": message_id or uuid.uuid4().hex[:16].upper(),
        "text": text,
        "type": "unicode" if any(ord(c) > 127 for c in text) else "text",
        "api-key": API_KEY,
        "message-timestamp": "2027-01-04 10:00:00",
        "timestamp": str(int(time.time())),  # when it was signed: checked against this machine's clock
        "nonce": str(uuid.uuid4()),
        **extra,
    }
    signer = Auth(api_key=API_KEY, signature_secret=SIGNATURE_SECRET, signature_method="sha256")
    return {**params, "sig": signer.sign_params(dict(params))}


def vonage_get(client: FlaskClient, app: Flask, n: int, text: str, message_id: str | None = None, **extra: str) -> Any:
    return client.get("/webhooks/vonage/sms/inbound", query_string=_vonage_params(n, text, message_id, extra))


def vonage_post(client: FlaskClient, app: Flask, n: int, text: str, message_id: str | None = None, **extra: str) -> Any:
    return client.post("/webhooks/vonage/sms/inbound", data=_vonage_params(n, text, message_id, extra))


def vonage_messages(client: FlaskClient, app: Flask, n: int, text: str, message_id: str | None = None) -> Any:
    document = {
        "channel": "sms",
        "message_uuid": message_id or str(uuid.uuid4()),
        "to": OUR_NUMBER[1:],
        "from": phone(n)[1:],
        "timestamp": "2027-01-04T10:00:00Z",
        "text": text,
        "message_type": "text",
    }
    body = json.dumps(document).encode()
    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(body).hexdigest(), "iss": "Vonage"}
    token = jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    return client.post("/webhooks/vonage/sms/inbound", data=body, headers=headers)


FORMATS: dict[str, Send] = {
    "twilio": twilio,
    "vonage-sms-get": vonage_get,
    "vonage-sms-post": vonage_post,
    "vonage-messages": vonage_messages,
}
OK = {"twilio": 200, "vonage-sms-get": 204, "vonage-sms-post": 204, "vonage-messages": 204}


def replies(db: Database, n: int) -> list[SmsMessage]:
    with db.read() as session:
        # Replies only: a callback booked by text also has its reminders planned ("scheduled").
        stmt = select(SmsMessage).where(SmsMessage.to == phone(n), SmsMessage.status != "scheduled")
        return list(session.scalars(stmt.order_by(SmsMessage.id)))


def callbacks(db: Database, n: int) -> list[Callback]:
    with db.read() as session:
        return list(session.scalars(select(Callback).where(Callback.phone == phone(n)).order_by(Callback.id)))


COMMANDS = {
    "en": {"cancel": "Cancel call.", "change": "RESCHEDULE", "call_me": "call me please", "help": "HELP"},
    "ru": {"cancel": "ОТМЕНА", "change": "Перенести", "call_me": "Перезвоните", "help": "помощь"},
    "fr": {"cancel": "annuler svp", "change": "Changer", "call_me": "Rappelez-moi", "help": "AIDE"},
}


@pytest.mark.parametrize("language", COMMANDS)
@pytest.mark.parametrize("fmt", FORMATS)
def test_each_command_in_each_language_on_each_format(
    app: Flask, client: FlaskClient, db: Database, make_queue: Any, fmt: str, language: str
) -> None:
    send = FORMATS[fmt]
    make_queue(language=language)
    words = COMMANDS[language]
    book(client, 1, slots(client)[0]["start"])
    assert send(client, app, 1, words["change"]).status_code == OK[fmt]
    assert send(client, app, 1, words["cancel"]).status_code == OK[fmt]
    assert [c.state for c in callbacks(db, 1)] == ["cancelled"]
    assert send(client, app, 1, words["call_me"]).status_code == OK[fmt]
    assert send(client, app, 1, "2").status_code == OK[fmt]
    assert send(client, app, 1, words["help"]).status_code == OK[fmt]
    assert [r.kind for r in replies(db, 1)] == [
        "reschedule_link",
        "cancel_confirmation",
        "offer",
        "booking_confirmation",
        "help",
    ]
    booked = callbacks(db, 1)[-1]
    assert (booked.state, booked.source, booked.slot_id is not None) == ("scheduled", "sms", True)
    assert "{" not in "".join(r.body for r in replies(db, 1))


@pytest.mark.parametrize("fmt", FORMATS)
def test_stop_in_each_format_opts_out(app: Flask, client: FlaskClient, db: Database, demo_queue: str, fmt: str) -> None:
    assert FORMATS[fmt](client, app, 1, "STOP").status_code == OK[fmt]
    with db.read() as session:
        assert session.get_one(SmsOptOut, phone(1)).provider == ("twilio" if fmt == "twilio" else "vonage")
    # Twilio confirms an opt-out itself; on Vonage we send the one confirmation.
    assert [r.kind for r in replies(db, 1)] == ([] if fmt == "twilio" else ["opt_out_confirmation"])


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_redelivery_in_each_format_does_nothing_twice(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str, fmt: str
) -> None:
    book(client, 1, slots(client)[0]["start"])
    message_id = "SM" + "1" * 32 if fmt == "twilio" else "0A00000001"
    for _ in range(2):
        assert FORMATS[fmt](client, app, 1, "call me", message_id).status_code == OK[fmt]
    assert len(replies(db, 1)) == 1
    with db.read() as session:
        assert len(session.scalars(select(InboundText)).all()) == 1


def test_a_bare_cancel_on_twilio_cancels_and_records_the_opt_out_twilio_applied(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    book(client, 1, slots(client)[0]["start"])
    assert twilio(client, app, 1, "CANCEL").status_code == 200
    assert [c.state for c in callbacks(db, 1)] == ["cancelled"]
    with db.read() as session:
        assert session.get_one(SmsOptOut, phone(1)).keyword == "cancel"
    # "cancel call" is not a Twilio keyword: no opt-out.
    book(client, 2, slots(client)[0]["start"])
    twilio(client, app, 2, "cancel call")
    with db.read() as session:
        assert session.get(SmsOptOut, phone(2)) is None


def test_vonage_concatenated_parts_are_handled_once_when_all_have_come(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    book(client, 1, slots(client)[0]["start"])
    concat = {"concat": "true", "concat-ref": "42", "concat-total": "2"}
    assert vonage_get(client, app, 1, "can", "P2", **concat, **{"concat-part": "1"}).status_code == 204
    assert [c.state for c in callbacks(db, 1)] == ["scheduled"]  # half a word does nothing yet
    assert vonage_post(client, app, 1, "cel", "P3", **concat, **{"concat-part": "2"}).status_code == 204
    assert [c.state for c in callbacks(db, 1)] == ["cancelled"]
    # A redelivered part after completion starts a new, incomplete text: nothing happens.
    assert vonage_get(client, app, 1, "can", "P2", **concat, **{"concat-part": "1"}).status_code == 204
    assert [r.kind for r in replies(db, 1)] == ["cancel_confirmation"]
    with db.read() as session:
        assert session.scalars(select(InboundText.body)).all() == ["cancel"]


def test_signatures_bad_or_missing_are_refused_in_each_format(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    book(client, 1, slots(client)[0]["start"])
    form = {"MessageSid": "SM" + "2" * 32, "From": phone(1), "To": OUR_NUMBER, "Body": "cancel call"}
    assert client.post("/webhooks/twilio/sms/inbound", data=form).status_code == 403
    bad = RequestValidator("not-the-token").compute_signature(_url(app, "twilio"), form)
    headers = {"X-Twilio-Signature": bad}
    assert client.post("/webhooks/twilio/sms/inbound", data=form, headers=headers).status_code == 403
    params = _vonage_params(1, "cancel", None, {})
    assert client.get("/webhooks/vonage/sms/inbound", query_string={**params, "sig": "0" * 64}).status_code == 403
    unsigned = {k: v for k, v in params.items() if k != "sig"}
    assert client.post("/webhooks/vonage/sms/inbound", data=unsigned).status_code == 403
    body = json.dumps({"message_uuid": "m-1", "from": phone(1)[1:], "to": "441632960000", "text": "cancel"}).encode()
    token = jwt.encode({"iat": int(time.time()), "payload_hash": "0" * 64}, SIGNATURE_SECRET, algorithm="HS256")
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {token}"}
    assert client.post("/webhooks/vonage/sms/inbound", data=body, headers=headers).status_code == 403
    assert [c.state for c in callbacks(db, 1)] == ["scheduled"]
    with db.read() as session:
        assert session.scalars(select(InboundText)).all() == []


def test_stale_parts_under_a_reused_reference_are_not_mixed_into_a_new_text(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    clock = app.extensions["clock"]
    concat = {"concat": "true", "concat-ref": "9", "concat-total": "2"}
    vonage_get(client, app, 1, "hello ", "Q1", **concat, **{"concat-part": "1"})  # its part 2 never comes
    clock.advance(hours=2)
    vonage_get(client, app, 1, "me", "Q4", **concat, **{"concat-part": "2"})
    assert replies(db, 1) == []  # the old part 1 is dropped, not read as "hello me"
    vonage_get(client, app, 1, "call ", "Q3", **concat, **{"concat-part": "1"})
    assert [r.kind for r in replies(db, 1)] == ["offer"]


@pytest.mark.postgres_only
def test_last_parts_delivered_at_once_complete_the_text_exactly_once(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    import threading

    refs = [str(r) for r in range(12)]
    barrier = threading.Barrier(2)

    def deliver(ref: str, part: str, body: str) -> None:
        barrier.wait()
        concat = {"concat": "true", "concat-ref": ref, "concat-total": "2", "concat-part": part}
        assert vonage_post(app.test_client(), app, 1, body, f"R{ref}-{part}", **concat).status_code == 204

    for ref in refs:
        threads = [threading.Thread(target=deliver, args=(ref, p, b)) for p, b in (("1", "HE"), ("2", "LP"))]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    with db.read() as session:
        assert session.scalars(select(InboundText.body)).all() == ["HELP"] * len(refs)


def test_a_reply_goes_back_through_the_provider_the_text_came_in_on(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    from sms.outbox import send_pending_sms
    from tests.unit.test_vonage_adapter import SMS_OK
    from tests.unit.vonage_fakes import FakeTransport, mount

    adapter = make_adapter()
    sms_http = mount(adapter.sms_client, FakeTransport(SMS_OK))
    app.extensions["providers"].register(adapter)
    assert vonage_get(client, app, 1, "HELP").status_code == 204
    ext = app.extensions
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 1
    [reply] = replies(db, 1)
    assert (reply.status, reply.provider, reply.message_id) == ("sent", "vonage", "0A0000000123ABCD1")
    assert len(sms_http.sent) == 1  # not the default provider (the simulator)

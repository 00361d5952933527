"""A callback through the real Twilio adapter: the SDK's request is caught at its HTTP
boundary, and Twilio's webhooks (form posts signed with X-Twilio-Signature over the
public URL) drive the same handlers as the simulator. TwiML answers are parsed as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback
from services.dialer.dialer import Dialer
from telephony.twilio_adapter import TwilioTelephony
from tests.integration.helpers import apply_call_events, book
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, call_payload, json_response

CALL_SID = "CA" + "a" * 32


@pytest.fixture
def twilio_http(app: Flask) -> FakeTwilioHttp:
    http = FakeTwilioHttp(json_response(201, call_payload(CALL_SID)))
    app.extensions["providers"].register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    return http


def post_signed(client: FlaskClient, app: Flask, url: str, form: dict[str, str], *, token: str = AUTH_TOKEN):  # type: ignore[no-untyped-def]
    signature = RequestValidator(token).compute_signature(url, form)
    path = url[len(app.extensions["settings"].public_base_url) :]
    return client.post(path, data=form, headers={"X-Twilio-Signature": signature})


def twiml(response) -> ET.Element:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.mimetype == "application/xml"
    return ET.fromstring(response.get_data())


def test_a_callback_through_twilio_from_dial_to_agent(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, primary_provider="twilio", agent_target="+442079460000")
    ref = book(client, 1).get_json()["ref"]
    dialer = Dialer(db, app.extensions["providers"], clock, app.extensions["settings"])
    assert dialer.dispatch() == 1

    sent = twilio_http.only_request
    answer_url, status_url = sent.values("Url")[0], sent.values("StatusCallback")[0]
    assert sent.values("To") == ["+447400000001"]
    with db.read() as session:
        attempt = session.scalars(select(Attempt)).one()
    assert (attempt.provider, attempt.call_id) == ("twilio", CALL_SID)

    base = {"CallSid": CALL_SID, "AccountSid": ACCOUNT_SID, "To": "+447400000001"}
    assert (
        post_signed(client, app, status_url, {**base, "CallStatus": "ringing", "SequenceNumber": "1"}).status_code
        == 204
    )
    menu = twiml(post_signed(client, app, answer_url, {**base, "CallStatus": "in-progress"}))
    gather = menu.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1"
    assert "returning your call" in "".join(say.text or "" for say in gather.iter("Say"))

    connect = twiml(post_signed(client, app, gather.get("action", ""), {**base, "Digits": "1"}))
    dial = connect.find("Dial")
    assert dial is not None and dial.findtext("Number") == "+442079460000"
    assert (
        post_signed(
            client, app, dial.get("action", ""), {**base, "DialCallStatus": "completed", "DialCallDuration": "180"}
        ).status_code
        == 200
    )
    done = post_signed(
        client, app, status_url, {**base, "CallStatus": "completed", "SequenceNumber": "3", "CallDuration": "200"}
    )
    assert done.status_code == 204
    apply_call_events(app)
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        attempt = session.scalars(select(Attempt)).one()
    assert callback.state == "completed"
    assert (attempt.outcome, attempt.duration_seconds, attempt.billable_seconds) == ("connected", 200, 200)


def test_twilio_webhooks_with_a_bad_signature_are_refused(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, primary_provider="twilio", agent_target="+442079460000")
    ref = book(client, 1).get_json()["ref"]
    Dialer(db, app.extensions["providers"], clock, app.extensions["settings"]).dispatch()
    status_url = twilio_http.only_request.values("StatusCallback")[0]
    form = {"CallSid": CALL_SID, "CallStatus": "busy", "SequenceNumber": "2"}
    assert post_signed(client, app, status_url, form, token="not-the-token").status_code == 403
    path = status_url[len(app.extensions["settings"].public_base_url) :]
    assert client.post(path, data=form).status_code == 403  # no signature at all
    # Signed over another URL (say, the proxy's internal http:// address): refused too.
    internal = RequestValidator(AUTH_TOKEN).compute_signature(
        status_url.replace("127.0.0.1:5000", "10.0.0.5:8000"), form
    )
    assert client.post(path, data=form, headers={"X-Twilio-Signature": internal}).status_code == 403
    assert apply_call_events(app) == 0  # nothing was stored
    with db.read() as session:
        assert session.scalars(select(Callback.state).where(Callback.ref == ref)).one() == "dialing"


@pytest.mark.parametrize(
    ("language", "spoken", "state", "heard"),
    [
        ("en", "Number 2, please.", "cancelled", "text"),  # a digit as the recogniser writes it
        ("fr", "Trois.", "cancelled", "annul"),
        ("ru", "один", "connected", None),
    ],
)
def test_the_callback_menu_takes_a_spoken_key_in_the_callbacks_language(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,  # type: ignore[no-untyped-def]
    language: str,
    spoken: str,
    state: str,
    heard: str | None,
) -> None:
    make_queue(estimated_wait_seconds=0, primary_provider="twilio", agent_target="+442079460000", language=language)
    ref = book(client, 1).get_json()["ref"]
    dialer = Dialer(db, app.extensions["providers"], clock, app.extensions["settings"])
    assert dialer.dispatch() == 1
    answer_url = twilio_http.only_request.values("Url")[0]
    base = {"CallSid": CALL_SID, "AccountSid": ACCOUNT_SID, "To": "+447400000001"}
    gather = twiml(post_signed(client, app, answer_url, {**base, "CallStatus": "in-progress"})).find("Gather")
    assert gather is not None and gather.get("input") == "dtmf speech"
    assert gather.get("language") == {"en": "en-GB", "fr": "fr-FR", "ru": "ru-RU"}[language]
    answer = twiml(
        post_signed(client, app, gather.get("action", ""), {**base, "SpeechResult": spoken, "Confidence": "0.8"})
    )
    if heard is None:
        assert answer.find("Dial") is not None  # 1: put through to the agent
    else:
        assert heard in " ".join(say.text or "" for say in answer.iter("Say")).lower()
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
    assert callback.state == state

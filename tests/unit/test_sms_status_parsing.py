"""parse_sms_status on each adapter: every provider word maps to ours, unknown ones are
refused with ValueError (the route answers 204 and logs), error codes are kept."""

from __future__ import annotations

import json

import pytest

from telephony.base import SmsStatus, WebhookRequest
from telephony.twilio_adapter import TwilioTelephony
from tests.unit.test_vonage_adapter import make_adapter
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response

URL = "https://cb.example.com/webhooks/x/sms/status"


def twilio() -> TwilioTelephony:
    return TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=FakeTwilioHttp(json_response(201, {})))


def form(**fields: str) -> WebhookRequest:
    return WebhookRequest("POST", URL, {}, form=fields)


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("queued", "queued"),
        ("accepted", "queued"),
        ("sending", "queued"),
        ("sent", "sent"),
        ("delivered", "delivered"),
        ("undelivered", "undelivered"),
        ("failed", "failed"),
    ],
)
def test_twilio_statuses(word: str, ours: str) -> None:
    report = twilio().parse_sms_status(form(MessageSid="SM1", MessageStatus=word, ErrorCode="30003"))
    assert report == SmsStatus("twilio", "SM1", ours, "30003", word)


def test_twilio_unknown_or_missing_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Twilio MessageStatus"):
        twilio().parse_sms_status(form(MessageSid="SM1", MessageStatus="teleported"))
    with pytest.raises(ValueError):
        twilio().parse_sms_status(form(MessageSid="SM1"))
    with pytest.raises(ValueError):
        twilio().parse_sms_status(form(MessageStatus="sent"))


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("accepted", "sent"),
        ("buffered", "sent"),
        ("unknown", "sent"),
        ("delivered", "delivered"),
        ("expired", "undelivered"),
        ("failed", "failed"),
        ("rejected", "failed"),
    ],
)
def test_vonage_delivery_receipt_by_get_and_post(word: str, ours: str) -> None:
    fields = {"messageId": "0A01", "status": word, "err-code": "0" if ours in ("sent", "delivered") else "5"}
    code = None if fields["err-code"] == "0" else "5"
    get = WebhookRequest("GET", URL, {}, query=fields)
    post = WebhookRequest("POST", URL, {}, form=fields)
    for request in (get, post):
        assert make_adapter().parse_sms_status(request) == SmsStatus("vonage", "0A01", ours, code, word)


@pytest.mark.parametrize(
    ("word", "ours"),
    [
        ("submitted", "sent"),
        ("delivered", "delivered"),
        ("read", "delivered"),
        ("undeliverable", "undelivered"),
        ("rejected", "failed"),
    ],
)
def test_vonage_messages_status(word: str, ours: str) -> None:
    document = {"message_uuid": "aaa-bbb", "status": word, "channel": "sms", "error": {"code": 1320}}
    request = WebhookRequest("POST", URL, {"Content-Type": "application/json"}, body=json.dumps(document).encode())
    assert make_adapter().parse_sms_status(request) == SmsStatus("vonage", "aaa-bbb", ours, "1320", word)


def test_vonage_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown Vonage SMS status"):
        make_adapter().parse_sms_status(WebhookRequest("GET", URL, {}, query={"messageId": "1", "status": "lost"}))
    body = json.dumps({"message_uuid": "u", "status": "teleported"}).encode()
    with pytest.raises(ValueError, match="unknown Vonage SMS status"):
        make_adapter().parse_sms_status(WebhookRequest("POST", URL, {}, body=body))


def test_sms_status_refuses_a_status_that_is_not_ours() -> None:
    with pytest.raises(ValueError):
        SmsStatus("simulator", "SIM1", "teleported")

"""TwilioTelephony + the real ``twilio`` SDK against Prism serving Twilio's API v2010 spec.

Every request the adapter makes must pass Prism's validation (``--errors``: a
violation is a 4xx, which the adapter raises as ProviderError). The negative controls
show the same path does fail when a request breaks the spec.
"""

from __future__ import annotations

import json
from datetime import UTC
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import pytest

from telephony.base import AnsweredBy, CallState, OutboundCall, PlacedCall, ProviderError, SentSms
from telephony.script import Hangup, Say, script
from telephony.twilio_adapter import STATUS_CALLBACK_EVENTS, TwilioTelephony
from tests.contract.conftest import TWILIO_ACCOUNT_SID, Exchange, PrismTwilioHttp, RefusedDestination
from tests.contract.spec_patches import FORM, Spec, body_fields

pytestmark = pytest.mark.contract

ACCOUNT = f"/2010-04-01/Accounts/{TWILIO_ACCOUNT_SID}"
CALLS = "/2010-04-01/Accounts/{AccountSid}/Calls.json"
CALL = "/2010-04-01/Accounts/{AccountSid}/Calls/{Sid}.json"
CALL_SID = "CA" + "0123456789abcdef" * 2
MESSAGES = "/2010-04-01/Accounts/{AccountSid}/Messages.json"
CUSTOMER = "+447700900123"
CALLER_ID = "+442071838750"
ANSWER_URL = "https://callbacks.example.com/telephony/twilio/answer?attempt=17"
STATUS_URL = "https://callbacks.example.com/telephony/twilio/status?attempt=17"
TWILIO_CALL_STATES = {
    "queued": CallState.QUEUED,
    "ringing": CallState.RINGING,
    "in-progress": CallState.ANSWERED,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
    "failed": CallState.FAILED,
    "canceled": CallState.CANCELED,
}


def outbound(machine_detection: bool) -> OutboundCall:
    return OutboundCall(
        to=CUSTOMER,
        from_=CALLER_ID,
        answer_url=ANSWER_URL,
        status_url=STATUS_URL,
        machine_detection=machine_detection,
        ring_timeout_seconds=25,
    )


def assert_known_fields(exchange: Exchange, spec: Spec, path: str) -> None:
    """Every form key sent is a parameter the operation defines (Prism skips unknown keys)."""
    unknown = {key for key, _ in exchange.form()} - body_fields(spec, path, "post", FORM)
    assert not unknown, f"{exchange.method} {path} sent parameters the spec does not define: {sorted(unknown)}"


def assert_accepted(exchange: Exchange, status: int) -> dict[str, object]:
    """Prism validated the request and answered from the spec's example."""
    assert exchange.status == status, f"Prism refused {exchange.method} {exchange.url}: {exchange.response_text}"
    assert exchange.violations() is None, exchange.violations()
    assert (exchange.header("Authorization") or "").startswith("Basic ")
    answer: dict[str, object] = json.loads(exchange.response_text)
    return answer


def test_place_call_with_machine_detection_conforms(
    twilio: TwilioTelephony, twilio_http: PrismTwilioHttp, twilio_spec: Spec
) -> None:
    placed = twilio.place_call(outbound(machine_detection=True))

    exchange = twilio_http.traffic.only
    answer = assert_accepted(exchange, 201)
    assert_known_fields(exchange, twilio_spec, CALLS)
    assert (exchange.method, urlsplit(exchange.url).path) == ("POST", f"{ACCOUNT}/Calls.json")
    assert placed == PlacedCall("twilio", str(answer["sid"]))
    # Prism keeps only the last of repeated keys (spec patch T1): check them all here.
    assert exchange.values("StatusCallbackEvent") == list(STATUS_CALLBACK_EVENTS)
    form = dict(exchange.form())
    assert form["To"] == CUSTOMER
    assert form["From"] == CALLER_ID
    assert form["Url"] == ANSWER_URL
    assert form["StatusCallback"] == STATUS_URL
    assert form["Timeout"] == "25"
    assert form["MachineDetection"] == "DetectMessageEnd"  # the verdict once a machine's greeting ended
    assert form["AsyncAmd"] == "true"
    assert form["AsyncAmdStatusCallback"] == STATUS_URL
    assert form["AsyncAmdStatusCallbackMethod"] == "POST"
    assert not twilio_http.traffic.refused


def test_place_call_without_machine_detection_conforms(
    twilio: TwilioTelephony, twilio_http: PrismTwilioHttp, twilio_spec: Spec
) -> None:
    placed = twilio.place_call(outbound(machine_detection=False))

    exchange = twilio_http.traffic.only
    answer = assert_accepted(exchange, 201)
    assert_known_fields(exchange, twilio_spec, CALLS)
    assert placed.call_id == answer["sid"]
    assert exchange.values("StatusCallbackEvent") == list(STATUS_CALLBACK_EVENTS)
    assert not {"MachineDetection", "AsyncAmd", "AsyncAmdStatusCallback"} & {key for key, _ in exchange.form()}


def test_fetch_call_conforms_and_reads_the_answer(twilio: TwilioTelephony, twilio_http: PrismTwilioHttp) -> None:
    call_sid = "CA" + "0123456789abcdef" * 2

    event = twilio.fetch_call(call_sid)

    exchange = twilio_http.traffic.only
    answer = assert_accepted(exchange, 200)
    assert (exchange.method, urlsplit(exchange.url).path) == ("GET", f"{ACCOUNT}/Calls/{call_sid}.json")
    # Prism answers the spec's example call, whatever sid we asked for.
    assert event.provider == "twilio"
    assert event.call_id == answer["sid"]
    assert event.state is TWILIO_CALL_STATES[str(answer["status"])]
    if answer.get("duration") not in (None, ""):
        assert event.duration_seconds == event.billable_seconds == int(str(answer["duration"]))
    if answer.get("start_time"):
        assert event.started_at == parsedate_to_datetime(str(answer["start_time"])).astimezone(UTC)
    if answer.get("end_time"):
        assert event.ended_at == parsedate_to_datetime(str(answer["end_time"])).astimezone(UTC)
    if str(answer.get("answered_by") or "").startswith("machine"):
        assert event.answered_by is AnsweredBy.MACHINE


def test_redirect_call_conforms(twilio: TwilioTelephony, twilio_http: PrismTwilioHttp, twilio_spec: Spec) -> None:
    """An answering machine's message: the live call's TwiML replaced (POST /Calls/{Sid})."""
    twilio.redirect_call(CALL_SID, script(Say("This was Support returning your call."), Hangup()))

    exchange = twilio_http.traffic.only
    assert_accepted(exchange, 200)
    assert_known_fields(exchange, twilio_spec, CALL)
    assert (exchange.method, urlsplit(exchange.url).path) == ("POST", f"{ACCOUNT}/Calls/{CALL_SID}.json")
    form = dict(exchange.form())
    assert set(form) == {"Twiml"}
    assert "<Say" in form["Twiml"] and "This was Support returning your call." in form["Twiml"]
    assert form["Twiml"].endswith("<Hangup /></Response>")


def test_send_sms_conforms(twilio: TwilioTelephony, twilio_http: PrismTwilioHttp, twilio_spec: Spec) -> None:
    sent = twilio.send_sms(CUSTOMER, CALLER_ID, "Your callback is at 10:30. Reply 2 to rebook.", STATUS_URL)

    exchange = twilio_http.traffic.only
    answer = assert_accepted(exchange, 201)
    assert_known_fields(exchange, twilio_spec, MESSAGES)
    assert (exchange.method, urlsplit(exchange.url).path) == ("POST", f"{ACCOUNT}/Messages.json")
    assert sent == SentSms("twilio", str(answer["sid"]))
    assert dict(exchange.form()) == {
        "To": CUSTOMER,
        "From": CALLER_ID,
        "Body": "Your callback is at 10:30. Reply 2 to rebook.",
        "StatusCallback": STATUS_URL,
    }


# --- negative controls: the same path must be able to fail -----------------------------------


def test_create_call_without_to_is_refused(twilio: TwilioTelephony, twilio_http: PrismTwilioHttp) -> None:
    twilio_http.tamper = lambda form: [(key, value) for key, value in form if key != "To"]

    with pytest.raises(ProviderError) as raised:
        twilio.place_call(outbound(machine_detection=True))

    exchange = twilio_http.traffic.only
    assert exchange.status == 422
    assert "'To'" in exchange.response_text
    assert raised.value.code == "422"
    assert not raised.value.permanent


def test_unknown_parameter_names_are_caught(
    twilio: TwilioTelephony, twilio_http: PrismTwilioHttp, twilio_spec: Spec
) -> None:
    """Prism ignores form keys the spec does not define; ``assert_known_fields`` does not."""
    twilio_http.tamper = lambda form: [*form, ("StatusCallbackEvents", "completed")]

    twilio.place_call(outbound(machine_detection=False))

    exchange = twilio_http.traffic.only
    assert exchange.status == 201  # Prism let it through ...
    with pytest.raises(AssertionError, match="StatusCallbackEvents"):  # ... the name check does not
        assert_known_fields(exchange, twilio_spec, CALLS)


def test_redirect_with_an_unknown_status_is_refused(twilio: TwilioTelephony, twilio_http: PrismTwilioHttp) -> None:
    twilio_http.tamper = lambda form: [*form, ("Status", "redirected")]

    with pytest.raises(ProviderError) as raised:
        twilio.redirect_call(CALL_SID, script(Hangup()))

    assert twilio_http.traffic.only.status == 422, twilio_http.traffic.only.response_text
    assert raised.value.code == "422"


def test_fetch_call_with_a_malformed_sid_is_refused(twilio: TwilioTelephony, twilio_http: PrismTwilioHttp) -> None:
    with pytest.raises(ProviderError) as raised:
        twilio.fetch_call("CA-not-a-call-sid")

    exchange = twilio_http.traffic.only
    assert 400 <= exchange.status < 500, exchange.response_text
    assert raised.value.code == str(exchange.status)


def test_the_test_client_only_talks_to_prism(twilio_http: PrismTwilioHttp) -> None:
    with pytest.raises(RefusedDestination):
        twilio_http.request("GET", "https://api.twilio.com.example.net/2010-04-01/Accounts.json")
    with pytest.raises(RefusedDestination):
        twilio_http.request("GET", "http://api.twilio.com/2010-04-01/Accounts.json")
    assert twilio_http.traffic.exchanges == []

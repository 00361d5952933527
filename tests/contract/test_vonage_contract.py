"""VonageTelephony + the real ``vonage`` 4.x SDK against Prism serving Vonage's Voice and
SMS API specs (2021, patched: ``spec_patches``).

Every request the adapter makes must pass Prism's validation (``--errors``: a
violation is a 4xx, which the adapter raises as ProviderError). The negative controls
show the same path does fail when a request breaks the spec.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest
import requests

from telephony.base import AnsweredBy, CallState, OutboundCall, PlacedCall, ProviderError, SentSms
from telephony.script import Hangup, Say, script
from tests.contract.conftest import Exchange, RefusedDestination, VonageHarness
from tests.contract.spec_patches import FORM, Spec, body_fields

pytestmark = pytest.mark.contract

JSON = "application/json"
API_KEY, API_SECRET = "abcd1234", "Contract-Secret-1"  # as the ``vonage`` fixture configures them
CUSTOMER = "+447700900123"
CALLER_ID = "+442071838750"
ANSWER_URL = "https://callbacks.example.com/telephony/vonage/answer?attempt=17"
STATUS_URL = "https://callbacks.example.com/telephony/vonage/event?attempt=17"
# Create-call fields the Voice API gained after the 2021 spec: Prism passes them
# unchecked (the body is open); they are listed here so nothing else can slip by.
NEWER_THAN_VOICE_SPEC = {"advanced_machine_detection"}
VONAGE_CALL_STATES = {
    "started": CallState.QUEUED,
    "ringing": CallState.RINGING,
    "answered": CallState.ANSWERED,
    "machine": CallState.ANSWERED,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "timeout": CallState.NO_ANSWER,
    "unanswered": CallState.NO_ANSWER,
    "failed": CallState.FAILED,
    "rejected": CallState.REJECTED,
    "cancelled": CallState.CANCELED,
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


def assert_accepted(exchange: Exchange, status: int) -> dict[str, object]:
    """Prism validated the request and answered from the spec's example."""
    assert exchange.status == status, f"Prism refused {exchange.method} {exchange.url}: {exchange.response_text}"
    assert exchange.violations() is None, exchange.violations()
    answer: dict[str, object] = json.loads(exchange.response_text)
    return answer


def bearer_claims(exchange: Exchange) -> dict[str, object]:
    scheme, _, token = (exchange.header("Authorization") or "").partition(" ")
    assert scheme == "Bearer" and token.count(".") == 2, "voice requests carry the application's JWT"
    payload = token.split(".")[1]
    claims: dict[str, object] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


# --- Voice -------------------------------------------------------------------------------------


def test_place_call_with_machine_detection_conforms(vonage: VonageHarness, vonage_voice_spec: Spec) -> None:
    placed = vonage.adapter.place_call(outbound(machine_detection=True))

    exchange = vonage.traffic.only
    answer = assert_accepted(exchange, 201)
    assert (exchange.method, urlsplit(exchange.url).path) == ("POST", "/")
    assert placed == PlacedCall("vonage", str(answer["uuid"]))
    assert bearer_claims(exchange)["application_id"] == "aaaaaaaa-bbbb-4ccc-8ddd-0123456789ab"
    body = json.loads(exchange.body)
    unknown = set(body) - body_fields(vonage_voice_spec, "/", "post", JSON) - NEWER_THAN_VOICE_SPEC
    assert not unknown, f"create-call fields the spec does not define: {sorted(unknown)}"
    assert body["to"] == [{"type": "phone", "number": CUSTOMER[1:]}]
    assert body["from"] == {"type": "phone", "number": CALLER_ID[1:]}
    assert body["answer_url"] == [ANSWER_URL]
    assert body["event_url"] == [STATUS_URL]
    assert body["ringing_timer"] == 25
    assert body["advanced_machine_detection"] == {"behavior": "continue", "mode": "detect_beep"}
    assert "ncco" not in body
    assert not vonage.traffic.refused


def test_place_call_without_machine_detection_conforms(vonage: VonageHarness, vonage_voice_spec: Spec) -> None:
    placed = vonage.adapter.place_call(outbound(machine_detection=False))

    exchange = vonage.traffic.only
    answer = assert_accepted(exchange, 201)
    assert placed.call_id == answer["uuid"]
    body = json.loads(exchange.body)
    assert not set(body) - body_fields(vonage_voice_spec, "/", "post", JSON)
    assert "advanced_machine_detection" not in body and "machine_detection" not in body


def test_fetch_call_conforms_and_reads_the_answer(vonage: VonageHarness) -> None:
    call_id = "63f61863-4a51-4f6b-86e1-46edebcf9356"

    event = vonage.adapter.fetch_call(call_id)

    exchange = vonage.traffic.only
    answer = assert_accepted(exchange, 200)
    assert (exchange.method, urlsplit(exchange.url).path) == ("GET", f"/{call_id}")
    bearer_claims(exchange)
    assert event.provider == "vonage"
    assert event.call_id == call_id
    assert event.state is VONAGE_CALL_STATES[str(answer["status"])]
    if answer["status"] == "machine":
        assert event.answered_by is AnsweredBy.MACHINE
    if answer.get("duration") not in (None, ""):
        assert event.duration_seconds == int(str(answer["duration"]))
    if answer.get("start_time"):
        # "YYYY-MM-DD HH:MM:SS" without a zone: UTC.
        assert event.started_at == datetime.fromisoformat(str(answer["start_time"])).replace(tzinfo=UTC)
    if answer.get("end_time"):
        assert event.ended_at == datetime.fromisoformat(str(answer["end_time"])).replace(tzinfo=UTC)


CALL_UUID = "63f61863-4a51-4f6b-86e1-46edebcf9356"
MACHINE_MESSAGE = script(Say("This was Support returning your call."), Hangup())


def test_redirect_call_conforms(vonage: VonageHarness) -> None:
    """An answering machine's message: the call transferred to a new NCCO (PUT /v1/calls/{uuid})."""
    vonage.adapter.redirect_call(CALL_UUID, MACHINE_MESSAGE)

    exchange = vonage.traffic.only
    assert exchange.status == 204, exchange.response_text
    assert exchange.violations() is None, exchange.violations()
    assert (exchange.method, urlsplit(exchange.url).path) == ("PUT", f"/{CALL_UUID}")
    bearer_claims(exchange)
    assert json.loads(exchange.body) == {
        "action": "transfer",
        "destination": {
            "type": "ncco",
            "ncco": [{"action": "talk", "text": "This was Support returning your call.", "language": "en-GB"}],
        },
    }


def test_redirect_to_a_hang_up_conforms(vonage: VonageHarness) -> None:
    vonage.adapter.redirect_call(CALL_UUID, script(Hangup()))

    exchange = vonage.traffic.only
    assert exchange.status == 204, exchange.response_text
    assert json.loads(exchange.body)["destination"]["ncco"][0]["action"] == "talk"  # a near-silent end


# --- SMS ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Your callback is at 10:30. Reply 2 to rebook.", None), ("Ваш звонок в 10:30", "unicode")],
    ids=["gsm7", "unicode"],
)
def test_send_sms_conforms(vonage: VonageHarness, vonage_sms_spec: Spec, text: str, encoding: str | None) -> None:
    sent = vonage.adapter.send_sms(CUSTOMER, CALLER_ID, text, STATUS_URL)

    exchange = vonage.traffic.only
    answer = assert_accepted(exchange, 200)
    assert (exchange.method, urlsplit(exchange.url).path) == ("POST", "/json")
    messages = answer["messages"]
    assert isinstance(messages, list) and messages
    assert sent == SentSms("vonage", str(messages[0]["message-id"]))
    # Basic auth (spec patch S1): the credentials travel in the header, not in the body.
    assert exchange.header("Authorization") == "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    # Sent as a form, and labelled as one (vonage-python-sdk issue 323 would say JSON).
    assert (exchange.header("Content-Type") or "").startswith(FORM)
    form = dict(exchange.form())
    assert not set(form) - body_fields(vonage_sms_spec, "/{format}", "post", FORM)
    assert {key: form.get(key) for key in ("to", "from", "text", "callback", "type")} == {
        "to": CUSTOMER[1:],
        "from": CALLER_ID[1:],
        "text": text,
        "callback": STATUS_URL,
        "type": encoding,
    }
    assert not {"api_key", "api_secret", "sig"} & set(form)


def test_sms_after_a_call_is_still_a_labelled_form(vonage: VonageHarness) -> None:
    """Separate SDK clients for voice and SMS (issue 323): a JSON call first must not
    turn the next SMS into form data labelled JSON, which the spec would refuse."""
    vonage.adapter.place_call(outbound(machine_detection=False))
    vonage.adapter.send_sms(CUSTOMER, CALLER_ID, "Your callback is at 10:30.")

    call, sms = vonage.traffic.exchanges
    assert call.status == 201 and sms.status == 200, sms.response_text
    assert (sms.header("Content-Type") or "").startswith(FORM)


# --- negative controls: the same path must be able to fail ---------------------------------------


def _rewrite_json(request: requests.PreparedRequest, change: dict[str, object]) -> None:
    assert isinstance(request.body, bytes)
    document = json.loads(request.body)
    document.update(change)
    request.prepare_body(None, None, json=document)


def test_create_call_with_a_malformed_to_is_refused(vonage: VonageHarness) -> None:
    vonage.tamper(lambda request: _rewrite_json(request, {"to": [{"type": "phone", "number": "12"}]}))

    with pytest.raises(ProviderError) as raised:
        vonage.adapter.place_call(outbound(machine_detection=True))

    exchange = vonage.traffic.only
    assert exchange.status == 422, exchange.response_text
    assert "HTTP 422" in raised.value.message
    assert raised.value.code in {"bad_request", "invalid_number"}


def test_create_call_with_a_plus_in_the_number_is_refused(vonage: VonageHarness) -> None:
    """Spec patch V2 anchors the number pattern: the E.164 '+' must be stripped."""
    vonage.tamper(lambda request: _rewrite_json(request, {"to": [{"type": "phone", "number": CUSTOMER}]}))

    with pytest.raises(ProviderError):
        vonage.adapter.place_call(outbound(machine_detection=False))

    assert vonage.traffic.only.status == 422, vonage.traffic.only.response_text


def test_a_transfer_without_its_ncco_is_refused(vonage: VonageHarness) -> None:
    vonage.tamper(lambda request: _rewrite_json(request, {"destination": {"type": "ncco"}}))

    with pytest.raises(ProviderError):
        vonage.adapter.redirect_call(CALL_UUID, MACHINE_MESSAGE)

    assert vonage.traffic.only.status == 422, vonage.traffic.only.response_text


def test_sms_without_credentials_is_refused(vonage: VonageHarness) -> None:
    """Spec patch S1 moved the credentials to Basic auth; it did not drop them."""

    def drop_credentials(request: requests.PreparedRequest) -> None:
        del request.headers["Authorization"]

    vonage.tamper(drop_credentials)

    with pytest.raises(ProviderError) as raised:
        vonage.adapter.send_sms(CUSTOMER, CALLER_ID, "Your callback is at 10:30.")

    assert vonage.traffic.only.status == 401
    assert raised.value.code == "auth"


def test_the_test_transport_only_talks_to_prism(vonage: VonageHarness) -> None:
    session = vonage.adapter.voice_client.http_client._session
    with pytest.raises(RefusedDestination):
        session.get("https://api.nexmo.com/v1/calls", timeout=5)
    with pytest.raises(RefusedDestination):
        session.get("http://example.com/", timeout=5)
    assert vonage.traffic.exchanges == []

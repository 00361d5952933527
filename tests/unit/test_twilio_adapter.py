"""The Twilio adapter, run through the real SDK with a fake at its HTTP boundary."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
import requests
from twilio.base.exceptions import TwilioException
from twilio.http.response import Response
from twilio.request_validator import RequestValidator

from telephony.base import (
    AnsweredBy,
    CallState,
    OutboundCall,
    PlacedCall,
    ProviderError,
    QueueData,
    QueueExit,
    SentSms,
    SignatureError,
    Telephony,
    WebhookRequest,
)
from telephony.script import Connect, Enqueue, Gather, Hangup, Leave, Pause, Play, Say, script
from telephony.twilio_adapter import (
    PERMANENT_ERROR_CODES,
    REQUEST_TIMEOUT_SECONDS,
    TwilioTelephony,
    is_permanent_error_code,
)
from tests.unit.twilio_fake_http import (
    ACCOUNT_SID,
    API,
    AUTH_TOKEN,
    FakeTwilioHttp,
    call_payload,
    json_response,
    message_payload,
    twilio_error,
)

CALL_SID = "CA" + "a" * 32
MESSAGE_SID = "SM" + "b" * 32
CUSTOMER = "+447700900123"
OUR_NUMBER = "+442071838750"
STATUS_URL = "https://callbacks.example.com/webhooks/twilio/status?attempt=42"
ANSWER_URL = "https://callbacks.example.com/webhooks/twilio/voice?attempt=42"


def adapter(*outcomes: Response | BaseException) -> tuple[TwilioTelephony, FakeTwilioHttp]:
    http = FakeTwilioHttp(*outcomes)
    return TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=http), http


def outbound(**changes: object) -> OutboundCall:
    fields: dict[str, object] = {
        "to": CUSTOMER,
        "from_": OUR_NUMBER,
        "answer_url": ANSWER_URL,
        "status_url": STATUS_URL,
        "machine_detection": True,
        "ring_timeout_seconds": 25,
    }
    fields.update(changes)
    return OutboundCall(**fields)  # type: ignore[arg-type]


def form_post(form: dict[str, str], url: str = STATUS_URL) -> WebhookRequest:
    return WebhookRequest(method="POST", url=url, headers={}, form=form)


def test_the_adapter_is_a_telephony_provider_named_twilio() -> None:
    twilio, _ = adapter()
    assert isinstance(twilio, Telephony)
    assert twilio.name == "twilio"


def test_the_default_http_client_gives_up_after_a_timeout() -> None:
    # The SDK's own default waits forever, which would hang a dialer worker.
    twilio = TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN)
    assert twilio._client.http_client.timeout == REQUEST_TIMEOUT_SECONDS


# --- render -------------------------------------------------------------------------


def rendered(*actions: object) -> ET.Element:
    twilio, _ = adapter()
    result = twilio.render(script(*actions))  # type: ignore[arg-type]
    assert result.content_type == "application/xml"
    root = ET.fromstring(result.body.encode("utf-8"))
    assert root.tag == "Response"
    return root


def test_say_play_pause_and_hangup_render_in_order() -> None:
    root = rendered(
        Say("Hello, this is Acme.", language="fr-FR"),
        Play("https://cdn.example.com/hold.mp3"),
        Pause(seconds=2),
        Hangup(),
    )
    assert [child.tag for child in root] == ["Say", "Play", "Pause", "Hangup"]
    say, play, pause, hangup = root
    assert say.text == "Hello, this is Acme."
    assert say.attrib == {"language": "fr-FR"}
    assert play.text == "https://cdn.example.com/hold.mp3"
    assert pause.attrib == {"length": "2"}
    assert hangup.attrib == {} and len(hangup) == 0


def test_a_keypad_gather_posts_to_its_action_even_when_nothing_is_pressed() -> None:
    root = rendered(
        Gather(
            prompt=(Say("Press 1 to be connected.", language="en-GB"), Pause(1), Play("https://cdn.example.com/b.mp3")),
            action_url="https://callbacks.example.com/webhooks/twilio/menu?step=1",
            num_digits=1,
            timeout_seconds=6,
        )
    )
    (gather,) = root
    assert gather.tag == "Gather"
    assert gather.attrib == {
        "input": "dtmf",
        "numDigits": "1",
        "action": "https://callbacks.example.com/webhooks/twilio/menu?step=1",
        "method": "POST",
        "timeout": "6",
        "actionOnEmptyResult": "true",
    }
    assert [child.tag for child in gather] == ["Say", "Pause", "Play"]
    assert gather[0].text == "Press 1 to be connected."
    assert gather[0].attrib == {"language": "en-GB"}


def test_a_speech_gather_accepts_keys_and_speech_in_its_language() -> None:
    root = rendered(
        Gather(
            prompt=(Say("Dites oui ou tapez 1.", language="fr-FR"),),
            action_url="https://callbacks.example.com/menu",
            num_digits=2,
            timeout_seconds=8,
            speech=True,
            speech_language="fr-FR",
        )
    )
    (gather,) = root
    assert gather.attrib["input"] == "dtmf speech"
    assert gather.attrib["language"] == "fr-FR"
    assert gather.attrib["numDigits"] == "2"
    assert gather.attrib["timeout"] == "8"
    assert gather[0].tag == "Say"


@pytest.mark.parametrize(
    ("target", "noun", "value"),
    [
        ("+441632960001", "Number", "+441632960001"),
        ("tel:+441632960001", "Number", "+441632960001"),
        ("sip:agent42@pbx.example.com", "Sip", "sip:agent42@pbx.example.com"),
        ("queue:support", "Queue", "support"),
    ],
)
def test_connect_dials_each_kind_of_target(target: str, noun: str, value: str) -> None:
    root = rendered(
        Connect(target, caller_id=OUR_NUMBER, timeout_seconds=20, status_url="https://callbacks.example.com/dial")
    )
    (dial,) = root
    assert dial.tag == "Dial"
    assert dial.attrib == {
        "callerId": OUR_NUMBER,
        "timeout": "20",
        "action": "https://callbacks.example.com/dial",
        "method": "POST",
    }
    assert [(child.tag, child.text) for child in dial] == [(noun, value)]
    assert dial.text is None


def test_connect_without_a_status_url_has_no_dial_action() -> None:
    (dial,) = rendered(Connect("+441632960001"))
    assert dial.attrib == {"timeout": "30"}
    assert dial[0].tag == "Number"


@pytest.mark.parametrize("target", ["07700 900123", "441632960001", "queue:", "client:alice", ""])
def test_connect_refuses_a_target_it_cannot_dial(target: str) -> None:
    twilio, _ = adapter()
    with pytest.raises(ValueError):
        twilio.render(script(Connect(target)))


def test_enqueue_holds_the_caller_in_a_twilio_queue_and_leave_takes_them_out() -> None:
    wait, after = "https://cb.example.com/ivr/wait", "https://cb.example.com/ivr/after"
    (say, enqueue) = rendered(Say("Please hold."), Enqueue("Support line", wait_url=wait, action_url=after))
    assert (say.tag, enqueue.tag, enqueue.text) == ("Say", "Enqueue", "Support line")
    assert enqueue.attrib == {"action": after, "method": "POST", "waitUrl": wait, "waitUrlMethod": "POST"}
    (leave,) = rendered(Leave())
    assert leave.tag == "Leave" and leave.attrib == {} and list(leave) == []


def test_twilio_says_it_can_hold_callers_in_its_own_queue() -> None:
    twilio, _ = adapter()
    assert twilio.supports_enqueue is True


def test_the_rendered_body_is_an_xml_document() -> None:
    twilio, _ = adapter()
    result = twilio.render(script(Say("Goodbye."), Hangup()))
    assert result.body.startswith('<?xml version="1.0" encoding="UTF-8"?><Response>')


# --- verify -----------------------------------------------------------------------

FORM = {
    "CallSid": CALL_SID,
    "AccountSid": ACCOUNT_SID,
    "CallStatus": "completed",
    "CallDuration": "42",
    "To": CUSTOMER,
    "From": OUR_NUMBER,
}


def signed(
    form: dict[str, str],
    url: str = STATUS_URL,
    token: str = AUTH_TOKEN,
    header: str = "X-Twilio-Signature",
) -> WebhookRequest:
    signature = RequestValidator(token).compute_signature(url, form)
    return WebhookRequest(method="POST", url=url, headers={header: signature}, form=form)


def test_a_request_signed_by_twilio_is_accepted() -> None:
    twilio, _ = adapter()
    twilio.verify(signed(FORM))


@pytest.mark.parametrize("header", ["x-twilio-signature", "X-TWILIO-SIGNATURE"])
def test_the_signature_header_is_found_whatever_its_case(header: str) -> None:
    twilio, _ = adapter()
    twilio.verify(signed(FORM, header=header))


def test_a_signed_get_with_its_parameters_in_the_url_is_accepted() -> None:
    twilio, _ = adapter()
    url = f"{STATUS_URL}&CallSid={CALL_SID}&CallStatus=ringing"
    request = WebhookRequest(
        method="GET", url=url, headers={"X-Twilio-Signature": RequestValidator(AUTH_TOKEN).compute_signature(url, {})}
    )
    twilio.verify(request)


def test_a_tampered_parameter_is_refused() -> None:
    twilio, _ = adapter()
    good = signed(FORM)
    tampered = WebhookRequest(good.method, good.url, good.headers, {**FORM, "CallStatus": "busy"})
    with pytest.raises(SignatureError):
        twilio.verify(tampered)


def test_an_added_parameter_is_refused() -> None:
    twilio, _ = adapter()
    good = signed(FORM)
    with pytest.raises(SignatureError):
        twilio.verify(WebhookRequest(good.method, good.url, good.headers, {**FORM, "AnsweredBy": "human"}))


@pytest.mark.parametrize(
    "called_url",
    [
        STATUS_URL.replace("https://", "http://"),
        STATUS_URL.replace("attempt=42", "attempt=43"),
        "https://callbacks.example.com/webhooks/twilio/voice?attempt=42",
        "https://evil.example.com/webhooks/twilio/status?attempt=42",
    ],
)
def test_a_signature_for_another_url_is_refused(called_url: str) -> None:
    twilio, _ = adapter()
    good = signed(FORM)
    with pytest.raises(SignatureError):
        twilio.verify(WebhookRequest(good.method, called_url, good.headers, FORM))


def test_a_signature_made_with_another_token_is_refused() -> None:
    twilio, _ = adapter()
    with pytest.raises(SignatureError):
        twilio.verify(signed(FORM, token="someone-elses-token"))


@pytest.mark.parametrize("headers", [{}, {"X-Twilio-Signature": ""}, {"X-Other": "abc"}])
def test_a_request_without_a_signature_is_refused(headers: dict[str, str]) -> None:
    twilio, _ = adapter()
    with pytest.raises(SignatureError):
        twilio.verify(WebhookRequest("POST", STATUS_URL, headers, FORM))


def json_webhook(body: bytes, signed_body: bytes | None = None) -> WebhookRequest:
    digest = hashlib.sha256(signed_body if signed_body is not None else body).hexdigest()
    url = f"https://callbacks.example.com/webhooks/twilio/events?bodySHA256={digest}"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    return WebhookRequest("POST", url, {"X-Twilio-Signature": signature, "Content-Type": "application/json"}, body=body)


def test_a_signed_json_body_is_accepted() -> None:
    twilio, _ = adapter()
    twilio.verify(json_webhook(json.dumps({"CallSid": CALL_SID, "status": "completed"}).encode()))


def test_a_json_body_that_does_not_match_its_bodysha256_is_refused() -> None:
    twilio, _ = adapter()
    original = json.dumps({"CallSid": CALL_SID, "status": "completed"}).encode()
    with pytest.raises(SignatureError):
        twilio.verify(json_webhook(b'{"CallSid": "CAother", "status": "completed"}', signed_body=original))


def test_a_json_body_without_bodysha256_is_refused() -> None:
    twilio, _ = adapter()
    url = "https://callbacks.example.com/webhooks/twilio/events"
    signature = RequestValidator(AUTH_TOKEN).compute_signature(url, {})
    request = WebhookRequest(
        "POST", url, {"X-Twilio-Signature": signature, "content-type": "application/json"}, body=b'{"a": 1}'
    )
    with pytest.raises(SignatureError):
        twilio.verify(request)


# --- parse_call_event -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("queued", CallState.QUEUED),
        ("initiated", CallState.QUEUED),
        ("ringing", CallState.RINGING),
        ("in-progress", CallState.ANSWERED),
        ("completed", CallState.COMPLETED),
        ("busy", CallState.BUSY),
        ("no-answer", CallState.NO_ANSWER),
        ("failed", CallState.FAILED),
        ("canceled", CallState.CANCELED),
    ],
)
def test_each_call_status_maps_to_a_neutral_state(status: str, state: CallState) -> None:
    twilio, _ = adapter()
    event = twilio.parse_call_event(form_post({"CallSid": CALL_SID, "CallStatus": status, "SequenceNumber": "0"}))
    assert event.provider == "twilio"
    assert event.call_id == CALL_SID
    assert event.state is state
    assert event.answered_by is None


def test_a_completed_call_reports_its_order_duration_end_and_recording() -> None:
    twilio, _ = adapter()
    event = twilio.parse_call_event(
        form_post(
            {
                "CallSid": CALL_SID,
                "CallStatus": "completed",
                "AnsweredBy": "human",
                "SequenceNumber": "3",
                "CallDuration": "42",
                "Duration": "1",
                "Timestamp": "Mon, 04 Jan 2027 10:05:42 +0000",
                "RecordingUrl": "https://api.twilio.com/recordings/RE1",
                "CallbackSource": "call-progress-events",
            }
        )
    )
    assert event.state is CallState.COMPLETED
    assert event.answered_by is AnsweredBy.HUMAN
    assert event.sequence == 3
    assert event.duration_seconds == 42  # CallDuration (seconds), not Duration (minutes)
    assert event.billable_seconds == 42
    assert event.ended_at == datetime(2027, 1, 4, 10, 5, 42, tzinfo=UTC)
    assert event.started_at is None and event.answered_at is None
    assert event.recording_url == "https://api.twilio.com/recordings/RE1"
    assert event.dedupe_key == f"{CALL_SID}:completed:3"


def test_timestamps_become_aware_utc_whatever_offset_twilio_used() -> None:
    twilio, _ = adapter()
    event = twilio.parse_call_event(
        form_post({"CallSid": CALL_SID, "CallStatus": "in-progress", "Timestamp": "Mon, 04 Jan 2027 05:00:07 -0500"})
    )
    assert event.answered_at == datetime(2027, 1, 4, 10, 0, 7, tzinfo=UTC)
    assert event.answered_at.utcoffset() is not None
    initiated = twilio.parse_call_event(
        form_post({"CallSid": CALL_SID, "CallStatus": "initiated", "Timestamp": "Mon, 04 Jan 2027 10:00:00 -0000"})
    )
    assert initiated.started_at == datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def test_a_failed_call_carries_its_error_code() -> None:
    twilio, _ = adapter()
    event = twilio.parse_call_event(
        form_post({"CallSid": CALL_SID, "CallStatus": "failed", "ErrorCode": "13224", "SequenceNumber": "1"})
    )
    assert event.state is CallState.FAILED
    assert event.error_code == "13224"
    assert is_permanent_error_code(event.error_code)


@pytest.mark.parametrize(
    ("raw", "answered_by"),
    [
        ("human", AnsweredBy.HUMAN),
        ("machine_start", AnsweredBy.MACHINE),
        ("machine_end_beep", AnsweredBy.MACHINE),
        ("machine_end_silence", AnsweredBy.MACHINE),
        ("machine_end_other", AnsweredBy.MACHINE),
        ("fax", AnsweredBy.MACHINE),
        ("unknown", AnsweredBy.UNKNOWN),
    ],
)
def test_the_async_amd_verdict_is_an_answered_event_with_who_answered(raw: str, answered_by: AnsweredBy) -> None:
    twilio, _ = adapter()
    event = twilio.parse_call_event(
        form_post(
            {"CallSid": CALL_SID, "AccountSid": ACCOUNT_SID, "AnsweredBy": raw, "MachineDetectionDuration": "2350"}
        )
    )
    assert event.state is CallState.ANSWERED
    assert event.answered_by is answered_by
    assert event.dedupe_key == f"{CALL_SID}:amd:{raw}"
    # DetectMessageEnd: a machine's verdict once its greeting ended (a message is then recorded).
    assert event.greeting_ended is raw.startswith("machine_end")


def test_a_redelivered_report_has_the_same_dedupe_key() -> None:
    twilio, _ = adapter()
    report = {
        "CallSid": CALL_SID,
        "CallStatus": "ringing",
        "SequenceNumber": "1",
        "Timestamp": "Mon, 04 Jan 2027 10:00:01 +0000",
    }
    first = twilio.parse_call_event(form_post(report))
    again = twilio.parse_call_event(form_post(dict(report)))
    assert first.dedupe_key == again.dedupe_key
    assert first == again


def test_distinct_reports_have_distinct_dedupe_keys() -> None:
    twilio, _ = adapter()
    forms = [
        {"CallSid": CALL_SID, "CallStatus": "initiated", "SequenceNumber": "0"},
        {"CallSid": CALL_SID, "CallStatus": "ringing", "SequenceNumber": "1"},
        {"CallSid": CALL_SID, "CallStatus": "in-progress", "SequenceNumber": "2"},
        {"CallSid": CALL_SID, "CallStatus": "completed", "SequenceNumber": "3"},
        {"CallSid": CALL_SID, "CallStatus": "completed"},
        {"CallSid": CALL_SID, "AnsweredBy": "human"},
        {"CallSid": CALL_SID, "AnsweredBy": "machine_start"},
        {"CallSid": "CA" + "c" * 32, "CallStatus": "completed", "SequenceNumber": "3"},
    ]
    keys = [twilio.parse_call_event(form_post(form)).dedupe_key for form in forms]
    assert len(set(keys)) == len(keys), keys


@pytest.mark.parametrize(
    ("form", "complaint"),
    [
        ({"CallStatus": "completed"}, "CallSid"),
        ({"CallSid": "  ", "CallStatus": "completed"}, "CallSid"),
        ({"CallSid": CALL_SID, "CallStatus": "answered"}, "CallStatus"),
        ({"CallSid": CALL_SID}, "neither CallStatus nor AnsweredBy"),
        ({"CallSid": CALL_SID, "CallStatus": "ringing", "SequenceNumber": "two"}, "SequenceNumber"),
        ({"CallSid": CALL_SID, "CallStatus": "completed", "CallDuration": "4.5"}, "CallDuration"),
        ({"CallSid": CALL_SID, "CallStatus": "ringing", "Timestamp": "yesterday"}, "Timestamp"),
    ],
)
def test_a_malformed_call_event_is_refused_with_a_clear_message(form: dict[str, str], complaint: str) -> None:
    twilio, _ = adapter()
    with pytest.raises(ValueError, match=complaint):
        twilio.parse_call_event(form_post(form))


# --- parse_gather, parse_dial_result, parse_inbound_sms ------------------------------


def test_a_gather_reports_the_keys_pressed() -> None:
    twilio, _ = adapter()
    result = twilio.parse_gather(form_post({"CallSid": CALL_SID, "Digits": "1", "FinishedOnKey": ""}))
    assert (result.call_id, result.digits, result.speech, result.confidence) == (CALL_SID, "1", None, None)


def test_a_gather_reports_what_was_said_and_how_sure_twilio_is() -> None:
    twilio, _ = adapter()
    result = twilio.parse_gather(
        form_post({"CallSid": CALL_SID, "SpeechResult": "Connect me.", "Confidence": "0.91", "Language": "en-GB"})
    )
    assert result.digits is None
    assert result.speech == "Connect me."
    assert result.confidence == pytest.approx(0.91)


def test_an_empty_gather_reports_nothing_pressed() -> None:
    twilio, _ = adapter()
    result = twilio.parse_gather(form_post({"CallSid": CALL_SID, "Digits": ""}))
    assert (result.digits, result.speech, result.confidence) == (None, None, None)


def test_enqueue_wait_url_figures_become_queue_data_and_their_absence_none() -> None:
    twilio, _ = adapter()
    queued = {"QueuePosition": "3", "QueueTime": "42", "AvgQueueTime": "180", "CurrentQueueSize": "7"}
    result = twilio.parse_gather(form_post({"CallSid": CALL_SID, "Digits": "", **queued}))
    assert result.queue_data == QueueData(position=3, waited_seconds=42, average_wait_seconds=180, size=7)
    dial = twilio.parse_dial_result(form_post({"CallSid": CALL_SID, "DialCallStatus": "busy", "QueueTime": "9"}))
    assert dial.queue_data == QueueData(waited_seconds=9)
    assert twilio.parse_gather(form_post({"CallSid": CALL_SID, "Digits": "1"})).queue_data is None
    odd = twilio.parse_gather(form_post({"CallSid": CALL_SID, "AvgQueueTime": "soon", "QueuePosition": "-2"}))
    assert odd.queue_data == QueueData()  # unreadable figures are dropped, not a refused call


@pytest.mark.parametrize(
    ("raw", "exit"),
    [
        ("leave", QueueExit.LEFT),
        ("bridged", QueueExit.BRIDGED),
        ("bridging-in-process", QueueExit.BRIDGED),
        ("hangup", QueueExit.HUNG_UP),
        ("queue-full", QueueExit.FAILED),
        ("error", QueueExit.FAILED),
        ("system-error", QueueExit.FAILED),
        ("redirected", QueueExit.FAILED),
        ("something-new", QueueExit.FAILED),
    ],
)
def test_an_enqueue_action_reports_how_the_caller_got_out_of_the_queue(raw: str, exit: QueueExit) -> None:
    twilio, _ = adapter()
    form = {"CallSid": CALL_SID, "QueueResult": raw, "QueueSid": "QU" + "e" * 32, "QueueTime": "75"}
    result = twilio.parse_gather(form_post(form))
    assert result.queue_exit is exit and result.queue_data == QueueData(waited_seconds=75)
    assert twilio.parse_gather(form_post({"CallSid": CALL_SID, "Digits": "1"})).queue_exit is None


@pytest.mark.parametrize("form", [{"Digits": "1"}, {"CallSid": CALL_SID, "SpeechResult": "yes", "Confidence": "very"}])
def test_a_malformed_gather_is_refused(form: dict[str, str]) -> None:
    twilio, _ = adapter()
    with pytest.raises(ValueError):
        twilio.parse_gather(form_post(form))


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("completed", CallState.COMPLETED),
        ("answered", CallState.ANSWERED),
        ("busy", CallState.BUSY),
        ("no-answer", CallState.NO_ANSWER),
        ("failed", CallState.FAILED),
        ("canceled", CallState.CANCELED),
    ],
)
def test_the_dial_action_reports_how_the_bridge_to_the_agent_went(status: str, state: CallState) -> None:
    twilio, _ = adapter()
    result = twilio.parse_dial_result(
        form_post(
            {
                "CallSid": CALL_SID,
                "CallStatus": "in-progress",
                "DialCallSid": "CA" + "d" * 32,
                "DialCallStatus": status,
                "DialCallDuration": "61",
            }
        )
    )
    assert result.call_id == CALL_SID  # the customer's call, not the agent leg
    assert result.state is state
    assert result.duration_seconds == 61


@pytest.mark.parametrize(
    "form",
    [
        {"CallSid": CALL_SID, "CallStatus": "completed"},
        {"DialCallStatus": "completed"},
        {"CallSid": CALL_SID, "DialCallStatus": "ringing"},
    ],
)
def test_a_malformed_dial_result_is_refused(form: dict[str, str]) -> None:
    twilio, _ = adapter()
    with pytest.raises(ValueError):
        twilio.parse_dial_result(form_post(form))


def test_an_inbound_text_is_read_from_twilios_fields() -> None:
    twilio, _ = adapter()
    sms = twilio.parse_inbound_sms(
        form_post(
            {
                "MessageSid": MESSAGE_SID,
                "SmsSid": MESSAGE_SID,
                "AccountSid": ACCOUNT_SID,
                "From": CUSTOMER,
                "To": OUR_NUMBER,
                "Body": " Reschedule ",
                "NumMedia": "0",
            }
        )
    )
    assert (sms.provider, sms.message_id, sms.from_, sms.to) == ("twilio", MESSAGE_SID, CUSTOMER, OUR_NUMBER)
    assert sms.text == " Reschedule "  # the text as sent; command parsing trims


def test_an_inbound_text_without_an_id_is_refused() -> None:
    twilio, _ = adapter()
    with pytest.raises(ValueError, match="MessageSid"):
        twilio.parse_inbound_sms(form_post({"From": CUSTOMER, "To": OUR_NUMBER, "Body": "1"}))


# --- place_call, send_sms, fetch_call -------------------------------------------------


def test_place_call_asks_for_progress_and_async_amd_with_the_exact_form_fields() -> None:
    twilio, http = adapter(json_response(201, call_payload(CALL_SID)))
    placed = twilio.place_call(outbound())
    assert placed == PlacedCall("twilio", CALL_SID)
    sent = http.only_request
    assert (sent.method, sent.url) == ("POST", f"{API}/Calls.json")
    assert sent.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert sorted(sent.form) == sorted(
        [
            ("To", CUSTOMER),
            ("From", OUR_NUMBER),
            ("Url", ANSWER_URL),
            ("Method", "POST"),
            ("StatusCallback", STATUS_URL),
            ("StatusCallbackMethod", "POST"),
            ("StatusCallbackEvent", "initiated"),
            ("StatusCallbackEvent", "ringing"),
            ("StatusCallbackEvent", "answered"),
            ("StatusCallbackEvent", "completed"),
            ("Timeout", "25"),
            ("MachineDetection", "DetectMessageEnd"),
            ("AsyncAmd", "true"),
            ("AsyncAmdStatusCallback", STATUS_URL),
            ("AsyncAmdStatusCallbackMethod", "POST"),
        ]
    )
    # One repeated key per event, as the API wants them (not "initiated,ringing,...").
    assert sent.values("StatusCallbackEvent") == ["initiated", "ringing", "answered", "completed"]


def test_place_call_without_machine_detection_sends_no_amd_fields() -> None:
    twilio, http = adapter(json_response(201, call_payload(CALL_SID)))
    twilio.place_call(outbound(machine_detection=False))
    assert http.only_request.keys() == {
        "To",
        "From",
        "Url",
        "Method",
        "StatusCallback",
        "StatusCallbackMethod",
        "StatusCallbackEvent",
        "Timeout",
    }


def test_the_process_environment_cannot_redirect_the_api(monkeypatch: pytest.MonkeyPatch) -> None:
    # twilio.rest.Client reads TWILIO_REGION/TWILIO_EDGE from os.environ unless told not to.
    monkeypatch.setenv("TWILIO_REGION", "au1")
    monkeypatch.setenv("TWILIO_EDGE", "sydney")
    twilio, http = adapter(json_response(201, call_payload(CALL_SID)))
    twilio.place_call(outbound())
    assert http.only_request.url == f"{API}/Calls.json"


def test_send_sms_sends_to_from_body_and_status_callback() -> None:
    twilio, http = adapter(json_response(201, message_payload(MESSAGE_SID)))
    sent = twilio.send_sms(CUSTOMER, OUR_NUMBER, "Your callback is at 10:30.", "https://callbacks.example.com/sms")
    assert sent == SentSms("twilio", MESSAGE_SID)
    request = http.only_request
    assert (request.method, request.url) == ("POST", f"{API}/Messages.json")
    assert sorted(request.form) == sorted(
        [
            ("To", CUSTOMER),
            ("From", OUR_NUMBER),
            ("Body", "Your callback is at 10:30."),
            ("StatusCallback", "https://callbacks.example.com/sms"),
        ]
    )


def test_send_sms_without_a_status_url_sends_no_status_callback() -> None:
    twilio, http = adapter(json_response(201, message_payload(MESSAGE_SID)))
    twilio.send_sms(CUSTOMER, OUR_NUMBER, "Hi")
    assert http.only_request.keys() == {"To", "From", "Body"}


def test_fetch_call_reads_status_who_answered_duration_and_times() -> None:
    twilio, http = adapter(
        json_response(
            200,
            call_payload(
                CALL_SID,
                status="completed",
                answered_by="machine_end_beep",
                duration="42",
                start_time="Mon, 04 Jan 2027 10:00:05 +0000",
                end_time="Mon, 04 Jan 2027 10:00:47 +0000",
            ),
        )
    )
    event = twilio.fetch_call(CALL_SID)
    request = http.only_request
    assert (request.method, request.url) == ("GET", f"{API}/Calls/{CALL_SID}.json")
    assert event.provider == "twilio"
    assert event.call_id == CALL_SID
    assert event.state is CallState.COMPLETED
    assert event.answered_by is AnsweredBy.MACHINE
    assert event.duration_seconds == 42
    assert event.started_at == datetime(2027, 1, 4, 10, 0, 5, tzinfo=UTC)
    assert event.ended_at == datetime(2027, 1, 4, 10, 0, 47, tzinfo=UTC)
    assert event.dedupe_key


def test_fetch_call_of_a_call_still_ringing() -> None:
    twilio, _ = adapter(json_response(200, call_payload(CALL_SID, status="ringing")))
    event = twilio.fetch_call(CALL_SID)
    assert event.state is CallState.RINGING
    assert (event.answered_by, event.duration_seconds, event.started_at, event.ended_at) == (None, None, None, None)


def test_fetch_call_with_a_status_we_do_not_know_is_a_provider_error() -> None:
    twilio, _ = adapter(json_response(200, call_payload(CALL_SID, status="teleported")))
    with pytest.raises(ProviderError) as caught:
        twilio.fetch_call(CALL_SID)
    assert caught.value.permanent is False


# --- errors -------------------------------------------------------------------------

Operation = Callable[[TwilioTelephony], object]

OPERATIONS: dict[str, Operation] = {
    "place_call": lambda twilio: twilio.place_call(outbound()),
    "send_sms": lambda twilio: twilio.send_sms(CUSTOMER, OUR_NUMBER, "Hi"),
    "fetch_call": lambda twilio: twilio.fetch_call(CALL_SID),
}


def rfc9457(status: int, code: int) -> Response:
    return json_response(
        status,
        {
            "type": f"https://www.twilio.com/docs/errors/{code}",
            "title": "Invalid 'To' Phone Number",
            "status": status,
            "code": code,
            "detail": "The 'To' number is not valid.",
        },
    )


FAILURES: dict[str, tuple[Response | BaseException, bool, str]] = {
    # name: (what the HTTP boundary does, permanent, code)
    "invalid number": (
        twilio_error(400, 21211, f"The 'To' number {CUSTOMER} is not a valid phone number."),
        True,
        "21211",
    ),
    "invalid number, RFC 9457 body": (rfc9457(400, 21211), True, "21211"),
    "opted out": (twilio_error(400, 21610, "Attempt to send to unsubscribed recipient"), True, "21610"),
    "geo permissions": (twilio_error(400, 21215, "Account not authorized to call this number"), True, "21215"),
    "blocked by twilio": (twilio_error(400, 21216, "Call blocked by Twilio"), True, "21216"),
    "landline for sms": (twilio_error(400, 21614, "'To' number is not a valid mobile number"), True, "21614"),
    "bad credentials": (twilio_error(401, 20003, "Authenticate"), False, "auth"),
    "bad credentials, no code": (Response(401, "Unauthorized", {}), False, "auth"),
    "rate limited": (twilio_error(429, 20429, "Too Many Requests"), False, "20429"),
    "service unavailable": (Response(503, "<html>Service Unavailable</html>", {}), False, "503"),
    "internal error": (twilio_error(500, 20500, "Internal Server Error"), False, "20500"),
    "some other refusal": (twilio_error(400, 21205, "Url is not a valid URL"), False, "21205"),
    "not found": (twilio_error(404, 20404, "The requested resource was not found"), False, "20404"),
    "connection refused": (requests.exceptions.ConnectionError("Connection refused"), False, "connection"),
    "connect timeout": (requests.exceptions.ConnectTimeout("connect timed out"), False, "connection"),
    "read timeout": (requests.exceptions.ReadTimeout("read timed out"), False, "timeout"),
    "broken transport": (requests.exceptions.ChunkedEncodingError("broken"), False, "transport"),
    "socket error": (OSError("network is unreachable"), False, "transport"),
    "sdk failure": (TwilioException("HttpClient is an abstract class"), False, "sdk"),
    "2xx that is not json": (Response(200, "<html>captive portal</html>", {}), False, "unexpected_response"),
}


@pytest.mark.parametrize("operation", OPERATIONS)
@pytest.mark.parametrize("failure", FAILURES)
def test_every_failure_becomes_a_provider_error_that_says_whether_to_retry(operation: str, failure: str) -> None:
    outcome, permanent, code = FAILURES[failure]
    twilio, _ = adapter(outcome)
    # pytest.raises(ProviderError) lets any other exception (twilio's, requests') fail the test.
    with pytest.raises(ProviderError) as caught:
        OPERATIONS[operation](twilio)
    assert type(caught.value) is ProviderError
    assert caught.value.permanent is permanent
    assert caught.value.code == code


def test_provider_error_messages_do_not_carry_the_whole_phone_number() -> None:
    twilio, _ = adapter(twilio_error(400, 21211, f"The 'To' number {CUSTOMER} is not a valid phone number."))
    with pytest.raises(ProviderError) as caught:
        twilio.place_call(outbound())
    assert CUSTOMER not in str(caught.value)
    assert "21211" in str(caught.value)


def test_only_the_documented_codes_are_permanent() -> None:
    assert all(is_permanent_error_code(code) for code in PERMANENT_ERROR_CODES)
    assert all(is_permanent_error_code(str(code)) for code in PERMANENT_ERROR_CODES)
    for code in (None, "", "abc", 20429, "30003", 20003, 21205):
        assert not is_permanent_error_code(code)


def test_a_refusal_does_not_chain_twilios_exception_which_quotes_the_number() -> None:
    twilio, _ = adapter(twilio_error(400, 21211, f"The 'To' number {CUSTOMER} is not a valid phone number."))
    with pytest.raises(ProviderError) as caught:
        twilio.place_call(outbound())
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_a_transport_failure_keeps_its_cause_for_the_logs() -> None:
    refused = requests.exceptions.ConnectionError("Connection refused")
    twilio, _ = adapter(refused)
    with pytest.raises(ProviderError) as caught:
        twilio.send_sms(CUSTOMER, OUR_NUMBER, "Hi")
    assert caught.value.__cause__ is refused


def test_find_call_returns_the_newest_call_to_the_number_after_the_instant() -> None:
    older = call_payload("CA" + "1" * 32, date_created="Mon, 04 Jan 2027 09:00:00 +0000", status="completed")
    newer = call_payload("CA" + "2" * 32, date_created="Mon, 04 Jan 2027 10:00:05 +0000", status="ringing")
    page = {
        "calls": [newer, older],
        "end": 1,
        "first_page_uri": "/x",
        "next_page_uri": None,
        "page": 0,
        "page_size": 20,
        "previous_page_uri": None,
        "start": 0,
        "uri": "/x",
    }
    twilio, http = adapter(json_response(200, page))
    found = twilio.find_call(CUSTOMER, datetime(2027, 1, 4, 10, 0, tzinfo=UTC))
    assert found is not None and found.call_id == "CA" + "2" * 32 and found.state is CallState.RINGING
    assert http.only_request.method == "GET" and "To=" in http.only_request.url
    twilio, _ = adapter(json_response(200, {**page, "calls": [older]}))
    assert twilio.find_call(CUSTOMER, datetime(2027, 1, 4, 10, 0, tzinfo=UTC)) is None


def test_twilio_takes_a_bare_cancel_as_an_opt_out_but_not_a_longer_message() -> None:
    twilio, _ = adapter()
    assert twilio.opted_out_by_provider(" Cancel ")
    assert twilio.opted_out_by_provider("STOP")
    assert not twilio.opted_out_by_provider("cancel call")
    assert not twilio.opted_out_by_provider("cancel please")
    assert not twilio.opted_out_by_provider("ОТМЕНА")
    assert twilio.confirms_opt_out  # so ours is not sent (Twilio refuses it: 21610)
    answer = twilio.sms_webhook_answer()  # TwiML that sends nothing
    assert answer.content_type == "application/xml" and ET.fromstring(answer.body).tag == "Response"
    assert not list(ET.fromstring(answer.body))

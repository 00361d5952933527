"""The simulator's webhook bodies are typed like the other providers' (issue 16, finding
11): a signed body with a field of the wrong type is a ValueError — which the webhook
views answer 400 malformed_webhook, or 204 and a log line for call events — never a
TypeError and a 500."""

from __future__ import annotations

import json
from typing import Any

import pytest

from telephony.base import AnsweredBy, CallState, WebhookRequest
from telephony.script import Enqueue, Leave, Say, script
from telephony.simulator import SimulatorTelephony

ADAPTER = SimulatorTelephony(None, "secret")  # type: ignore[arg-type]  # parsing needs no database


def request(body: dict[str, Any]) -> WebhookRequest:
    return WebhookRequest("POST", "http://127.0.0.1:5000/webhooks/simulator/x", {}, body=json.dumps(body).encode())


GOOD = {
    "call_event": {"call_id": "SIM-1", "state": "completed", "sequence": 3, "answered_by": "human", "duration": 42},
    "gather": {"call_id": "SIM-1", "digits": "1"},
    "dial_result": {"call_id": "SIM-1", "state": "completed", "duration": 42},
    "inbound_call": {"call_id": "SIM-1", "from": "+447400123456", "to": "+441632960001"},
    "sms_status": {"message_id": "SM-1", "status": "delivered", "error_code": 30003},
    "inbound_sms": {"message_id": "SM-1", "from": "+447400123456", "to": "+441632960001", "text": "CANCEL"},
}
ILL_TYPED = [
    ("call_event", "duration", {"seconds": 4}),
    ("call_event", "duration", -5),
    ("call_event", "sequence", [1]),
    ("call_event", "state", ["completed"]),
    ("call_event", "answered_by", {"who": "human"}),
    ("call_event", "call_id", {"id": 1}),
    ("gather", "digits", {"d": 1}),
    ("gather", "call_id", None),
    ("dial_result", "duration", {"seconds": 4}),
    ("dial_result", "state", 7),
    ("inbound_call", "to", ["+441632960001"]),
    ("inbound_call", "from", {"n": 1}),
    ("sms_status", "status", {"s": 1}),
    ("sms_status", "error_code", [1]),
    ("inbound_sms", "text", {"t": "CANCEL"}),
    ("inbound_sms", "from", 447400123456),
]


def parse(kind: str, body: dict[str, Any]) -> Any:
    return getattr(ADAPTER, f"parse_{kind}")(request(body))


def test_well_typed_bodies_parse_as_before() -> None:
    event = parse("call_event", GOOD["call_event"])
    assert (event.call_id, event.state, event.sequence, event.answered_by, event.duration_seconds) == (
        "SIM-1",
        CallState.COMPLETED,
        3,
        AnsweredBy.HUMAN,
        42,
    )
    assert event.dedupe_key == "SIM-1:completed:3"
    assert parse("call_event", {**GOOD["call_event"], "answered_by": ""}).answered_by is None
    assert parse("gather", GOOD["gather"]).digits == "1"
    assert parse("gather", {"call_id": "SIM-1", "digits": ""}).digits is None
    assert parse("dial_result", GOOD["dial_result"]).duration_seconds == 42
    inbound = parse("inbound_call", GOOD["inbound_call"])
    assert (inbound.from_, inbound.to) == ("+447400123456", "+441632960001")
    assert parse("sms_status", GOOD["sms_status"]).error_code == "30003"
    assert parse("inbound_sms", GOOD["inbound_sms"]).text == "CANCEL"


@pytest.mark.parametrize("kind, field, value", ILL_TYPED, ids=[f"{k}.{f}={v!r}" for k, f, v in ILL_TYPED])
def test_a_field_of_the_wrong_type_is_a_value_error_naming_it(kind: str, field: str, value: Any) -> None:
    with pytest.raises(ValueError, match=field.rstrip("_")):
        parse(kind, {**GOOD[kind], field: value})


@pytest.mark.parametrize("kind", sorted(GOOD))
def test_a_missing_field_or_a_body_that_is_not_an_object_is_a_value_error(kind: str) -> None:
    first = next(iter(GOOD[kind]))
    with pytest.raises(ValueError):
        parse(kind, {k: v for k, v in GOOD[kind].items() if k != first})
    with pytest.raises(ValueError):
        getattr(ADAPTER, f"parse_{kind}")(WebhookRequest("POST", "http://x/", {}, body=b"[1, 2]"))


@pytest.mark.parametrize(
    "action", [Enqueue("support", "https://cb.example.com/w", "https://cb.example.com/a"), Leave()]
)
def test_the_simulator_has_no_queue_to_hold_a_caller_in(action: Enqueue | Leave) -> None:
    assert ADAPTER.supports_enqueue is False
    with pytest.raises(ValueError, match="no provider-side queue"):
        ADAPTER.render(script(Say("Please hold."), action))

"""The Vonage adapter against a fake HTTP layer (no network): NCCO rendering, webhook
signatures, webhook parsing, and the requests the real SDK sends for calls and texts."""

from __future__ import annotations

import base64
import hashlib
import http.client
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import jwt
import pytest
import requests
import urllib3
from vonage import Auth, HttpClientOptions, Vonage
from vonage_sms import SmsMessage
from vonage_voice.models.common import Phone
from vonage_voice.models.connect_endpoints import PhoneEndpoint, SipEndpoint
from vonage_voice.models.input_types import Dtmf, Speech
from vonage_voice.models.ncco import Connect as NccoConnect
from vonage_voice.models.ncco import Input, Stream, Talk
from vonage_voice.models.requests import CreateCallRequest, ToPhone

from telephony.base import (
    AnsweredBy,
    CallState,
    OutboundCall,
    ProviderError,
    SignatureError,
    Telephony,
    WebhookRequest,
)
from telephony.script import Connect, Enqueue, Gather, Hangup, Leave, Pause, Play, Say, script
from telephony.vonage_adapter import DEFAULT_TIMEOUT_SECONDS, VonageTelephony, render_ncco
from tests.unit.vonage_fakes import (
    FakeTransport,
    Reply,
    form_body,
    header,
    json_body,
    mount,
    path,
    query_of,
    rsa_key_pair,
)

APPLICATION_ID = "aaaaaaaa-bbbb-cccc-dddd-0123456789ab"
API_KEY = "abcd1234"
API_SECRET = "abcdef0123456789"
# 32+ bytes: PyJWT warns about shorter HMAC keys (and warnings are errors here).
SIGNATURE_SECRET = "hY8nT3kQ0vW5zL2mR7pX4cB9fJ6dG1sA"
CALL_UUID = "63f61863-4a51-4f6b-86e1-46edebcf9356"
CUSTOMER = "+447700900001"
OUR_NUMBER = "+447700900000"
SPEC = Path(__file__).resolve().parents[1] / "contract" / "specs" / "vonage_voice.yml"

CREATED = Reply(
    201,
    {"uuid": CALL_UUID, "status": "started", "direction": "outbound", "conversation_uuid": "CON-f972836a-550f"},
)
SMS_OK = Reply(
    200,
    {
        "message-count": "1",
        "messages": [
            {
                "to": "447700900001",
                "message-id": "0A0000000123ABCD1",
                "status": "0",
                "remaining-balance": "3.14159265",
                "message-price": "0.03330000",
                "network": "12345",
            }
        ],
    },
)


def make_adapter(**overrides: Any) -> VonageTelephony:
    private_key, _ = rsa_key_pair()
    arguments: dict[str, Any] = {
        "application_id": APPLICATION_ID,
        "private_key": private_key,
        "api_key": API_KEY,
        "api_secret": API_SECRET,
        "signature_secret": SIGNATURE_SECRET,
        "http_client_options": HttpClientOptions(api_host="api.vonage.test", rest_host="rest.vonage.test"),
    }
    arguments.update(overrides)
    return VonageTelephony(**arguments)


@pytest.fixture
def adapter() -> VonageTelephony:
    return make_adapter()


@pytest.fixture
def voice_http(adapter: VonageTelephony) -> FakeTransport:
    return mount(adapter.voice_client, FakeTransport())


@pytest.fixture
def sms_http(adapter: VonageTelephony) -> FakeTransport:
    return mount(adapter.sms_client, FakeTransport())


def outbound(**changes: Any) -> OutboundCall:
    fields: dict[str, Any] = {
        "to": CUSTOMER,
        "from_": OUR_NUMBER,
        "answer_url": "https://cb.example.com/webhooks/vonage/answer",
        "status_url": "https://cb.example.com/webhooks/vonage/event",
    }
    fields.update(changes)
    return OutboundCall(**fields)


def test_the_adapter_is_a_telephony_provider(adapter: VonageTelephony) -> None:
    assert isinstance(adapter, Telephony)
    assert adapter.name == "vonage"


def test_voice_and_sms_may_not_share_one_client() -> None:
    private_key, _ = rsa_key_pair()
    shared = Vonage(Auth(application_id=APPLICATION_ID, private_key=private_key))
    with pytest.raises(ValueError, match="323"):
        make_adapter(voice_client=shared, sms_client=shared)


def test_unusable_credentials_are_a_provider_error_not_an_sdk_one() -> None:
    with pytest.raises(ProviderError) as caught:
        make_adapter(private_key="not a key")
    assert type(caught.value) is ProviderError
    assert caught.value.code == "auth"


# --- render ---------------------------------------------------------------------------


def ncco_of(adapter: VonageTelephony, *actions: Any) -> list[dict[str, Any]]:
    rendered = adapter.render(script(*actions))
    assert rendered.content_type == "application/json"
    ncco: list[dict[str, Any]] = json.loads(rendered.body)
    return ncco


def test_say_is_a_talk_action_in_the_script_language(adapter: VonageTelephony) -> None:
    assert ncco_of(adapter, Say("Bonjour", language="fr-FR")) == [
        {"action": "talk", "text": "Bonjour", "language": "fr-FR"}
    ]


def test_play_streams_the_audio_url(adapter: VonageTelephony) -> None:
    assert ncco_of(adapter, Play("https://cdn.example.com/hold.mp3")) == [
        {"action": "stream", "streamUrl": ["https://cdn.example.com/hold.mp3"]}
    ]


def test_pause_is_an_ssml_break_cut_into_ten_second_pieces(adapter: VonageTelephony) -> None:
    assert ncco_of(adapter, Pause(2), Pause(25)) == [
        {"action": "talk", "text": '<speak><break time="2s"/></speak>'},
        {"action": "talk", "text": '<speak><break time="10s"/><break time="10s"/><break time="5s"/></speak>'},
    ]


def test_gather_plays_its_prompts_with_barge_in_on_the_last_then_collects_keys(adapter: VonageTelephony) -> None:
    gather = Gather(
        prompt=(Say("Press 1 to talk to an agent."), Play("https://cdn.example.com/beep.mp3")),
        action_url="https://cb.example.com/webhooks/vonage/input",
        num_digits=1,
        timeout_seconds=6,
    )
    assert ncco_of(adapter, gather) == [
        {"action": "talk", "text": "Press 1 to talk to an agent.", "language": "en-GB"},
        {"action": "stream", "streamUrl": ["https://cdn.example.com/beep.mp3"], "bargeIn": True},
        {
            "action": "input",
            "type": ["dtmf"],
            "dtmf": {"maxDigits": 1, "timeOut": 6, "submitOnHash": True},
            "eventUrl": ["https://cb.example.com/webhooks/vonage/input"],
            "eventMethod": "POST",
        },
    ]


def test_gather_with_speech_listens_in_the_speech_language(adapter: VonageTelephony) -> None:
    gather = Gather(
        prompt=(Say("Dites oui ou appuyez sur 1.", language="fr-FR"),),
        action_url="https://cb.example.com/in",
        num_digits=2,
        timeout_seconds=30,  # Vonage waits at most 10 s
        speech=True,
        speech_language="fr-FR",
    )
    talk, collect = ncco_of(adapter, gather)
    assert talk["bargeIn"] is True
    assert collect == {
        "action": "input",
        "type": ["dtmf", "speech"],
        "dtmf": {"maxDigits": 2, "timeOut": 10, "submitOnHash": True},
        "speech": {"language": "fr-FR", "startTimeout": 10},
        "eventUrl": ["https://cb.example.com/in"],
        "eventMethod": "POST",
    }


def test_gather_refuses_digit_counts_vonage_cannot_collect(adapter: VonageTelephony) -> None:
    for digits in (0, 21):
        with pytest.raises(ValueError, match="digits"):
            adapter.render(script(Gather(prompt=(), action_url="https://cb.example.com/in", num_digits=digits)))


@pytest.mark.parametrize("target", ["+442079460000", "tel:+442079460000"])
def test_connect_to_a_phone_number_drops_the_plus(adapter: VonageTelephony, target: str) -> None:
    connect = Connect(target, caller_id=OUR_NUMBER, timeout_seconds=20, status_url="https://cb.example.com/dial")
    assert ncco_of(adapter, connect) == [
        {
            "action": "connect",
            "from": "447700900000",
            "timeout": 20,
            "endpoint": [{"type": "phone", "number": "442079460000"}],
            "eventUrl": ["https://cb.example.com/dial"],
            "eventMethod": "POST",
            "eventType": "synchronous",
        }
    ]


def test_connect_to_sip_without_caller_id_or_status_url(adapter: VonageTelephony) -> None:
    assert ncco_of(adapter, Connect("sip:agent@pbx.example.com")) == [
        {"action": "connect", "timeout": 30, "endpoint": [{"type": "sip", "uri": "sip:agent@pbx.example.com"}]}
    ]


@pytest.mark.parametrize("target", ["queue:support", "0207 946 0000", "agent"])
def test_connect_targets_vonage_cannot_reach_are_refused(adapter: VonageTelephony, target: str) -> None:
    with pytest.raises(ValueError):
        adapter.render(script(Connect(target)))


@pytest.mark.parametrize(
    "action", [Enqueue("support", "https://cb.example.com/w", "https://cb.example.com/a"), Leave()]
)
def test_vonage_has_no_queue_to_hold_a_caller_in(adapter: VonageTelephony, action: Enqueue | Leave) -> None:
    assert adapter.supports_enqueue is False
    with pytest.raises(ValueError, match="no provider-side queue"):
        adapter.render(script(Say("Please hold."), action))


def test_hangup_ends_the_ncco(adapter: VonageTelephony) -> None:
    assert ncco_of(adapter, Say("Goodbye."), Hangup(), Say("never heard")) == [
        {"action": "talk", "text": "Goodbye.", "language": "en-GB"}
    ]


def test_a_script_that_only_hangs_up_still_replaces_the_running_ncco(adapter: VonageTelephony) -> None:
    (only,) = ncco_of(adapter, Hangup())
    assert only["action"] == "talk"
    assert only["text"].startswith("<speak><break")


def test_nothing_may_follow_a_connect_but_a_hangup(adapter: VonageTelephony) -> None:
    assert len(ncco_of(adapter, Connect("+442079460000"), Hangup())) == 1
    with pytest.raises(ValueError, match="after Connect"):
        adapter.render(script(Connect("+442079460000"), Say("Sorry, nobody is free.")))


FULL_SCRIPT = script(
    Say("Hello, this is your callback.", language="en-GB"),
    Pause(1),
    Gather(
        prompt=(Say("Press 1 or say yes."), Play("https://cdn.example.com/beep.mp3")),
        action_url="https://cb.example.com/in",
        speech=True,
    ),
    Connect("+442079460000", caller_id=OUR_NUMBER, status_url="https://cb.example.com/dial"),
)
SIP_SCRIPT = script(Connect("sip:agent@pbx.example.com", caller_id=OUR_NUMBER))


def _check_against_sdk_model(model: Any, document: dict[str, Any]) -> None:
    fields = model.model_fields
    known = set(fields) | {f.serialization_alias for f in fields.values() if f.serialization_alias}
    assert set(document) <= known, f"{model.__name__} does not know {set(document) - known}"
    renamed = {("from_" if key == "from" else key): value for key, value in document.items()}
    model.model_validate(renamed)


@pytest.mark.parametrize("voice_script", [FULL_SCRIPT, SIP_SCRIPT])
def test_the_ncco_passes_the_sdks_own_ncco_models(voice_script: Any) -> None:
    """The spec defines NCCO items only as objects; the SDK's models carry the real rules
    (field names, ranges such as timeOut <= 10 and maxDigits <= 20, endpoint shapes)."""
    models = {"talk": Talk, "stream": Stream, "input": Input, "connect": NccoConnect}
    for action in render_ncco(voice_script):
        _check_against_sdk_model(models[action["action"]], action)
        if action["action"] == "input":
            _check_against_sdk_model(Dtmf, action["dtmf"])
            _check_against_sdk_model(Speech, action["speech"])
        if action["action"] == "connect":
            for endpoint in action["endpoint"]:
                endpoint_model = PhoneEndpoint if endpoint["type"] == "phone" else SipEndpoint
                _check_against_sdk_model(endpoint_model, endpoint)


def _spec() -> dict[str, Any]:
    yaml = pytest.importorskip("yaml", reason="PyYAML is not installed: the published-spec checks are skipped")
    spec: dict[str, Any] = yaml.safe_load(SPEC.read_text(encoding="utf-8"))
    # As provider-specs/README.md says: a phone endpoint also matches the SIP option,
    # which only requires `type`; give every endpoint's type its one value.
    for name, kind in [
        ("EndpointPhoneTo", "phone"),
        ("EndpointSip", "sip"),
        ("EndpointWebsocket", "websocket"),
        ("EndpointVBCExtension", "vbc"),
    ]:
        spec["components"]["schemas"][name]["properties"]["type"]["enum"] = [kind]
    return spec


def _validate(spec: dict[str, Any], schema_name: str, document: Any) -> None:
    root = {"components": spec["components"], "$ref": f"#/components/schemas/{schema_name}"}
    jsonschema.Draft7Validator(root).validate(document)


def test_the_ncco_satisfies_the_published_voice_spec() -> None:
    spec = _spec()
    ncco = render_ncco(FULL_SCRIPT)
    ncco_schema = spec["components"]["schemas"]["CreateCallRequestNcco"]["allOf"][1]["properties"]["ncco"]
    jsonschema.Draft7Validator(ncco_schema).validate(ncco)
    for action in ncco:
        if action["action"] == "talk" and "language" in action:
            _validate(spec, "StartTalkRequest", action)  # text required, language from the TTS enum


def test_the_create_call_request_satisfies_the_published_voice_spec(
    adapter: VonageTelephony, voice_http: FakeTransport
) -> None:
    spec = _spec()
    voice_http.script.append(CREATED)
    adapter.place_call(outbound())
    _validate(spec, "CreateCallRequestAnswerUrl", json_body(voice_http.sent[0]))


# --- verify: signed JWT (voice, Messages) ----------------------------------------------


def signed_request(
    body: bytes,
    *,
    secret: str = SIGNATURE_SECRET,
    issued: float | None = None,
    hashed: bytes | None = None,
    method: str = "POST",
    query: dict[str, str] | None = None,
    header_name: str = "Authorization",
) -> WebhookRequest:
    claims = {
        "iat": int(time.time() if issued is None else issued),
        "jti": "c5ba8f24-1a14-4c10-bfdf-3fbe8ce511b5",
        "iss": "Vonage",
        "payload_hash": hashlib.sha256(body if hashed is None else hashed).hexdigest(),
        "api_key": API_KEY,
        "application_id": APPLICATION_ID,
    }
    token = jwt.encode(claims, secret, algorithm="HS256")
    return WebhookRequest(
        method=method,
        url="https://cb.example.com/webhooks/vonage/event",
        headers={header_name: f"Bearer {token}", "Content-Type": "application/json"},
        query=query or {},
        body=body,
    )


EVENT_BODY = json.dumps(
    {
        "from": "447700900000",
        "to": "447700900001",
        "uuid": CALL_UUID,
        "conversation_uuid": "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "status": "answered",
        "direction": "outbound",
        "timestamp": "2020-01-01T12:00:00.000Z",
    },
    separators=(",", ":"),
).encode()


def test_a_jwt_signed_with_the_secret_over_this_body_is_accepted(adapter: VonageTelephony) -> None:
    adapter.verify(signed_request(EVENT_BODY))


def test_the_authorization_header_is_found_whatever_its_case(adapter: VonageTelephony) -> None:
    adapter.verify(signed_request(EVENT_BODY, header_name="authorization"))


def test_a_reformatted_body_matches_vonages_compact_json_hash(adapter: VonageTelephony) -> None:
    pretty = json.dumps(json.loads(EVENT_BODY), indent=2).encode()
    adapter.verify(signed_request(pretty, hashed=EVENT_BODY))


def test_a_get_webhook_is_hashed_over_its_query_as_json(adapter: VonageTelephony) -> None:
    query = {"to": "447700900000", "from": "447700900001", "uuid": CALL_UUID, "conversation_uuid": "CON-1"}
    compact = json.dumps(query, separators=(",", ":")).encode()
    adapter.verify(signed_request(b"", hashed=compact, method="GET", query=query))
    with pytest.raises(SignatureError):
        adapter.verify(signed_request(b"", hashed=compact, method="GET", query={**query, "from": "447700900999"}))


def test_a_jwt_from_a_clock_slightly_ahead_is_accepted(adapter: VonageTelephony) -> None:
    adapter.verify(signed_request(EVENT_BODY, issued=time.time() + 90))


def test_a_jwt_signed_with_another_secret_is_refused(adapter: VonageTelephony) -> None:
    with pytest.raises(SignatureError):
        adapter.verify(signed_request(EVENT_BODY, secret="another-secret-that-is-long-enough!!"))


def test_a_body_changed_after_signing_is_refused(adapter: VonageTelephony) -> None:
    tampered = EVENT_BODY.replace(b'"answered"', b'"completed"')
    request = signed_request(EVENT_BODY)
    with pytest.raises(SignatureError, match="payload_hash"):
        adapter.verify(WebhookRequest(request.method, request.url, request.headers, body=tampered))


def test_a_jwt_without_payload_hash_is_refused(adapter: VonageTelephony) -> None:
    token = jwt.encode({"iat": int(time.time()), "api_key": API_KEY}, SIGNATURE_SECRET, algorithm="HS256")
    request = WebhookRequest("POST", "https://cb.example.com/e", {"Authorization": f"Bearer {token}"}, body=EVENT_BODY)
    with pytest.raises(SignatureError, match="payload_hash"):
        adapter.verify(request)


def test_an_unsigned_alg_none_token_is_refused(adapter: VonageTelephony) -> None:
    def b64(part: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(part).encode()).rstrip(b"=").decode()

    claims = {"iat": int(time.time()), "payload_hash": hashlib.sha256(EVENT_BODY).hexdigest()}
    token = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."
    request = WebhookRequest("POST", "https://cb.example.com/e", {"Authorization": f"Bearer {token}"}, body=EVENT_BODY)
    with pytest.raises(SignatureError):
        adapter.verify(request)


@pytest.mark.parametrize("authorization", ["", "Basic abc", "Bearer", "Bearer not.a.jwt"])
def test_malformed_authorization_is_refused(adapter: VonageTelephony, authorization: str) -> None:
    request = WebhookRequest("POST", "https://cb.example.com/e", {"Authorization": authorization}, body=EVENT_BODY)
    with pytest.raises(SignatureError):
        adapter.verify(request)


def test_a_webhook_without_any_signature_is_refused(adapter: VonageTelephony) -> None:
    with pytest.raises(SignatureError, match="unsigned"):
        adapter.verify(WebhookRequest("POST", "https://cb.example.com/e", {}, body=EVENT_BODY))


# --- verify: SMS API `sig` --------------------------------------------------------------

INBOUND_SMS = {
    "msisdn": "447700900001",
    "to": "447700900000",
    "messageId": "0A0000000123ABCD1",
    "text": "CANCEL please & thanks = bye",
    "type": "text",
    "keyword": "CANCEL",
    "api-key": API_KEY,
    "message-timestamp": "2020-01-01 12:00:00",
    "timestamp": "1578787200",
    "nonce": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
}


def vonage_signed(params: dict[str, str], method: str = "sha256", signed_at: float | None = None) -> dict[str, str]:
    """Signed the way Vonage signs SMS API webhooks, with the SDK's own helper; its
    ``timestamp`` says when (now, unless told)."""
    params = {**params, "timestamp": str(int(time.time() if signed_at is None else signed_at))}
    signer = Auth(api_key=API_KEY, signature_secret=SIGNATURE_SECRET, signature_method=method)
    return {**params, "sig": signer.sign_params(dict(params))}


def test_a_get_sms_webhook_with_a_valid_sig_is_accepted(adapter: VonageTelephony) -> None:
    adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=vonage_signed(INBOUND_SMS)))


def test_a_form_post_sms_webhook_with_a_valid_sig_is_accepted(adapter: VonageTelephony) -> None:
    adapter.verify(WebhookRequest("POST", "https://cb.example.com/sms", {}, form=vonage_signed(INBOUND_SMS)))


def test_a_json_post_sms_webhook_with_a_valid_sig_is_accepted(adapter: VonageTelephony) -> None:
    body = json.dumps(vonage_signed(INBOUND_SMS)).encode()
    adapter.verify(
        WebhookRequest("POST", "https://cb.example.com/sms", {"Content-Type": "application/json"}, body=body)
    )


def test_an_sms_webhook_with_a_changed_text_is_refused(adapter: VonageTelephony) -> None:
    tampered = {**vonage_signed(INBOUND_SMS), "text": "STOP"}
    with pytest.raises(SignatureError):
        adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=tampered))


def test_an_sms_signature_made_with_another_method_is_refused(adapter: VonageTelephony) -> None:
    with pytest.raises(SignatureError):
        adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=vonage_signed(INBOUND_SMS, "md5")))


def test_an_sms_webhook_without_sig_is_refused(adapter: VonageTelephony) -> None:
    with pytest.raises(SignatureError, match="unsigned"):
        adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=dict(INBOUND_SMS)))


# --- verify: freshness (issue 16, finding 4) ------------------------------------------

NOW = 1_800_000_000.0  # the machine's clock in these tests


def test_a_jwt_older_than_five_minutes_is_a_replay_and_refused() -> None:
    adapter = make_adapter(wall_clock=lambda: NOW)
    adapter.verify(signed_request(EVENT_BODY, issued=NOW - 290))
    with pytest.raises(SignatureError, match="s old"):
        adapter.verify(signed_request(EVENT_BODY, issued=NOW - 310))
    with pytest.raises(SignatureError, match="s old"):
        adapter.verify(signed_request(EVENT_BODY, issued=NOW - 365 * 86400))


def test_a_jwt_far_ahead_of_this_clock_or_without_iat_is_refused() -> None:
    adapter = make_adapter(wall_clock=lambda: NOW)
    adapter.verify(signed_request(EVENT_BODY, issued=NOW + 290))
    with pytest.raises(SignatureError, match="ahead"):
        adapter.verify(signed_request(EVENT_BODY, issued=NOW + 600))
    claims = {"iss": "Vonage", "payload_hash": hashlib.sha256(EVENT_BODY).hexdigest()}
    token = jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")
    with pytest.raises(SignatureError, match="iat"):
        adapter.verify(
            WebhookRequest("POST", "https://cb.example.com/e", {"Authorization": f"Bearer {token}"}, body=EVENT_BODY)
        )


def test_an_sms_sig_signed_long_ago_or_without_a_timestamp_is_refused() -> None:
    adapter = make_adapter(wall_clock=lambda: NOW)
    fresh = vonage_signed(INBOUND_SMS, signed_at=NOW - 60)
    adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=fresh))
    for signed_at in (NOW - 365 * 86400, NOW - 310):
        old = vonage_signed(INBOUND_SMS, signed_at=signed_at)
        with pytest.raises(SignatureError, match="s old"):
            adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=old))
    ahead = vonage_signed(INBOUND_SMS, signed_at=NOW + 600)
    with pytest.raises(SignatureError, match="ahead"):
        adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=ahead))
    untimed = {k: v for k, v in INBOUND_SMS.items() if k != "timestamp"}
    signer = Auth(api_key=API_KEY, signature_secret=SIGNATURE_SECRET, signature_method="sha256")
    with pytest.raises(SignatureError, match="timestamp"):
        query = {**untimed, "sig": signer.sign_params(dict(untimed))}
        adapter.verify(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=query))


# --- parse_call_event -------------------------------------------------------------------


def event(**fields: Any) -> WebhookRequest:
    document = {
        "from": "447700900000",
        "to": "447700900001",
        "uuid": CALL_UUID,
        "conversation_uuid": "CON-aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        "direction": "outbound",
        "timestamp": "2020-01-01T12:00:00.000Z",
        **fields,
    }
    document = {key: value for key, value in document.items() if value is not None}
    return WebhookRequest("POST", "https://cb.example.com/event", {}, body=json.dumps(document).encode())


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("started", CallState.QUEUED),
        ("ringing", CallState.RINGING),
        ("answered", CallState.ANSWERED),
        ("completed", CallState.COMPLETED),
        ("busy", CallState.BUSY),
        ("timeout", CallState.NO_ANSWER),
        ("unanswered", CallState.NO_ANSWER),
        ("failed", CallState.FAILED),
        ("rejected", CallState.REJECTED),
        ("cancelled", CallState.CANCELED),
    ],
)
def test_each_vonage_status_maps_to_a_call_state(adapter: VonageTelephony, status: str, state: CallState) -> None:
    parsed = adapter.parse_call_event(event(status=status))
    assert (parsed.provider, parsed.call_id, parsed.state, parsed.answered_by) == ("vonage", CALL_UUID, state, None)
    assert parsed.dedupe_key == f"{CALL_UUID}:{status}:2020-01-01T12:00:00.000Z"
    assert parsed.sequence == int(datetime(2020, 1, 1, 12, tzinfo=UTC).timestamp() * 1000)


def test_answered_records_when(adapter: VonageTelephony) -> None:
    parsed = adapter.parse_call_event(event(status="answered"))
    assert parsed.answered_at == datetime(2020, 1, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(("status", "who"), [("human", AnsweredBy.HUMAN), ("machine", AnsweredBy.MACHINE)])
def test_machine_detection_says_who_answered(adapter: VonageTelephony, status: str, who: AnsweredBy) -> None:
    # The human/machine event names the call `call_uuid`, not `uuid`.
    parsed = adapter.parse_call_event(event(status=status, uuid=None, call_uuid=CALL_UUID))
    assert (parsed.call_id, parsed.state, parsed.answered_by) == (CALL_UUID, CallState.ANSWERED, who)


def test_the_advanced_detection_beep_is_its_own_delivery(adapter: VonageTelephony) -> None:
    machine = adapter.parse_call_event(event(status="machine", call_uuid=CALL_UUID))
    beep = adapter.parse_call_event(event(status="machine", sub_state="beep_start", call_uuid=CALL_UUID))
    assert beep.answered_by is AnsweredBy.MACHINE
    assert beep.dedupe_key != machine.dedupe_key
    # mode=detect_beep: the greeting ended with the beep (or without one, beep_timeout).
    assert (machine.greeting_ended, beep.greeting_ended) == (False, True)
    timeout = adapter.parse_call_event(event(status="machine", sub_state="beep_timeout", call_uuid=CALL_UUID))
    assert timeout.greeting_ended is True


def test_a_redelivered_event_has_the_same_dedupe_key(adapter: VonageTelephony) -> None:
    first = adapter.parse_call_event(event(status="busy"))
    again = adapter.parse_call_event(event(status="busy"))
    later = adapter.parse_call_event(event(status="busy", timestamp="2020-01-01T12:00:01.000Z"))
    assert first.dedupe_key == again.dedupe_key != later.dedupe_key


def test_completed_carries_the_call_detail_record(adapter: VonageTelephony) -> None:
    parsed = adapter.parse_call_event(
        event(
            status="completed",
            duration="62",
            price="0.00465000",
            rate="0.00450000",
            start_time="2020-01-01T12:00:00.000Z",
            end_time="2020-01-01T12:01:02.000Z",
            network="GB-FIXED",
            recording_url="https://api.nexmo.com/v1/files/bbbbbbbb-aaaa-cccc-dddd-0123456789ab",
        )
    )
    assert parsed.state is CallState.COMPLETED
    assert (parsed.duration_seconds, parsed.billable_seconds) == (62, 62)
    assert parsed.started_at == datetime(2020, 1, 1, 12, tzinfo=UTC)
    assert parsed.ended_at == datetime(2020, 1, 1, 12, 1, 2, tzinfo=UTC)
    assert parsed.recording_url == "https://api.nexmo.com/v1/files/bbbbbbbb-aaaa-cccc-dddd-0123456789ab"


def test_a_failure_detail_becomes_the_error_code(adapter: VonageTelephony) -> None:
    assert adapter.parse_call_event(event(status="failed", detail="invalid_number")).error_code == "invalid_number"


def test_a_get_event_is_read_from_the_query(adapter: VonageTelephony) -> None:
    request = WebhookRequest("GET", "https://cb.example.com/event", {}, query={"uuid": CALL_UUID, "status": "ringing"})
    assert adapter.parse_call_event(request).state is CallState.RINGING


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (event(status="exploded"), "unknown status"),
        (event(status=None, type="transfer"), "no status"),
        (event(status="busy", uuid=None), "missing uuid"),
        (event(status="completed", duration="long"), "duration"),
        (event(status="ringing", timestamp="yesterday"), "timestamp"),
        (WebhookRequest("POST", "https://cb.example.com/event", {}, body=b"<xml/>"), "not JSON"),
        (WebhookRequest("POST", "https://cb.example.com/event", {}, body=b"[1, 2]"), "JSON object"),
        (WebhookRequest("POST", "https://cb.example.com/event", {}), "empty"),
    ],
)
def test_unknown_or_malformed_events_are_value_errors(
    adapter: VonageTelephony, request_: WebhookRequest, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        adapter.parse_call_event(request_)


# --- parse_gather / parse_dial_result ---------------------------------------------------


def input_event(**fields: Any) -> WebhookRequest:
    document = {"uuid": CALL_UUID, "conversation_uuid": "CON-1", "timestamp": "2020-01-01T14:00:00.000Z", **fields}
    return WebhookRequest("POST", "https://cb.example.com/in", {}, body=json.dumps(document).encode())


def test_gather_reads_the_pressed_digits(adapter: VonageTelephony) -> None:
    parsed = adapter.parse_gather(input_event(speech={}, dtmf={"digits": "1", "timed_out": False}))
    assert (parsed.call_id, parsed.digits, parsed.speech) == (CALL_UUID, "1", None)


def test_gather_reads_the_most_confident_speech(adapter: VonageTelephony) -> None:
    speech = {
        "timeout_reason": "end_on_silence_timeout",
        "results": [{"confidence": "0.70543784", "text": "Sails"}, {"confidence": "0.9405097", "text": "Sales"}],
    }
    parsed = adapter.parse_gather(input_event(speech=speech, dtmf={"digits": None, "timed_out": False}))
    assert (parsed.digits, parsed.speech) == (None, "Sales")
    assert parsed.confidence == pytest.approx(0.9405097)


def test_gather_that_timed_out_with_nothing_has_neither(adapter: VonageTelephony) -> None:
    parsed = adapter.parse_gather(
        input_event(speech={"timeout_reason": "start_timeout"}, dtmf={"digits": "", "timed_out": True})
    )
    assert (parsed.digits, parsed.speech, parsed.confidence) == (None, None, None)


def test_gather_understands_the_older_flat_dtmf_field(adapter: VonageTelephony) -> None:
    assert adapter.parse_gather(input_event(dtmf="42", timed_out=True)).digits == "42"


def test_gather_without_uuid_is_a_value_error(adapter: VonageTelephony) -> None:
    with pytest.raises(ValueError, match="uuid"):
        adapter.parse_gather(input_event(uuid=""))


def test_dial_result_names_the_customers_call_from_the_status_url(adapter: VonageTelephony) -> None:
    body = json.dumps({"uuid": "agent-leg-uuid", "status": "busy", "timestamp": "2020-01-01T12:00:00.000Z"}).encode()
    request = WebhookRequest(
        "POST", f"https://cb.example.com/dial?call_id={CALL_UUID}", {}, {}, {"call_id": CALL_UUID}, body
    )
    result = adapter.parse_dial_result(request)
    assert (result.call_id, result.state) == (CALL_UUID, CallState.BUSY)
    # Without the parameter, the leg's own uuid stands in (our dial URLs name the attempt).
    leg = adapter.parse_dial_result(WebhookRequest("POST", "https://cb.example.com/dial", {}, body=body))
    assert (leg.call_id, leg.state) == ("agent-leg-uuid", CallState.BUSY)
    nameless = json.dumps({"status": "busy"}).encode()
    with pytest.raises(ValueError, match="names no call"):
        adapter.parse_dial_result(WebhookRequest("POST", "https://cb.example.com/dial", {}, body=nameless))


def test_dial_result_completed_carries_the_duration(adapter: VonageTelephony) -> None:
    body = json.dumps({"uuid": "agent-leg", "status": "completed", "duration": "95"}).encode()
    result = adapter.parse_dial_result(WebhookRequest("POST", "u", {}, query={"call_id": CALL_UUID}, body=body))
    assert (result.state, result.duration_seconds) == (CallState.COMPLETED, 95)


# --- parse_inbound_sms ------------------------------------------------------------------


def test_an_sms_api_get_becomes_an_inbound_sms_in_e164(adapter: VonageTelephony) -> None:
    parsed = adapter.parse_inbound_sms(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=INBOUND_SMS))
    assert parsed == type(parsed)("vonage", "0A0000000123ABCD1", CUSTOMER, OUR_NUMBER, INBOUND_SMS["text"])


def test_an_sms_api_form_post_is_read_the_same(adapter: VonageTelephony) -> None:
    parsed = adapter.parse_inbound_sms(WebhookRequest("POST", "https://cb.example.com/sms", {}, form=INBOUND_SMS))
    assert (parsed.message_id, parsed.from_, parsed.to) == ("0A0000000123ABCD1", CUSTOMER, OUR_NUMBER)


def test_an_sms_api_json_post_is_read_the_same(adapter: VonageTelephony) -> None:
    body = json.dumps(INBOUND_SMS).encode()
    parsed = adapter.parse_inbound_sms(WebhookRequest("POST", "https://cb.example.com/sms", {}, body=body))
    assert (parsed.message_id, parsed.from_, parsed.text) == ("0A0000000123ABCD1", CUSTOMER, INBOUND_SMS["text"])


def test_a_part_of_a_concatenated_sms_is_returned_as_it_is(adapter: VonageTelephony) -> None:
    part = {
        **INBOUND_SMS,
        "text": "second half",
        "concat": "true",
        "concat-ref": "7",
        "concat-total": "2",
        "concat-part": "2",
    }
    parsed = adapter.parse_inbound_sms(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=part))
    assert parsed.text == "second half"


def test_a_messages_api_inbound_text_is_understood(adapter: VonageTelephony) -> None:
    body = json.dumps(
        {
            "channel": "sms",
            "message_uuid": "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
            "to": "447700900000",
            "from": "447700900001",
            "timestamp": "2025-02-03T12:14:25Z",
            "text": "RESCHEDULE",
            "message_type": "text",
        }
    ).encode()
    parsed = adapter.parse_inbound_sms(WebhookRequest("POST", "https://cb.example.com/sms", {}, body=body))
    assert (parsed.message_id, parsed.from_, parsed.to, parsed.text) == (
        "aaaaaaaa-bbbb-cccc-dddd-0123456789ab",
        CUSTOMER,
        OUR_NUMBER,
        "RESCHEDULE",
    )


@pytest.mark.parametrize("missing", ["msisdn", "to", "messageId", "text"])
def test_an_inbound_sms_missing_a_field_is_a_value_error(adapter: VonageTelephony, missing: str) -> None:
    query = {key: value for key, value in INBOUND_SMS.items() if key != missing}
    with pytest.raises(ValueError):
        adapter.parse_inbound_sms(WebhookRequest("GET", "https://cb.example.com/sms", {}, query=query))


# --- place_call / fetch_call over the fake HTTP layer ----------------------------------


def test_place_call_posts_the_create_call_request_vonage_expects(
    adapter: VonageTelephony, voice_http: FakeTransport
) -> None:
    voice_http.script.append(CREATED)
    placed = adapter.place_call(outbound(ring_timeout_seconds=25))
    assert (placed.provider, placed.call_id) == ("vonage", CALL_UUID)
    (sent,) = voice_http.sent
    assert (sent.method, sent.url) == ("POST", "https://api.vonage.test/v1/calls")
    assert header(sent, "Content-Type") == "application/json"
    assert json_body(sent) == {
        "to": [{"number": "447700900001", "type": "phone"}],
        "from": {"number": "447700900000", "type": "phone"},
        "answer_url": ["https://cb.example.com/webhooks/vonage/answer"],
        "answer_method": "POST",
        "event_url": ["https://cb.example.com/webhooks/vonage/event"],
        "event_method": "POST",
        "ringing_timer": 25,
        "advanced_machine_detection": {"behavior": "continue", "mode": "detect_beep"},
    }


def test_place_call_authenticates_with_the_applications_jwt(
    adapter: VonageTelephony, voice_http: FakeTransport
) -> None:
    voice_http.script.append(CREATED)
    adapter.place_call(outbound())
    scheme, token = header(voice_http.sent[0], "Authorization").split(" ", 1)
    _, public_key = rsa_key_pair()
    claims = jwt.decode(token, public_key, algorithms=["RS256"])
    assert scheme == "Bearer"
    assert claims["application_id"] == APPLICATION_ID


def test_without_machine_detection_no_detection_is_requested(
    adapter: VonageTelephony, voice_http: FakeTransport
) -> None:
    voice_http.script.append(CREATED)
    adapter.place_call(outbound(machine_detection=False))
    assert "advanced_machine_detection" not in json_body(voice_http.sent[0])


def test_requests_carry_a_timeout_by_default(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    voice_http.script.append(CREATED)
    adapter.place_call(outbound())
    assert voice_http.timeouts == [DEFAULT_TIMEOUT_SECONDS]


@pytest.mark.parametrize("number", ["447700900001", "+44 7700 900001", "07700900001", ""])
def test_a_number_that_is_not_e164_is_permanently_refused_before_any_request(
    adapter: VonageTelephony, voice_http: FakeTransport, number: str
) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.place_call(outbound(to=number))
    assert (caught.value.permanent, caught.value.code) == (True, "invalid_number")
    assert voice_http.sent == []


def _problem(status: int, title: str, **extra: Any) -> Reply:
    return Reply(status, {"type": f"https://developer.nexmo.com/api-errors#{status}", "title": title, **extra})


@pytest.mark.parametrize(
    ("reply", "permanent", "code"),
    [
        (
            _problem(
                400,
                "Bad Request",
                detail="Invalid destination 447700900001",
                invalid_parameters=[{"name": "to[0].number", "reason": "not routable"}],
            ),
            True,
            "invalid_number",
        ),
        (
            _problem(400, "Bad Request", invalid_parameters=[{"name": "answer_url", "reason": "Must be a URL"}]),
            False,
            "bad_request",
        ),
        (_problem(401, "Unauthorized"), False, "auth"),
        (_problem(403, "Forbidden", detail="Account suspended"), False, "auth"),
        (_problem(429, "Too Many Requests"), False, "rate_limited"),
        (_problem(500, "Internal Server Error"), False, "server_error"),
        (_problem(503, "Service Unavailable"), False, "server_error"),
        (requests.ConnectionError("[Errno 111] Connection refused"), False, "connection"),
        (requests.ReadTimeout("read timed out"), False, "timeout"),
        (requests.exceptions.SSLError("bad handshake"), False, "connection"),
        (Reply(201, {"status": "started"}), False, "unexpected_response"),
        (Reply(204), False, "unexpected_response"),
    ],
)
def test_create_call_failures_become_provider_errors(
    adapter: VonageTelephony, voice_http: FakeTransport, reply: Reply | Exception, permanent: bool, code: str
) -> None:
    voice_http.script.append(reply)
    with pytest.raises(ProviderError) as caught:
        adapter.place_call(outbound())
    assert type(caught.value) is ProviderError  # nothing from vonage or requests escapes
    assert (caught.value.permanent, caught.value.code) == (permanent, code)
    assert "447700900001" not in caught.value.message  # numbers are masked


def test_an_out_of_range_ring_timeout_is_a_provider_error(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.place_call(outbound(ring_timeout_seconds=300))  # Vonage allows 1-120
    assert (caught.value.permanent, caught.value.code) == (False, "bad_request")
    assert voice_http.sent == []


def test_a_dropped_connection_is_not_blindly_reposted(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    """The SDK re-sends after RemoteDisconnected up to pool_maxsize times: for a POST that
    may already have rung the customer, once is the only safe number."""
    dropped = requests.ConnectionError(
        urllib3.exceptions.ProtocolError(
            "Connection aborted.", http.client.RemoteDisconnected("Remote end closed connection without response")
        )
    )
    voice_http.script.extend([dropped, CREATED])
    with pytest.raises(ProviderError) as caught:
        adapter.place_call(outbound())
    assert caught.value.code == "connection"
    assert len(voice_http.sent) == 1


CALL_RECORD = {
    "_links": {"self": {"href": f"/calls/{CALL_UUID}"}},
    "uuid": CALL_UUID,
    "conversation_uuid": "CON-f972836a-550f-45fa-956c-12a2ab5b7d22",
    "to": {"type": "phone", "number": "447700900001"},
    "from": {"type": "phone", "number": "447700900000"},
    "status": "completed",
    "direction": "outbound",
    "rate": "0.39",
    "price": "0.39",
    "duration": "60",
    "start_time": "2020-01-01 12:00:00",
    "end_time": "2020-01-01 12:01:00",
    "network": "65512",
}


def test_fetch_call_reads_the_call_record(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    voice_http.script.append(Reply(200, CALL_RECORD))
    fetched = adapter.fetch_call(CALL_UUID)
    (sent,) = voice_http.sent
    assert (sent.method, path(sent)) == ("GET", f"/v1/calls/{CALL_UUID}")
    assert header(sent, "Authorization").startswith("Bearer ")
    assert (fetched.call_id, fetched.state, fetched.duration_seconds) == (CALL_UUID, CallState.COMPLETED, 60)
    assert fetched.started_at == datetime(2020, 1, 1, 12, tzinfo=UTC)
    assert fetched.ended_at == datetime(2020, 1, 1, 12, 1, tzinfo=UTC)


def test_fetching_an_unknown_call_is_permanent(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    voice_http.script.append(_problem(404, "Not Found"))
    with pytest.raises(ProviderError) as caught:
        adapter.fetch_call(CALL_UUID)
    assert (caught.value.permanent, caught.value.code) == (True, "not_found")


def test_a_call_id_that_could_change_the_url_is_never_sent(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    with pytest.raises(ProviderError):
        adapter.fetch_call("../account")
    assert voice_http.sent == []


def test_a_call_record_with_an_unknown_status_is_a_provider_error(
    adapter: VonageTelephony, voice_http: FakeTransport
) -> None:
    voice_http.script.append(Reply(200, {**CALL_RECORD, "status": "teleported"}))
    with pytest.raises(ProviderError) as caught:
        adapter.fetch_call(CALL_UUID)
    assert caught.value.code == "unexpected_response"


def call_list(*records: dict[str, Any], more: bool = False) -> Reply:
    links: dict[str, Any] = {"self": {"href": "/calls?page_size=100"}}
    if more:
        links["next"] = {"href": "/calls?page_size=100&record_index=100"}
    return Reply(
        200,
        {
            "count": len(records),
            "page_size": 100,
            "record_index": 0,
            "_links": links,
            "_embedded": {"calls": list(records)},
        },
    )


def record(uuid: str, to: str, status: str = "ringing", direction: str = "outbound") -> dict[str, Any]:
    return {
        **CALL_RECORD,
        "_links": {"self": {"href": f"/calls/{uuid}"}},
        "uuid": uuid,
        "to": {"type": "phone", "number": to},
        "status": status,
        "direction": direction,
        "duration": None,
        "end_time": None,
    }


PLACED_AFTER = datetime(2020, 1, 1, 11, 59, 59, 500000, tzinfo=UTC)


def test_find_call_returns_the_newest_call_to_the_number(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    voice_http.script.append(
        call_list(
            record("other-1", "447700900999"),
            record("inbound-1", "447700900001", direction="inbound"),
            record("newest-1", "447700900001", status="answered"),
            record("older-1", "447700900001", status="completed"),
        )
    )
    found = adapter.find_call(CUSTOMER, PLACED_AFTER)
    assert found is not None
    assert (found.call_id, found.state) == ("newest-1", CallState.ANSWERED)
    (sent,) = voice_http.sent
    assert path(sent) == "/v1/calls"
    assert query_of(sent) == {
        "date_start": "2020-01-01T11:59:59Z",
        "order": "desc",
        "page_size": "100",
        "record_index": "0",
    }


def test_find_call_reads_further_pages(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    first_page = [record(f"other-{n}", "447700900999") for n in range(3)]
    voice_http.script.extend([call_list(*first_page, more=True), call_list(record("ours", "447700900001"))])
    found = adapter.find_call(CUSTOMER, PLACED_AFTER)
    assert found is not None and found.call_id == "ours"
    assert query_of(voice_http.sent[1])["record_index"] == "3"


def test_find_call_without_a_match_is_none(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    voice_http.script.append(call_list(record("other", "447700900999")))
    assert adapter.find_call(CUSTOMER, PLACED_AFTER) is None


def test_find_call_failures_are_provider_errors(adapter: VonageTelephony, voice_http: FakeTransport) -> None:
    voice_http.script.append(_problem(401, "Unauthorized"))
    with pytest.raises(ProviderError) as caught:
        adapter.find_call(CUSTOMER, PLACED_AFTER)
    assert (type(caught.value), caught.value.code) == (ProviderError, "auth")


# --- send_sms ---------------------------------------------------------------------------


def test_send_sms_posts_a_form_with_basic_auth(adapter: VonageTelephony, sms_http: FakeTransport) -> None:
    sms_http.script.append(SMS_OK)
    sent_sms = adapter.send_sms(CUSTOMER, OUR_NUMBER, "Your callback is at 10:30.", "https://cb.example.com/dlr")
    assert (sent_sms.provider, sent_sms.message_id) == ("vonage", "0A0000000123ABCD1")
    (sent,) = sms_http.sent
    assert (sent.method, sent.url) == ("POST", "https://rest.vonage.test/sms/json")
    assert header(sent, "Content-Type") == "application/x-www-form-urlencoded"
    assert header(sent, "Authorization") == "Basic " + base64.b64encode(f"{API_KEY}:{API_SECRET}".encode()).decode()
    assert form_body(sent) == {
        "to": "447700900001",
        "from": "447700900000",
        "text": "Your callback is at 10:30.",
        "callback": "https://cb.example.com/dlr",
    }


def test_sms_stays_a_form_post_after_a_voice_call_on_the_same_adapter(
    adapter: VonageTelephony, voice_http: FakeTransport, sms_http: FakeTransport
) -> None:
    """Regression test for vonage-python-sdk issue 323 (see the canary below)."""
    voice_http.script.append(CREATED)
    sms_http.script.append(SMS_OK)
    adapter.place_call(outbound())
    adapter.send_sms(CUSTOMER, OUR_NUMBER, "Reply CANCEL to cancel.")
    assert header(voice_http.sent[0], "Content-Type") == "application/json"
    assert header(sms_http.sent[0], "Content-Type") == "application/x-www-form-urlencoded"
    assert header(sms_http.sent[0], "Authorization").startswith("Basic ")


def test_canary_one_shared_sdk_client_still_mislabels_sms_after_a_json_request() -> None:
    """If this fails, vonage-python-sdk fixed issue 323 and the two clients could be one."""
    private_key, _ = rsa_key_pair()
    auth = Auth(api_key=API_KEY, api_secret=API_SECRET, application_id=APPLICATION_ID, private_key=private_key)
    shared = Vonage(auth, HttpClientOptions(api_host="api.vonage.test", rest_host="rest.vonage.test"))
    transport = mount(shared, FakeTransport(CREATED, SMS_OK))
    shared.voice.create_call(
        CreateCallRequest(
            to=[ToPhone(number="447700900001")], from_=Phone(number="447700900000"), answer_url=["https://a"]
        )
    )
    shared.sms.send(SmsMessage(to="447700900001", from_="447700900000", text="hi"))
    assert header(transport.sent[1], "Content-Type") == "application/json"


@pytest.mark.parametrize(
    ("text", "unicode"),
    [
        ("Your callback is at 10:30. Reply CANCEL.", False),
        ("Rappel : votre rappel à 10h30, réponse ANNULER.", False),  # à é are in GSM 03.38
        ("Ça commence à 10h30.", False),  # capital Ç is in the GSM alphabet...
        ("Reçu, merci.", True),  # ...small ç is not
        ("Ваш обратный звонок в 10:30.", True),
        ("Price: 5€ [promo]", False),  # the GSM extension table
    ],
)
def test_texts_outside_the_gsm_alphabet_are_sent_as_unicode(
    adapter: VonageTelephony, sms_http: FakeTransport, text: str, unicode: bool
) -> None:
    sms_http.script.append(SMS_OK)
    adapter.send_sms(CUSTOMER, OUR_NUMBER, text)
    fields = form_body(sms_http.sent[0])
    assert fields["text"] == text
    assert fields.get("type") == ("unicode" if unicode else None)


def test_an_alphanumeric_sender_id_is_sent_as_it_is(adapter: VonageTelephony, sms_http: FakeTransport) -> None:
    sms_http.script.append(SMS_OK)
    adapter.send_sms(CUSTOMER, "AcmeCare", "hi")
    assert form_body(sms_http.sent[0])["from"] == "AcmeCare"


def _rejected(status: str, text: str) -> Reply:
    return Reply(200, {"message-count": "1", "messages": [{"status": status, "error-text": text}]})


@pytest.mark.parametrize(
    ("status", "permanent", "code"),
    [
        ("1", False, "rate_limited"),
        ("3", True, "invalid_params"),
        ("4", False, "auth"),
        ("5", False, "server_error"),
        ("6", True, "invalid_number"),
        ("7", True, "number_barred"),
        ("9", False, "quota"),
        ("15", True, "invalid_sender"),
        ("29", True, "destination_not_whitelisted"),
        ("99", False, "sms_status_99"),
    ],
)
def test_a_rejected_sms_is_a_provider_error_that_says_if_retrying_helps(
    adapter: VonageTelephony, sms_http: FakeTransport, status: str, permanent: bool, code: str
) -> None:
    sms_http.script.append(_rejected(status, "Rejected 447700900001"))
    with pytest.raises(ProviderError) as caught:
        adapter.send_sms(CUSTOMER, OUR_NUMBER, "hi")
    assert type(caught.value) is ProviderError
    assert (caught.value.permanent, caught.value.code) == (permanent, code)
    assert "447700900001" not in caught.value.message


def test_a_long_text_with_a_refused_part_reports_that_part(adapter: VonageTelephony, sms_http: FakeTransport) -> None:
    sms_http.script.append(
        Reply(200, {"message-count": "2", "messages": [{"status": "0", "message-id": "A"}, {"status": "7"}]})
    )
    with pytest.raises(ProviderError) as caught:
        adapter.send_sms(CUSTOMER, OUR_NUMBER, "x" * 300)
    assert (caught.value.permanent, caught.value.code) == (True, "number_barred")


@pytest.mark.parametrize(
    ("reply", "code"),
    [
        (_problem(401, "Unauthorized"), "auth"),
        (_problem(429, "Too Many Requests"), "rate_limited"),
        (_problem(500, "Internal Server Error"), "server_error"),
        (requests.ConnectionError("refused"), "connection"),
        (requests.ConnectTimeout("connect timed out"), "timeout"),
        (Reply(200, {"unexpected": True}), "unexpected_response"),
    ],
)
def test_sms_transport_failures_are_transient_provider_errors(
    adapter: VonageTelephony, sms_http: FakeTransport, reply: Reply | Exception, code: str
) -> None:
    sms_http.script.append(reply)
    with pytest.raises(ProviderError) as caught:
        adapter.send_sms(CUSTOMER, OUR_NUMBER, "hi")
    assert type(caught.value) is ProviderError
    assert (caught.value.permanent, caught.value.code) == (False, code)


def test_a_status_url_longer_than_the_sdk_allows_is_a_provider_error(
    adapter: VonageTelephony, sms_http: FakeTransport
) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.send_sms(CUSTOMER, OUR_NUMBER, "hi", "https://cb.example.com/" + "x" * 100)
    assert (caught.value.permanent, caught.value.code) == (False, "bad_request")
    assert sms_http.sent == []


def test_an_sms_to_a_bad_number_is_refused_before_sending(adapter: VonageTelephony, sms_http: FakeTransport) -> None:
    with pytest.raises(ProviderError) as caught:
        adapter.send_sms("07700900001", OUR_NUMBER, "hi")
    assert (caught.value.permanent, caught.value.code) == (True, "invalid_number")
    assert sms_http.sent == []

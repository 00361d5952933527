"""Every provider webhook route, fuzzed: never a 5xx, and a refused request changes nothing.

The routes are read off the app's URL map (every rule under /webhooks/<provider>/), each
tried for the simulator, Twilio and Vonage (adapters registered as the provider tests do)
and for a provider that is not configured, with real signed tokens in the URL (an
attempt of each provider, a holding and a menu state of an inbound call) and forged or
stale ones. The bodies: empty, the wrong content type, invalid UTF-8, 2 MB, JSON nested
10 000 deep, a valid report of the route's kind with each field left out in turn or
replaced by a value of another type (object, array, number, null, boolean, a string
where a number is read, huge and negative numbers), and generated ones (Hypothesis,
derandomized). Each is sent unsigned and signed as its provider signs (the simulator's
HMAC, Twilio's X-Twilio-Signature with bodySHA256 for a raw body, Vonage's JWT).

Every answer must be below 500; every 4xx must leave every table (``metadata``) as
it was, row for row. A 2xx may record what it was sent (a call-progress report into the
inbox, a text), and becomes the new baseline.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, literal, select, union_all, update
from twilio.request_validator import RequestValidator
from werkzeug.datastructures import MultiDict
from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback
from infra.schema import metadata
from ivr_flows.inbound import IvrState
from services.dialer.urls import WebhookUrls
from services.inbound_calls import IvrUrls
from telephony.simulator import SIGNATURE_HEADER, sign
from telephony.twilio_adapter import TwilioTelephony
from tests.integration.helpers import book, phone
from tests.unit.test_vonage_adapter import SIGNATURE_SECRET, make_adapter
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response

# Input handling does not change with the backend: fuzzed once, on the stricter one (tests/conftest.py).
pytestmark = pytest.mark.strictest_backend

PROVIDERS = ("simulator", "twilio", "vonage")
FORM = "application/x-www-form-urlencoded"
JSON = "application/json"
OUR_NUMBER = "+441632960001"  # the demo queue's number
AGENT = "+442079460000"
CALL_IDS = {"simulator": "SIM-fuzz-1", "twilio": "CA" + "f" * 32, "vonage": "63f61863-4a51-4f6b-86e1-46edebcf9356"}
IVR_CALL = {"simulator": "SIM-ivr-1", "twilio": "CA" + "e" * 32, "vonage": "aaaaaaaa-4a51-4f6b-86e1-46edebcf9356"}
HUGE = 10**30
STEP_REPORTS = ("holding", "queued", "dequeued")  # the IVR steps whose URL takes a report of its own kind
# The tables whose rows a webhook changes (the others it only adds to): compared row for row.
UPDATED_IN_PLACE = ("attempt", "callback", "slot", "queue", "sms_message", "sms_offer", "ivr_offer", "sim_call")


# --- the valid report of each kind, per provider ----------------------------------------


def valid_report(provider: str, kind: str, call_id: str) -> dict[str, Any]:
    """A report the route's parser accepts (its fields are what the fuzz breaks)."""
    customer = phone(7)
    if kind == "assignment":  # TaskRouter's (Twilio only: the route refuses the others)
        return {
            "AccountSid": ACCOUNT_SID,
            "TaskSid": "WT" + "1" * 32,
            "ReservationSid": "WR" + "1" * 32,
            "WorkerSid": "WK" + "1" * 32,
            "TaskAttributes": json.dumps({"type": "callback", "callback_attempt": "1.not-signed"}),
            "WorkerAttributes": json.dumps({"contact_uri": AGENT}),
        }
    if provider == "simulator":
        return {
            "answer": {"call_id": call_id, "state": "answered", "sequence": 2, "answered_by": "human"},
            "event": {"call_id": call_id, "state": "ringing", "sequence": 1, "duration": 0},
            "menu": {"call_id": call_id, "digits": "1"},
            "dial": {"call_id": call_id, "state": "completed", "duration": 10},
            "inbound": {"call_id": call_id, "from": customer, "to": OUR_NUMBER},
            "inbound_status": {"call_id": call_id, "state": "completed", "sequence": 3, "duration": 40},
            "ivr": {"call_id": call_id, "digits": "1"},
            "holding": {"call_id": call_id, "state": "completed", "duration": 10},
            "queued": {"call_id": call_id, "digits": ""},
            "dequeued": {"call_id": call_id, "digits": ""},
            "sms_inbound": {"message_id": "SIM-msg-1", "from": customer, "to": OUR_NUMBER, "text": "call me"},
            "sms_status": {"message_id": "SIM-msg-1", "status": "delivered", "error_code": None},
        }[kind]
    if provider == "twilio":
        base = {"CallSid": call_id, "AccountSid": ACCOUNT_SID}
        return {
            "answer": {**base, "CallStatus": "in-progress", "To": customer},
            "event": {**base, "CallStatus": "ringing", "SequenceNumber": "1", "CallDuration": "0"},
            "menu": {**base, "Digits": "1", "Confidence": "0.9"},
            "dial": {**base, "DialCallStatus": "completed", "DialCallDuration": "10"},
            "inbound": {**base, "From": customer, "To": OUR_NUMBER},
            "inbound_status": {**base, "CallStatus": "completed", "CallDuration": "40"},
            "ivr": {**base, "Digits": "1"},
            "holding": {**base, "DialCallStatus": "completed", "DialCallDuration": "10"},
            "queued": {**base, "QueuePosition": "2", "QueueTime": "60", "CurrentQueueSize": "3"},
            "dequeued": {**base, "QueueResult": "leave", "QueueTime": "60"},
            "sms_inbound": {"MessageSid": "SM" + "1" * 32, "From": customer, "To": OUR_NUMBER, "Body": "call me"},
            "sms_status": {"MessageSid": "SM" + "1" * 32, "MessageStatus": "delivered", "ErrorCode": "0"},
        }[kind]
    stamp = "2027-01-04T10:00:00.000Z"
    return {
        "answer": {"uuid": call_id, "status": "answered", "timestamp": stamp},
        "event": {"uuid": call_id, "status": "ringing", "timestamp": stamp, "duration": "0"},
        "menu": {"uuid": call_id, "dtmf": {"digits": "1", "timed_out": False}},
        "dial": {"uuid": call_id, "status": "completed", "duration": "10", "timestamp": stamp},
        "inbound": {"uuid": call_id, "from": customer[1:], "to": OUR_NUMBER[1:]},
        "inbound_status": {"uuid": call_id, "status": "completed", "duration": "40", "timestamp": stamp},
        "ivr": {"uuid": call_id, "dtmf": {"digits": "1", "timed_out": False}},
        "holding": {"uuid": call_id, "status": "completed", "duration": "10", "timestamp": stamp},
        "queued": {"uuid": call_id, "dtmf": {"digits": "", "timed_out": True}},
        "dequeued": {"uuid": call_id, "dtmf": {"digits": "", "timed_out": True}},
        "sms_inbound": {
            "msisdn": customer[1:],
            "to": OUR_NUMBER[1:],
            "messageId": "0A0000001234",
            "text": "call me",
            "type": "text",
            "concat": "true",
            "concat-ref": "7",
            "concat-total": "2",
            "concat-part": "1",
        },
        "sms_status": {"messageId": "0A0000001234", "status": "delivered", "err-code": "0"},
    }[kind]


# Values of another type than the field's (or out of its range): each replaces one field.
ILL_TYPED: list[Any] = [
    {"nested": {"a": [1, 2]}},
    [1, "2", None],
    -1,
    HUGE,
    1.5e308,
    None,
    True,
    "not a number",
    "\u0000\ud7ff\U0001f4de",
    "x" * 5000,
]
# JSON values for the generated bodies.
JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=12,
)


@dataclass(frozen=True)
class Body:
    name: str
    content_type: str | None
    data: bytes
    form: MultiDict[str, str] | None = None  # what the app parses from a form body (Twilio signs it)


def json_body(name: str, document: object) -> Body:
    return Body(name, JSON, json.dumps(document).encode())


def form_body(name: str, pairs: list[tuple[str, str]]) -> Body:
    return Body(name, FORM, urlencode(pairs).encode())


def raw_bodies() -> list[Body]:
    """The same for every route: nothing a parser could want."""
    deep_array = b"[" * 10_000 + b"]" * 10_000
    deep_object = b'{"a":' * 10_000 + b"1" + b"}" * 10_000
    two_mb = b"x" * (2 * 1024 * 1024)
    return [
        Body("empty", None, b""),
        Body("empty json", JSON, b""),
        Body("empty form", FORM, b""),
        Body("json as text/plain", "text/plain", b'{"call_id": "x", "state": "ringing"}'),
        Body("xml", "application/xml", b"<Response><Say>hi</Say></Response>"),
        Body("broken multipart", "multipart/form-data; boundary=zz", b"--zz\r\nnot a part\r\n--zz--"),
        Body("form as json", JSON, b"CallSid=CA1&CallStatus=ringing"),
        Body("json as form", FORM, b'{"uuid": "x", "status": "ringing"}'),
        Body("invalid utf-8 json", JSON, b'{"call_id": "\xff\xfe", "uuid": "\xc3\x28"}'),
        Body("invalid utf-8 form", FORM, b"CallSid=\xff\xfe&To=%ff%fe%c3%28&Body=\xc3\x28"),
        Body("invalid utf-8 raw", "text/plain; charset=utf-8", b"\xff\xfe\xfd\x00\x80"),
        Body("2 MB json", JSON, b'{"text": "' + two_mb + b'"}'),
        Body("2 MB form", FORM, b"Body=" + two_mb),
        Body("json nested 10000 deep (array)", JSON, deep_array),
        Body("json nested 10000 deep (object)", JSON, deep_object),
        Body("json array", JSON, b"[1, 2, 3]"),
        Body("json string", JSON, b'"ringing"'),
        Body("json null", JSON, b"null"),
        Body("json NaN", JSON, b'{"duration": NaN, "sequence": Infinity}'),
        Body("json duplicate keys", JSON, b'{"status": "ringing", "status": {"x": 1}}'),
    ]


def report_bodies(provider: str, report: dict[str, Any]) -> list[Body]:
    """The valid report, then each field left out, then each field of another type."""
    as_form = provider == "twilio"

    def make(name: str, document: dict[str, Any]) -> Body:
        if as_form:
            return form_body(name, [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in document.items()])
        return json_body(name, document)

    bodies = [make("valid", report), make("no fields", {})]
    for field in report:
        bodies.append(make(f"without {field}", {k: v for k, v in report.items() if k != field}))
        for value in ILL_TYPED:
            bodies.append(make(f"{field}={json.dumps(value)[:30]}", {**report, field: value}))
    if as_form:  # a form's own ill-typing: repeated fields, and JSON where a form is read
        bodies.append(form_body("repeated fields", [(k, v) for k, v in report.items() for _ in range(2)]))
        bodies.append(json_body("json instead of form", report))
    else:
        bodies.append(form_body("form instead of json", [(k, str(v)) for k, v in report.items()]))
    return bodies


# --- signing as each provider does --------------------------------------------------------


def parsed_form(body: Body) -> MultiDict[str, str]:
    """The form the app reads from ``body`` (what Twilio's signature is computed over)."""
    builder = EnvironBuilder(method="POST", data=body.data, content_type=body.content_type or "")
    try:
        return MultiDict(Request(builder.get_environ()).form)
    finally:
        builder.close()


def signed(provider: str, method: str, url: str, body: Body, query: dict[str, str]) -> tuple[str, dict[str, str]]:
    """(the URL to request, with any signing query; the signature headers)."""
    full = url + (f"?{urlencode(query)}" if query else "")
    if provider == "simulator":
        return full, {SIGNATURE_HEADER: sign("test-secret", method, full, body.data)}
    if provider == "twilio":
        validator = RequestValidator(AUTH_TOKEN)
        if body.content_type == FORM and method == "POST":
            return full, {"X-Twilio-Signature": validator.compute_signature(full, parsed_form(body))}
        if method == "POST" and body.data:  # a raw body: covered by bodySHA256 in the signed URL
            query = {**query, "bodySHA256": hashlib.sha256(body.data).hexdigest()}
            full = f"{url}?{urlencode(query)}"
            return full, {"X-Twilio-Signature": validator.compute_signature(full, {})}
        return full, {"X-Twilio-Signature": validator.compute_signature(full, {})}
    if method == "GET" or not body.data:
        digest = hashlib.sha256(
            json.dumps(query, separators=(",", ":"), ensure_ascii=False).encode() if query else b""
        ).hexdigest()
    else:
        digest = hashlib.sha256(body.data).hexdigest()
    claims = {"iat": int(time.time()), "payload_hash": digest, "iss": "Vonage", "application_id": "fuzz"}
    return full, {"Authorization": "Bearer " + jwt.encode(claims, SIGNATURE_SECRET, algorithm="HS256")}


# --- the app, its rows, and the check ---------------------------------------------------------


@dataclass
class Target:
    provider: str
    endpoint: str
    kind: str
    methods: tuple[str, ...]
    path: str
    call_id: str
    full: bool  # the provider's real token: every body (the others are refused before one is read)


class Fuzz:
    def __init__(self, app: Flask, client: FlaskClient, db: Database) -> None:
        self.app, self.client, self.db = app, client, db
        self.base = app.extensions["settings"].public_base_url
        self.tables = list(metadata.sorted_tables)
        self.counts = union_all(*(select(literal(t.name), func.count()).select_from(t) for t in self.tables))
        quote = db.engine.dialect.identifier_preparer.quote
        self.updated = {
            name: f"SELECT * FROM {quote(name)} ORDER BY "
            + ", ".join(quote(c.name) for c in metadata.tables[name].primary_key.columns)
            for name in UPDATED_IN_PLACE
        }
        self.requests = 0
        self.statuses: dict[int, int] = {}
        self.snapshot = self.rows()

    def rows(self) -> dict[str, Any]:
        """How many rows every table has (one statement), and every row of the tables a
        webhook updates in place (where a count would not see a change)."""
        with self.db.read() as session:
            counts = {name: n for name, n in session.execute(self.counts)}
            return {
                **{t.name: counts[t.name] for t in self.tables},
                # As the driver reads them (no type processing: the slot table is large).
                **{
                    f"{name} rows": session.connection().exec_driver_sql(sql).all()
                    for name, sql in self.updated.items()
                },
            }

    def send(
        self,
        target: Target,
        method: str,
        body: Body,
        *,
        sign_it: bool,
        query: dict[str, str] | None = None,
    ) -> int:
        query = dict(query or {})
        url = self.base + target.path
        headers: dict[str, str] = {}
        if sign_it:
            url, headers = signed(target.provider, method, url, body, query)
        elif query:
            url += f"?{urlencode(query)}"
        path = url[len(self.base) :]
        response = self.client.open(
            path,
            method=method,
            data=body.data if method == "POST" else None,
            content_type=body.content_type if method == "POST" else None,
            headers=headers,
        )
        status = response.status_code
        self.requests += 1
        self.statuses[status] = self.statuses.get(status, 0) + 1
        what = f"{method} {target.path} ({target.provider}, {'signed' if sign_it else 'unsigned'}, {body.name})"
        assert status < 500, f"{what}: {status} {response.get_data(as_text=True)[:500]}"
        after = self.rows()
        if 400 <= status < 500:
            changed = {t for t in after if after[t] != self.snapshot[t]}
            assert not changed, f"{what}: refused with {status}, but changed {sorted(changed)}"
        self.snapshot = after
        return status


def _kind(endpoint: str, token_kind: str) -> str:
    name = endpoint.rsplit(".", 1)[1]
    kinds = {
        "voice_answer": "answer",
        "voice_event": "event",
        "voice_menu": "menu",
        "voice_dial": "dial",
        "voice_inbound": "inbound",
        "voice_inbound_status": "inbound_status",
        "voice_ivr": token_kind,  # a menu's gather, a holding caller's dial result, a queue's wait or action URL
        "sms_inbound": "sms_inbound",
        "sms_status": "sms_status",
        "taskrouter_assignment": "assignment",
    }
    return kinds[name]


@pytest.fixture
def fuzz(app: Flask, client: FlaskClient, db: Database, clock: FixedClock, make_queue: Any) -> Iterator[Fuzz]:
    registry = app.extensions["providers"]
    registry.register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=FakeTwilioHttp(json_response(201, {}))))
    registry.register(make_adapter())
    make_queue(agent_target=AGENT)  # the demo queue, with an agent Twilio and Vonage can dial (docs/queues.md)
    # A dialing attempt per provider (what the dialer would have written), and a text sent.
    refs = [book(client, n).get_json()["ref"] for n in range(1, 4)]
    attempts: dict[str, int] = {}
    with db.write() as session:
        for provider, ref in zip(PROVIDERS, refs, strict=True):
            callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
            session.execute(update(Callback).where(Callback.id == callback.id).values(state="dialing"))
            attempt = Attempt(
                callback_id=callback.id,
                number=1,
                provider=provider,
                call_id=CALL_IDS[provider],
                call_state="ringing",
                requested_at=clock.now() - timedelta(seconds=20),
            )
            session.add(attempt)
            session.flush()
            attempts[provider] = attempt.id
    yield Fuzz(app, client, db)


def targets(app: Flask, fuzz: Fuzz) -> list[Target]:
    """Every webhook rule, for each provider and one not configured, with its tokens filled in."""
    settings = app.extensions["settings"]
    attempt_urls = WebhookUrls(settings.public_base_url, settings.secret_key)
    ivr_urls = IvrUrls(settings.public_base_url, settings.secret_key)
    with fuzz.db.read() as session:
        attempts = {a.provider: a.id for a in session.scalars(select(Attempt))}
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/webhooks/<provider>/")]
    assert {r.endpoint.rsplit(".", 1)[1] for r in rules} == {
        "voice_answer",
        "voice_event",
        "voice_menu",
        "voice_dial",
        "voice_inbound",
        "voice_inbound_status",
        "voice_ivr",
        "sms_inbound",
        "sms_status",
        "taskrouter_assignment",
    }, "a new webhook route: give it a valid report in valid_report()"
    found: list[Target] = []
    for rule in rules:
        methods = tuple(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
        for provider in (*PROVIDERS, "nope"):
            real = provider if provider in PROVIDERS else "simulator"
            tokens: list[tuple[str, str, str]] = []  # (token, kind of report, call id): the real one first
            if "<token>" in rule.rule and rule.endpoint.endswith("voice_ivr"):
                # A menu's gather, a holding caller's dial result, a provider queue's wait and action URLs.
                for step in ("offer", *STEP_REPORTS):
                    state = IvrState(
                        queue="support", call_id=IVR_CALL[real], step=step, caller=phone(7), queued=step == "queued"
                    )
                    url = ivr_urls.gather(real, state)
                    token = url.split("/voice/ivr/", 1)[1].split("?", 1)[0]
                    tokens.append((token, step if step in STEP_REPORTS else "ivr", IVR_CALL[real]))
                tokens.append(("not-a-state", "ivr", IVR_CALL[real]))
            elif "<token>" in rule.rule:
                tokens.append((attempt_urls.token(attempts[real]), "", CALL_IDS[real]))
                tokens.append((attempt_urls.token(987654), "", CALL_IDS[real]))  # signed, but no such attempt
                tokens.append((attempt_urls.token(HUGE), "", CALL_IDS[real]))  # signed, beyond any id
                tokens.append(("forged.token", "", CALL_IDS[real]))
            else:
                tokens.append(("", "", "SIM-in-1" if real == "simulator" else CALL_IDS[real] + "in"))
            for n, (token, token_kind, call_id) in enumerate(tokens):
                steps = ["1", "0", str(HUGE)] if "<int:step>" in rule.rule else [""]
                for step in steps:
                    path = rule.rule.replace("<provider>", provider).replace("<token>", token)
                    path = path.replace("<int:step>", step)
                    kind = _kind(rule.endpoint, token_kind)
                    real_token = n == 0 or kind in STEP_REPORTS
                    full = provider in PROVIDERS and real_token and step in ("", "1")
                    found.append(Target(provider, rule.endpoint, kind, methods, path, call_id, full))
    return found


def test_every_webhook_route_survives_every_body(app: Flask, fuzz: Fuzz) -> None:
    raw = raw_bodies()
    few = [b for b in raw if b.name in ("empty", "invalid utf-8 json", "json nested 10000 deep (object)")]
    for target in targets(app, fuzz):
        real = target.provider if target.provider in PROVIDERS else "simulator"
        report = valid_report(real, target.kind, target.call_id)
        bodies = raw + report_bodies(real, report) if target.full else [*few, report_bodies(real, report)[0]]
        for body in bodies if "POST" in target.methods else []:
            for sign_it in (False, True):
                fuzz.send(target, "POST", body, sign_it=sign_it)
        if "GET" in target.methods:  # a GET webhook's fields are its query
            queries: list[dict[str, str]] = [{}, {k: str(v) for k, v in report.items()}]
            if target.full:
                queries += [{**queries[1], k: json.dumps(v)} for k in report for v in ILL_TYPED[:6]]
            for query in queries:
                for sign_it in (False, True):
                    fuzz.send(target, "GET", Body("query", None, b""), sign_it=sign_it, query=query)
    assert fuzz.requests > 2000
    assert fuzz.statuses.get(403, 0) > 500, fuzz.statuses  # unsigned, or signed but unreadable
    assert sum(n for s, n in fuzz.statuses.items() if s < 300) > 100, fuzz.statuses  # valid reports got through


@settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(data=st.data())
def test_generated_reports_are_answered_below_500(app: Flask, fuzz: Fuzz, data: st.DataObject) -> None:
    """Generated documents on a valid report's fields (and some of their own), signed."""
    main = [t for t in targets(app, fuzz) if t.full and "POST" in t.methods]
    target = data.draw(st.sampled_from(main), label="target")
    report = valid_report(target.provider, target.kind, target.call_id)
    keys = st.sampled_from(sorted(report)) | st.text(max_size=10)
    changes = data.draw(st.dictionaries(keys, JSON_VALUES, max_size=4), label="changes")
    dropped = data.draw(st.sets(st.sampled_from(sorted(report))), label="dropped")
    document = {k: v for k, v in {**report, **changes}.items() if k not in dropped}
    if target.provider == "twilio":
        body = form_body("generated", [(k, v if isinstance(v, str) else json.dumps(v)) for k, v in document.items()])
    else:
        body = json_body("generated", document)
    fuzz.send(target, "POST", body, sign_it=True)

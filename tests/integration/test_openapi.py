"""web_widget/openapi.json is the API's contract; these tests keep it true to the code.

Every route under /api/v1 is documented and every documented operation exists. Real
answers of the app (success and every documented error) validate against the schema
documented for their status, and each operation's test must produce every status and
error type the document lists for it, so neither side can drift alone. The request
schemas accept and refuse the same bodies as the code's own validation.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from jsonschema import Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT202012
from sqlalchemy import update
from werkzeug.test import TestResponse

from app.error_statuses import http_status
from app.errors import HTTP_TYPES
from app.factory import create_app
from events import api as events_api  # noqa: F401  # its error types, for _code_statuses
from events.subscriptions import SubscriptionInvalid, check_fields
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback
from infra.settings import Settings
from scheduler.errors import DomainError, ValidationFailed
from services.links import follow_short_link, short_booking_url
from tests.integration.test_database_outage import cut_off
from tests.integration.test_events_api import add_delivery, make_key
from web_widget.api import OPENAPI_PATH
from web_widget.schemas import CreateCallback, Reschedule, validate

DOCUMENT: dict[str, Any] = json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
DOCUMENT_URI = "urn:callback-scheduler:openapi"
REGISTRY: Registry[Any] = Registry().with_resource(DOCUMENT_URI, DRAFT202012.create_resource(DOCUMENT))
HTTP_METHODS = ("get", "put", "post", "delete", "patch")

# jsonschema checks "date-time" only with an optional package; RFC 3339 is simple enough to check here.
FORMATS = FormatChecker()
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", re.ASCII | re.IGNORECASE)


@FORMATS.checks("date-time", raises=ValueError)
def _is_date_time(instance: object) -> bool:
    if not isinstance(instance, str):
        return True
    return RFC3339.fullmatch(instance) is not None and datetime.fromisoformat(instance.upper()) is not None


# Valid UK mobile numbers (07700 900xxx is a fictional range that phonenumbers refuses).
PHONES = [f"+4474001234{n:02d}" for n in range(20)]
SUPPORT = "/api/v1/queues/support"
NEW_SUBSCRIPTION = {"name": "CRM", "url": "https://crm.example.com/hooks", "event_types": ["callback.created"]}


# --- reading the document -------------------------------------------------------------


def _escape(token: str) -> str:
    return token.replace("~", "~0").replace("/", "~1")


def _pointer(tokens: tuple[str, ...]) -> str:
    return "".join("/" + _escape(t) for t in tokens)


def _node(tokens: tuple[str, ...]) -> Any:
    node: Any = DOCUMENT
    for token in tokens:
        node = node[int(token)] if isinstance(node, list) else node[token]
    return node


def _follow(tokens: tuple[str, ...]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The node at ``tokens`` and where it really is, following a local ``$ref``."""
    node = _node(tokens)
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), ref
        tokens = tuple(t.replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/"))
        node = _node(tokens)
    return tokens, node


def schema_errors(tokens: tuple[str, ...], instance: Any) -> list[str]:
    """Messages of ``instance`` against the schema at ``tokens`` in the document (refs resolved)."""
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#{_pointer(tokens)}"}, registry=REGISTRY, format_checker=FORMATS
    )
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in validator.iter_errors(instance)]


def component(name: str) -> tuple[str, ...]:
    return ("components", "schemas", name)


def openapi_path(flask_rule: str) -> str:
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", flask_rule)


def operations() -> list[tuple[str, str]]:
    return [(path, method) for path, item in DOCUMENT["paths"].items() for method in item if method in HTTP_METHODS]


def error_types(response: dict[str, Any]) -> list[str]:
    """The error ``type`` values a documented response lists (``allOf: [Error, {type: enum}]``)."""
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    for part in schema.get("allOf", []):
        enum = part.get("properties", {}).get("type", {}).get("enum")
        if enum is not None:
            return list(enum)
    return []


def all_schemas(node: Any, where: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], Any]]:
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "schema" or where[-1:] == ("schemas",):
                found.append(((*where, key), value))
            elif key not in ("example", "examples"):
                found.extend(all_schemas(value, (*where, key)))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found.extend(all_schemas(value, (*where, str(i))))
    return found


def all_refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return own + [r for value in node.values() for r in all_refs(value)]
    if isinstance(node, list):
        return [r for value in node for r in all_refs(value)]
    return []


# --- calling the app ---------------------------------------------------------------------


class Contract:
    """Calls the app, checks each answer against the document and remembers what it saw."""

    def __init__(self, app: Flask, client: FlaskClient) -> None:
        self.urls = app.url_map.bind("localhost")
        self.client = client
        self.seen: set[tuple[str, str, int, str | None]] = set()

    def call(self, method: str, url: str, **kwargs: Any) -> tuple[TestResponse, Any]:
        response = self.client.open(url, method=method.upper(), **kwargs)
        rule, _ = self.urls.match(url.split("?")[0], method=method.upper(), return_rule=True)
        path = openapi_path(rule.rule)
        body = self.check(response, ("paths", path, method.lower(), "responses"))
        self.seen.add((path, method.lower(), response.status_code, _type_of(body, response.status_code)))
        return response, body

    def check(self, response: TestResponse, responses: tuple[str, ...]) -> Any:
        """Check an answer against the operation whose responses are at ``responses``."""
        status = str(response.status_code)
        documented = _node(responses)
        assert status in documented or (status.startswith("5") and "default" in documented), (
            f"{_pointer(responses)}: status {status} is not documented: {response.get_data(as_text=True)}"
        )
        return self.check_against(response, (*responses, status if status in documented else "default"))

    def check_against(self, response: TestResponse, at: tuple[str, ...]) -> Any:
        """Check an answer against the response object at ``at``: body schema, then headers."""
        where, spec = _follow(at)
        body = None
        if "content" in spec:
            assert response.mimetype == "application/json"
            body = response.get_json()
            errors = schema_errors((*where, "content", "application/json", "schema"), body)
            assert not errors, f"{_pointer(where)}: {errors}\n{json.dumps(body, indent=1)}"
        else:  # documented without a body (a 304)
            assert response.get_data() == b"", f"{_pointer(where)}: a body where none is documented"
        for name in spec.get("headers", {}):
            header_at, header = _follow((*where, "headers", name))
            if header.get("required"):
                assert name in response.headers, f"{_pointer(where)}: header {name} is missing"
            if name in response.headers:
                assert not schema_errors((*header_at, "schema"), response.headers[name])
        return body

    def assert_exercised(self, path: str, method: str) -> None:
        """Every status and error type documented for the operation was produced, and nothing else."""
        documented = set()
        for status, spec in DOCUMENT["paths"][path][method]["responses"].items():
            if status == "default":
                continue
            _, spec = _follow(("paths", path, method, "responses", status))
            types: list[str | None] = list(error_types(spec)) or [None]
            documented |= {(path, method, int(status), t) for t in types}
        # The per-address limit answers every operation alike: exercised for all of them
        # at once by test_throttled_answers_match_the_document.
        # So does a wrong API key: test_unauthorized_answers_match_the_document, and the
        # database cut off: test_unavailable_answers_match_the_document.
        documented = {
            d for d in documented if d[3] not in ("request_throttle_timeout", "api_key_invalid", "database_unavailable")
        }
        seen = {s for s in self.seen if s[:2] == (path, method)}
        assert seen == documented, f"not exercised: {documented - seen}; not documented: {seen - documented}"


def _type_of(body: Any, status: int) -> str | None:
    return body.get("type") if status >= 400 and isinstance(body, dict) else None


@pytest.fixture
def contract(app: Flask, client: FlaskClient) -> Contract:
    return Contract(app, client)


def slot_starts(contract: Contract, **query: str) -> list[str]:
    query = {"days": "1", **query}
    _, body = contract.call("get", f"{SUPPORT}/slots?" + "&".join(f"{k}={v}" for k, v in query.items()))
    return [slot["start"] for slot in body["slots"]]


def book(contract: Contract, phone: str, slot_start: str | None = None, **extra: Any) -> tuple[TestResponse, Any]:
    body: dict[str, Any] = {"queue": "support", "phone": phone, "kind": "scheduled" if slot_start else "asap"}
    if slot_start:
        body["slot_start"] = slot_start
    body.update(extra)
    return contract.call("post", "/api/v1/callbacks", json=body)


def assert_error(response: TestResponse, body: Any, status: int, type_: str) -> None:
    assert (response.status_code, body["type"]) == (status, type_), body


# --- the document itself -----------------------------------------------------------------


def test_the_document_is_openapi_3_1_with_valid_json_schemas() -> None:
    assert DOCUMENT["openapi"].startswith("3.1.")
    assert DOCUMENT["jsonSchemaDialect"] == "https://json-schema.org/draft/2020-12/schema"
    schemas = all_schemas(DOCUMENT)
    assert len(schemas) > 20
    for where, schema in schemas:
        try:
            Draft202012Validator.check_schema(schema)
        except Exception as exc:  # pragma: no cover - the message is the point
            pytest.fail(f"{_pointer(where)} is not a valid JSON Schema 2020-12: {exc}")
    refs = all_refs(DOCUMENT)
    assert refs
    for ref in refs:  # a dangling reference raises KeyError
        assert ref.startswith("#/"), ref
        _node(tuple(t.replace("~1", "/").replace("~0", "~") for t in ref[2:].split("/")))
    operation_ids = [DOCUMENT["paths"][p][m]["operationId"] for p, m in operations()]
    assert len(operation_ids) == len(set(operation_ids))


def test_request_body_examples_match_their_schemas() -> None:
    for path, method in operations():
        body = DOCUMENT["paths"][path][method].get("requestBody")
        if body is None:
            continue
        media = body["content"]["application/json"]
        schema_at = ("paths", path, method, "requestBody", "content", "application/json", "schema")
        examples = [e["value"] for e in media.get("examples", {}).values()]
        examples += [media["example"]] if "example" in media else []
        assert examples, f"{path} {method}: no request example"
        for example in examples:
            assert not schema_errors(schema_at, example)


def _code_statuses() -> dict[str, int]:
    statuses: dict[str, int] = {}

    def walk(cls: type[DomainError]) -> None:
        for sub in cls.__subclasses__():
            statuses[sub.type] = http_status(sub)
            walk(sub)

    walk(DomainError)
    statuses.update({type_: status for status, type_ in HTTP_TYPES.items()})
    statuses["internal_error"] = 500
    statuses["database_unavailable"] = 503  # app/errors.py, on any route that reads the database
    return statuses


def test_documented_error_types_have_the_status_the_code_gives_them() -> None:
    statuses = _code_statuses()
    documented = [
        ("paths", p, m, "responses", s) for p, m in operations() for s in DOCUMENT["paths"][p][m]["responses"]
    ]
    documented += [("components", "responses", name) for name in DOCUMENT["components"]["responses"]]
    listed = 0
    for where in documented:
        _, spec = _follow(where)
        status = where[-1] if where[0] == "paths" else None
        for type_ in error_types(spec):
            listed += 1
            assert type_ in statuses, f"{_pointer(where)}: the code has no error type {type_!r}"
            if status is not None:
                expected = 500 if status == "default" else int(status)
                assert statuses[type_] == expected, f"{_pointer(where)}: {type_} is answered with {statuses[type_]}"
    assert listed > 30


def test_every_api_route_is_documented_and_every_documented_operation_exists(app: Flask) -> None:
    routes = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/api/v1/"):
            path = openapi_path(rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods or () if m not in ("HEAD", "OPTIONS")}
            if path in DOCUMENT["paths"]:
                parameters = DOCUMENT["paths"][path].get("parameters", [])
                resolved = [_follow(("paths", path, "parameters", str(i)))[1] for i in range(len(parameters))]
                assert {p["name"] for p in resolved if p["in"] == "path"} == set(rule.arguments), path
    documented = set(operations())
    assert routes, "no /api/v1 routes found"
    assert routes - documented == set(), "routes missing from openapi.json"
    assert documented - routes == set(), "documented operations the app does not have"
    assert all(path.startswith("/api/v1/") for path in DOCUMENT["paths"])


# --- the request schemas agree with the code ------------------------------------------------

VALID_SLOT = "2027-01-04T10:30:00+00:00"
ASAP = {"queue": "support", "phone": PHONES[0], "kind": "asap"}
SCHEDULED = {"queue": "support", "phone": PHONES[0], "kind": "scheduled", "slot_start": VALID_SLOT}
FULL = {
    **SCHEDULED,
    "name": "Ada Lovelace",
    "fields": [{"name": "order", "value": "A-1042"}],
    "tags": ["billing", "vip"],
    "unit": "retail",
    "locale": "fr",
    "sms_consent": True,
    "attribution": {
        "session_key": "k-3f2a9c",
        "first_visit_at": "2027-01-03T18:00:00.000Z",
        "source": "newsletter",
        "medium": "email",
        "campaign": "winter",
        "term": "callback",
        "content": "banner",
        "referrer": "https://mail.example.com/",
        "landing_page": "https://shop.example.com/?utm_source=newsletter",
    },
}
ATTRIBUTED = {**ASAP, "attribution": {"source": "ads"}}

CREATE_CASES: list[tuple[str, Any, bool]] = [
    ("asap, minimal", ASAP, True),
    ("asap, slot_start null", {**ASAP, "slot_start": None}, True),
    ("scheduled, every field", FULL, True),
    ("scheduled, Z offset", {**SCHEDULED, "slot_start": "2027-01-04T10:30:00Z"}, True),
    ("nulls where allowed", {**ASAP, "name": None, "unit": None, "locale": None}, True),
    ("empty lists", {**ASAP, "fields": [], "tags": []}, True),
    (
        "5 fields, 10 tags",
        {**ASAP, "fields": [{"name": f"f{i}", "value": ""} for i in range(5)], "tags": ["t"] * 10},
        True,
    ),
    (
        "longest strings",
        {
            "queue": "q" * 64,
            "phone": "1" * 32,
            "kind": "asap",
            "name": "n" * 200,
            "unit": "u" * 100,
            "tags": ["t" * 100],
            "fields": [{"name": "f" * 64, "value": "v" * 255}],
        },
        True,
    ),
    ("an unknown field", {**ASAP, "colour": "blue"}, False),
    ("not an object", [ASAP], False),
    ("no queue", {"phone": PHONES[0], "kind": "asap"}, False),
    ("no phone", {"queue": "support", "kind": "asap"}, False),
    ("no kind", {"queue": "support", "phone": PHONES[0]}, False),
    ("unknown kind", {**ASAP, "kind": "later"}, False),
    ("scheduled without slot_start", {**SCHEDULED, "slot_start": None}, False),
    ("scheduled, slot_start left out", {k: v for k, v in SCHEDULED.items() if k != "slot_start"}, False),
    ("asap with a slot_start", {**ASAP, "slot_start": VALID_SLOT}, False),
    ("slot_start without offset", {**SCHEDULED, "slot_start": "2027-01-04T10:30:00"}, False),
    ("slot_start not a date-time", {**SCHEDULED, "slot_start": "tomorrow"}, False),
    ("slot_start a date", {**SCHEDULED, "slot_start": "2027-01-04"}, False),
    ("6 fields", {**ASAP, "fields": [{"name": f"f{i}", "value": ""} for i in range(6)]}, False),
    ("11 tags", {**ASAP, "tags": ["t"] * 11}, False),
    ("field without value", {**ASAP, "fields": [{"name": "order"}]}, False),
    ("field with an extra key", {**ASAP, "fields": [{"name": "order", "value": "1", "x": 1}]}, False),
    ("blank field name", {**ASAP, "fields": [{"name": "   ", "value": "1"}]}, False),
    ("field name of 65", {**ASAP, "fields": [{"name": "f" * 65, "value": "1"}]}, False),
    ("field value of 256", {**ASAP, "fields": [{"name": "f", "value": "v" * 256}]}, False),
    ("field value not a string", {**ASAP, "fields": [{"name": "f", "value": 1}]}, False),
    ("fields not a list", {**ASAP, "fields": {"name": "f", "value": "v"}}, False),
    ("empty tag", {**ASAP, "tags": [""]}, False),
    ("tag of 101", {**ASAP, "tags": ["t" * 101]}, False),
    ("tag not a string", {**ASAP, "tags": [5]}, False),
    ("unknown locale", {**ASAP, "locale": "de"}, False),
    ("sms_consent as text", {**ASAP, "sms_consent": "yes"}, False),
    ("sms_consent as a number", {**ASAP, "sms_consent": 1}, False),
    ("sms_consent null", {**ASAP, "sms_consent": None}, False),
    ("name of 201", {**ASAP, "name": "n" * 201}, False),
    ("unit of 101", {**ASAP, "unit": "u" * 101}, False),
    ("empty phone", {**ASAP, "phone": ""}, False),
    ("phone of 33", {**ASAP, "phone": "1" * 33}, False),
    ("phone as a number", {**ASAP, "phone": 447400123400}, False),
    ("empty queue", {**ASAP, "queue": ""}, False),
    ("queue of 65", {**ASAP, "queue": "q" * 65}, False),
    ("attribution null", {**ASAP, "attribution": None}, True),
    ("attribution empty", {**ASAP, "attribution": {}}, True),
    ("attribution at its limits", {**ASAP, "attribution": {"source": "s" * 200, "referrer": "r" * 2000}}, True),
    ("attribution with an unknown key", {**ASAP, "attribution": {"source": "ads", "gclid": "x"}}, False),
    ("attribution not an object", {**ASAP, "attribution": "ads"}, False),
    ("utm value of 201", {**ASAP, "attribution": {"campaign": "c" * 201}}, False),
    ("utm value not a string", {**ASAP, "attribution": {"source": 1}}, False),
    ("referrer of 2001", {**ATTRIBUTED, "attribution": {"referrer": "r" * 2001}}, False),
    ("landing page of 2001", {**ATTRIBUTED, "attribution": {"landing_page": "l" * 2001}}, False),
    ("session key of 65", {**ASAP, "attribution": {"session_key": "k" * 65}}, False),
    ("session key with a space", {**ASAP, "attribution": {"session_key": "a b"}}, False),
    ("first visit not a date-time", {**ASAP, "attribution": {"first_visit_at": "yesterday"}}, False),
]

RESCHEDULE_CASES: list[tuple[str, Any, bool]] = [
    ("offset", {"slot_start": VALID_SLOT}, True),
    ("Z", {"slot_start": "2027-01-04T10:30:00Z"}, True),
    ("empty", {}, False),
    ("null", {"slot_start": None}, False),
    ("no offset", {"slot_start": "2027-01-04T10:30:00"}, False),
    ("a number", {"slot_start": 1}, False),
    ("an unknown field", {"slot_start": VALID_SLOT, "kind": "scheduled"}, False),
]


def _code_accepts(model: type[Any], body: Any) -> bool:
    try:
        validate(model, body)
    except ValidationFailed:
        return False
    return True


@pytest.mark.parametrize(("case", "body", "valid"), CREATE_CASES, ids=[c[0] for c in CREATE_CASES])
def test_the_create_callback_schema_accepts_what_the_code_accepts(case: str, body: Any, valid: bool) -> None:
    errors = schema_errors(component("CreateCallback"), body)
    assert (not errors) is valid, f"schema: {errors or 'valid'}"
    assert _code_accepts(CreateCallback, body) is valid


@pytest.mark.parametrize(("case", "body", "valid"), RESCHEDULE_CASES, ids=[c[0] for c in RESCHEDULE_CASES])
def test_the_reschedule_schema_accepts_what_the_code_accepts(case: str, body: Any, valid: bool) -> None:
    errors = schema_errors(component("Reschedule"), body)
    assert (not errors) is valid, f"schema: {errors or 'valid'}"
    assert _code_accepts(Reschedule, body) is valid


SUBSCRIPTION_CASES: list[tuple[str, str, Any, bool]] = [
    ("minimal", "CreateSubscription", NEW_SUBSCRIPTION, True),
    (
        "every field",
        "CreateSubscription",
        {**NEW_SUBSCRIPTION, "format": "xml", "queue": None, "active": False, "secret": "0123456789abcdef"},
        True,
    ),
    ("repeated types", "CreateSubscription", {**NEW_SUBSCRIPTION, "event_types": ["sms.received"] * 2}, True),
    ("plain http", "CreateSubscription", {**NEW_SUBSCRIPTION, "url": "HTTP://crm.example.com:8080/in"}, True),
    ("no types", "CreateSubscription", {**NEW_SUBSCRIPTION, "event_types": []}, False),
    ("unknown type", "CreateSubscription", {**NEW_SUBSCRIPTION, "event_types": ["callback.lost"]}, False),
    ("ftp", "CreateSubscription", {**NEW_SUBSCRIPTION, "url": "ftp://crm.example.com/"}, False),
    ("long url", "CreateSubscription", {**NEW_SUBSCRIPTION, "url": "https://e.com/" + "a" * 487}, False),
    ("long name", "CreateSubscription", {**NEW_SUBSCRIPTION, "name": "n" * 101}, False),
    ("short secret", "CreateSubscription", {**NEW_SUBSCRIPTION, "secret": "0123456789abcde"}, False),
    ("secret with a space", "CreateSubscription", {**NEW_SUBSCRIPTION, "secret": "0123456789 abcdef"}, False),
    ("format csv", "CreateSubscription", {**NEW_SUBSCRIPTION, "format": "csv"}, False),
    ("active as text", "CreateSubscription", {**NEW_SUBSCRIPTION, "active": "yes"}, False),
    ("unknown field", "CreateSubscription", {**NEW_SUBSCRIPTION, "colour": "red"}, False),
    ("no name", "CreateSubscription", {k: v for k, v in NEW_SUBSCRIPTION.items() if k != "name"}, False),
    ("nothing", "ChangeSubscription", {}, True),
    ("rotate", "ChangeSubscription", {"secret": "rotate"}, True),
    ("own secret", "ChangeSubscription", {"secret": "x" * 128}, True),
    ("every queue", "ChangeSubscription", {"queue": None, "active": True}, True),
    ("short secret", "ChangeSubscription", {"secret": "rotated"}, False),
    ("no types", "ChangeSubscription", {"event_types": []}, False),
    ("null name", "ChangeSubscription", {"name": None}, False),
]


@pytest.mark.parametrize(
    ("case", "schema", "body", "valid"), SUBSCRIPTION_CASES, ids=[f"{c[1]}: {c[0]}" for c in SUBSCRIPTION_CASES]
)
def test_the_subscription_schemas_accept_what_the_code_accepts(case: str, schema: str, body: Any, valid: bool) -> None:
    errors = schema_errors(component(schema), body)
    assert (not errors) is valid, f"schema: {errors or 'valid'}"
    try:  # no queue key in these bodies: the checks need no database
        check_fields(None, body, creating=schema == "CreateSubscription")  # type: ignore[arg-type]
    except SubscriptionInvalid:
        assert not valid
    else:
        assert valid


def test_a_sample_booking_is_valid_and_an_unknown_field_is_refused_by_the_schema() -> None:
    assert schema_errors(component("CreateCallback"), FULL) == []
    errors = schema_errors(component("CreateCallback"), {**FULL, "priority": "high"})
    assert any("priority" in e for e in errors), errors


def test_the_response_checks_catch_drift() -> None:
    """The checks above would notice an answer that left the document: a missing or extra field,
    a bad instant, an error type not listed for its status."""
    callback = {
        "ref": "K7QW2MXP9D",
        "state": "scheduled",
        "queue": "support",
        "phone": "+447400123400",
        "kind": "scheduled",
        "slot_start": "2027-01-04T10:30:00+00:00",
        "slot_end": "2027-01-04T10:45:00+00:00",
        "due_at": "2027-01-04T10:30:00+00:00",
        "estimated_call_at": {"earliest": "2027-01-04T10:30:00+00:00", "latest": "2027-01-04T10:45:00+00:00"},
        "name": None,
        "fields": [],
        "tags": [],
        "unit": None,
        "locale": "en",
        "sms_consent": False,
        "sms_consent_channel": None,
        "sms_consent_at": None,
        "sms_consent_wording": None,
        "source": "api",
        "attribution": None,
        "attempts": 0,
        "created_at": "2027-01-04T10:00:00+00:00",
    }
    assert schema_errors(component("Callback"), callback) == []
    assert schema_errors(component("Callback"), {**callback, "attribution": {"source": "ads"}}) == []
    assert schema_errors(component("Callback"), {**callback, "attribution": {"gclid": "x"}})
    assert schema_errors(component("Callback"), {k: v for k, v in callback.items() if k != "due_at"})
    assert schema_errors(component("Callback"), {**callback, "priority": 1})
    assert schema_errors(component("Callback"), {**callback, "created_at": "2027-01-04 10:00"})
    assert schema_errors(component("Callback"), {**callback, "state": "lost"})
    assert schema_errors(
        component("Callback"), {**callback, "estimated_call_at": {"earliest": "2027-01-04T10:30:00+00:00"}}
    )
    assert schema_errors(component("Callback"), {**callback, "estimated_call_at": None}) == []
    conflict = ("paths", "/api/v1/callbacks", "post", "responses", "409", "content", "application/json", "schema")
    assert not schema_errors(conflict, {"type": "slot_full", "message": "m", "details": {}})
    assert schema_errors(conflict, {"type": "too_soon", "message": "m", "details": {}})


# --- real answers ------------------------------------------------------------------------


def test_queue_answers_match_the_document(contract: Contract, demo_queue: str) -> None:
    _, queue = contract.call("get", SUPPORT)
    assert queue["timezone"] == "Europe/London"
    assert queue["open_now"] is True
    assert queue["schedule"]["monday"] == [{"opens": "09:00", "closes": "17:00"}]
    assert queue["schedule"]["sunday"] == []

    response, body = contract.call("get", "/api/v1/queues/nope")
    assert_error(response, body, 404, "queue_not_found")
    contract.assert_exercised("/api/v1/queues/{key}", "get")


def test_slot_list_answers_match_the_document(contract: Contract, demo_queue: str) -> None:
    days = _node(("paths", "/api/v1/queues/{key}/slots", "get", "parameters", "1", "schema"))
    assert _node(("paths", "/api/v1/queues/{key}/slots", "get", "parameters", "1", "name")) == "days"

    answered, default = contract.call("get", f"{SUPPORT}/slots")
    unchanged, _ = contract.call("get", f"{SUPPORT}/slots", headers={"If-None-Match": answered.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.headers["ETag"] == answered.headers["ETag"]
    starts = [datetime.fromisoformat(s["start"]) for s in default["slots"]]
    assert starts[0] == datetime(2027, 1, 4, 10, 30, tzinfo=UTC)  # now + 30 minutes' lead
    # The default is `days` days from today, Monday: through Sunday, so Friday's last slot is in.
    assert days["default"] == 7
    assert starts[-1] == datetime(2027, 1, 8, 16, 45, tzinfo=UTC)

    _, tuesday = contract.call("get", f"{SUPPORT}/slots?from=2027-01-05&days=1")
    assert {s["start"][:10] for s in tuesday["slots"]} == {"2027-01-05"}
    assert len(tuesday["slots"]) == 32
    _, weekend = contract.call("get", f"{SUPPORT}/slots?from=2027-01-09&days=2")
    assert weekend["slots"] == []

    contract.call("get", f"{SUPPORT}/slots?days={days['minimum']}")
    contract.call("get", f"{SUPPORT}/slots?days={days['maximum']}")
    for query in (f"days={days['minimum'] - 1}", f"days={days['maximum'] + 1}", "days=two", "from=04/01/2027"):
        response, body = contract.call("get", f"{SUPPORT}/slots?{query}")
        assert_error(response, body, 422, "validation_error")
        assert set(body["details"]) == {query.split("=")[0]}

    response, body = contract.call("get", "/api/v1/queues/nope/slots")
    assert_error(response, body, 404, "queue_not_found")
    contract.assert_exercised("/api/v1/queues/{key}/slots", "get")


def test_create_callback_answers_match_the_document(
    contract: Contract, demo_queue: str, make_queue: Any, clock: FixedClock
) -> None:
    first, second, *_ = slot_starts(contract)
    booking = {**FULL, "phone": PHONES[0], "slot_start": first}

    created, callback = contract.call("post", "/api/v1/callbacks", json=booking, headers={"Idempotency-Key": "k-1"})
    assert created.status_code == 201
    assert created.headers["Location"] == f"/api/v1/callbacks/{callback['ref']}"
    assert (callback["state"], callback["slot_start"], callback["source"]) == ("scheduled", first, "api")
    assert (callback["fields"], callback["tags"], callback["locale"]) == (FULL["fields"], FULL["tags"], "fr")
    assert callback["attribution"] == FULL["attribution"]

    # A retry with the key gets the stored answer again, status and all; another body with it is refused.
    replay, again = contract.call("post", "/api/v1/callbacks", json=booking, headers={"Idempotency-Key": "k-1"})
    assert (replay.status_code, again, replay.headers["Location"]) == (201, callback, created.headers["Location"])
    response, body = contract.call(
        "post", "/api/v1/callbacks", json={**booking, "slot_start": second}, headers={"Idempotency-Key": "k-1"}
    )
    assert_error(response, body, 422, "idempotency_key_reused")

    # Duplicate suppression: the live callback comes back, unchanged, with 200.
    duplicate, existing = book(contract, PHONES[0], second)
    assert (duplicate.status_code, existing["ref"], existing["slot_start"]) == (200, callback["ref"], first)
    assert "Location" not in duplicate.headers

    # The slot's last seat, then no seat; an error is not stored, so a retry runs again.
    assert book(contract, PHONES[1], first)[0].status_code == 201
    full = {"queue": "support", "phone": PHONES[2], "kind": "scheduled", "slot_start": first}
    response, body = contract.call("post", "/api/v1/callbacks", json=full, headers={"Idempotency-Key": "k-2"})
    assert_error(response, body, 409, "slot_full")
    contract.call("delete", f"/api/v1/callbacks/{callback['ref']}")
    response, _ = contract.call("post", "/api/v1/callbacks", json=full, headers={"Idempotency-Key": "k-2"})
    assert response.status_code == 201

    response, asap = book(contract, PHONES[3])
    assert (response.status_code, asap["kind"], asap["due_at"]) == (201, "asap", "2027-01-04T10:00:00+00:00")

    for slot_start, status, type_ in (
        ("2027-01-04T10:15:00+00:00", 422, "too_soon"),
        ("2027-01-25T10:30:00+00:00", 422, "too_far"),
        ("2027-01-04T10:37:00+00:00", 404, "slot_not_found"),
        ("2027-01-09T10:30:00+00:00", 404, "slot_not_found"),
    ):
        assert_error(*book(contract, PHONES[4], slot_start), status, type_)
    assert_error(*contract.call("post", "/api/v1/callbacks", json={**ASAP, "queue": "nope"}), 404, "queue_not_found")
    assert_error(*book(contract, "+447700900123"), 422, "phone_invalid")
    make_queue(key="uk-only", allowed_countries=["GB"])
    response, body = contract.call(
        "post", "/api/v1/callbacks", json={**ASAP, "queue": "uk-only", "phone": "+33612345678"}
    )
    assert_error(response, body, 422, "phone_country_not_allowed")
    make_queue(key="paused", register_enabled=False)
    response, body = contract.call("post", "/api/v1/callbacks", json={**ASAP, "queue": "paused"})
    assert_error(response, body, 409, "callbacks_withheld")
    assert body["details"] == {"reason": "paused"}

    response, body = contract.call("post", "/api/v1/callbacks", json={**ASAP, "colour": "blue"})
    assert_error(response, body, 422, "validation_error")
    assert set(body["details"]) == {"colour"}
    response, body = book(contract, PHONES[5], None, kind="scheduled")
    assert_error(response, body, 422, "validation_error")
    assert set(body["details"]) == {"slot_start"}
    response, body = contract.call("post", "/api/v1/callbacks", json=ASAP, headers={"Idempotency-Key": "not visible"})
    assert_error(response, body, 422, "validation_error")
    assert set(body["details"]) == {"Idempotency-Key"}

    response, body = contract.call("post", "/api/v1/callbacks", data="{", content_type="application/json")
    assert_error(response, body, 400, "malformed_json")
    response, body = contract.call("post", "/api/v1/callbacks", data=json.dumps(ASAP), content_type="text/plain")
    assert_error(response, body, 415, "unsupported_media_type")
    response, body = contract.call("post", "/api/v1/callbacks", json={**ASAP, "name": "n" * 70_000})
    assert_error(response, body, 413, "payload_too_large")

    make_queue(key="guarded", widget={"blocked_numbers": ["+4474009"], "requests_per_phone_per_hour": 1})
    guarded = {**ASAP, "queue": "guarded"}
    response, body = contract.call("post", "/api/v1/callbacks", json={**guarded, "phone": "+447400900001"})
    assert_error(response, body, 403, "request_phone_blacklisted")
    _, once = contract.call("post", "/api/v1/callbacks", json={**guarded, "phone": PHONES[7]})
    contract.call("delete", f"/api/v1/callbacks/{once['ref']}")
    response, body = contract.call("post", "/api/v1/callbacks", json={**guarded, "phone": PHONES[7]})
    assert_error(response, body, 429, "request_throttle_count")

    clock.set(datetime(2027, 1, 9, 12, 0, tzinfo=UTC))  # Saturday: closed
    assert_error(*book(contract, PHONES[6]), 409, "outside_hours")

    contract.assert_exercised("/api/v1/callbacks", "post")


def test_unauthorized_answers_match_the_document(contract: Contract, demo_queue: str) -> None:
    """Every operation refuses a wrong API key with the documented 401."""
    for method, url, kwargs in every_operation():
        for header in ("Bearer cbk_nope", "Basic dXNlcjpwYXNz"):
            response, body = contract.call(method, url, headers={"Authorization": header}, **kwargs)
            assert_error(response, body, 401, "api_key_invalid")
    assert {(p, m) for p, m, *_ in contract.seen} == set(operations())


def every_operation() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("get", SUPPORT, {}),
        ("get", f"{SUPPORT}/slots", {}),
        ("put", f"{SUPPORT}/agents", {"json": {"signed_in": 3, "available": 1, "average_handle_seconds": 300}}),
        ("get", f"{SUPPORT}/agents", {}),
        ("post", "/api/v1/callbacks", {"json": ASAP}),
        ("get", "/api/v1/callbacks/ZZZZZZZZZZ", {}),
        ("delete", "/api/v1/callbacks/ZZZZZZZZZZ", {}),
        ("post", "/api/v1/callbacks/ZZZZZZZZZZ/reschedule", {"json": {"slot_start": "2027-01-05T09:00:00Z"}}),
        ("get", "/api/v1/callbacks/ZZZZZZZZZZ/texts", {}),
        ("get", "/api/v1/callbacks/ZZZZZZZZZZ/calls", {}),
        ("get", "/api/v1/booking-links/not-a-token", {}),
        ("post", "/api/v1/booking-links/not-a-token/reschedule", {"json": {"slot_start": "2027-01-05T09:00:00Z"}}),
        ("get", "/api/v1/openapi.json", {}),
        ("get", "/api/v1/subscriptions", {}),
        ("post", "/api/v1/subscriptions", {"json": NEW_SUBSCRIPTION}),
        ("get", "/api/v1/subscriptions/999", {}),
        ("patch", "/api/v1/subscriptions/999", {"json": {"active": False}}),
        ("delete", "/api/v1/subscriptions/999", {}),
        ("get", "/api/v1/deliveries", {}),
        ("post", "/api/v1/deliveries/999/redeliver", {}),
        ("get", "/api/v1/switches", {}),
        ("put", "/api/v1/switches", {"json": {"register_enabled": True, "process_enabled": True}}),
        ("get", f"/api/v1/people/{PHONES[19]}", {}),
        ("delete", f"/api/v1/people/{PHONES[19]}", {}),
    ]


def test_throttled_answers_match_the_document(settings: Settings, clock: FixedClock, demo_queue: str) -> None:
    """Every operation answers the per-address limit with the documented 429."""
    app = create_app(settings.with_overrides(api_rate_limit="1/minute"), clock)
    contract = Contract(app, app.test_client())
    contract.call("get", SUPPORT)  # the address's one request a minute
    for method, url, kwargs in every_operation():
        response, body = contract.call(method, url, **kwargs)
        assert_error(response, body, 429, "request_throttle_timeout")
        assert int(response.headers["Retry-After"]) > 0
    assert {(p, m) for p, m, *_ in contract.seen} == set(operations())
    app.extensions["db"].dispose()


def test_unavailable_answers_match_the_document(contract: Contract, db: Database, clock: FixedClock) -> None:
    """Every operation answers the database's outage with the documented 503 (even the
    document, served from its file, looks the API key up)."""
    admin = make_key(db, clock, "admin")
    with cut_off(db):
        for method, url, kwargs in every_operation():
            response, body = contract.call(method, url, headers=admin, **kwargs)
            assert_error(response, body, 503, "database_unavailable")
            assert int(response.headers["Retry-After"]) > 0
    assert {(p, m) for p, m, *_ in contract.seen} == set(operations())


def test_get_callback_answers_match_the_document(contract: Contract, demo_queue: str) -> None:
    _, callback = book(contract, PHONES[0], slot_starts(contract)[0])
    _, shown = contract.call("get", f"/api/v1/callbacks/{callback['ref']}")
    assert shown == callback
    _, lower = contract.call("get", f"/api/v1/callbacks/{callback['ref'].lower()}")
    assert lower == callback

    response, body = contract.call("get", "/api/v1/callbacks/ZZZZZZZZZZ")
    assert_error(response, body, 404, "callback_not_found")
    contract.assert_exercised("/api/v1/callbacks/{ref}", "get")


def test_callback_texts_answers_match_the_document(contract: Contract, demo_queue: str) -> None:
    start = slot_starts(contract, **{"from": "2027-01-06"})[0]  # days ahead: a confirmation and two reminders
    _, callback = contract.call(
        "post",
        "/api/v1/callbacks",
        json={"queue": "support", "phone": PHONES[0], "kind": "scheduled", "slot_start": start, "sms_consent": True},
    )
    _, answer = contract.call("get", f"/api/v1/callbacks/{callback['ref']}/texts")
    assert [(t["kind"], t["status"]) for t in answer["texts"]] == [
        ("booking_confirmation", "pending"),
        ("reminder_1440m", "scheduled"),
        ("reminder_15m", "scheduled"),
    ]
    contract.call("delete", f"/api/v1/callbacks/{callback['ref']}")
    _, answer = contract.call("get", f"/api/v1/callbacks/{callback['ref']}/texts")
    assert [t["status"] for t in answer["texts"]] == ["pending", "cancelled", "cancelled"]

    response, body = contract.call("get", "/api/v1/callbacks/ZZZZZZZZZZ/texts")
    assert_error(response, body, 404, "callback_not_found")
    contract.assert_exercised("/api/v1/callbacks/{ref}/texts", "get")


def test_callback_calls_answers_match_the_document(
    contract: Contract, app: Flask, demo_queue: str, clock: FixedClock
) -> None:
    from services.dialer.dialer import Dialer

    _, callback = contract.call(
        "post", "/api/v1/callbacks", json={"queue": "support", "phone": PHONES[0], "kind": "asap"}
    )
    _, answer = contract.call("get", f"/api/v1/callbacks/{callback['ref']}/calls")
    assert answer == {"calls": []}
    clock.advance(minutes=10)  # due: the dialer rings the customer
    dialer = Dialer(app.extensions["db"], app.extensions["providers"], clock, app.extensions["settings"], worker_id="w")
    assert dialer.dispatch() == 1
    _, answer = contract.call("get", f"/api/v1/callbacks/{callback['ref']}/calls")
    (call,) = answer["calls"]
    assert (call["number"], call["provider"], call["failover_from"], call["result"]) == (1, "simulator", None, None)
    response, body = contract.call("get", "/api/v1/callbacks/ZZZZZZZZZZ/calls")
    assert_error(response, body, 404, "callback_not_found")
    contract.assert_exercised("/api/v1/callbacks/{ref}/calls", "get")


def test_cancel_answers_match_the_document(contract: Contract, demo_queue: str, db: Database) -> None:
    first = slot_starts(contract)[0]
    _, callback = book(contract, PHONES[0], first)
    url = f"/api/v1/callbacks/{callback['ref']}"

    _, cancelled = contract.call("delete", url)
    assert (cancelled["state"], cancelled["due_at"]) == ("cancelled", None)
    response, again = contract.call("delete", url)  # idempotent
    assert (response.status_code, again) == (200, cancelled)

    _, dialing = book(contract, PHONES[1], first)
    with db.write() as session:
        session.execute(update(Callback).where(Callback.ref == dialing["ref"]).values(state="dialing"))
    response, body = contract.call("delete", f"/api/v1/callbacks/{dialing['ref']}")
    assert_error(response, body, 409, "not_cancellable")

    response, body = contract.call("delete", "/api/v1/callbacks/ZZZZZZZZZZ")
    assert_error(response, body, 404, "callback_not_found")
    contract.assert_exercised("/api/v1/callbacks/{ref}", "delete")


def test_reschedule_answers_match_the_document(contract: Contract, demo_queue: str) -> None:
    starts = slot_starts(contract)
    _, callback = book(contract, PHONES[0], starts[0])
    url = f"/api/v1/callbacks/{callback['ref']}/reschedule"
    key = {"Idempotency-Key": "move-1"}

    _, moved = contract.call("post", url, json={"slot_start": starts[1]}, headers=key)
    assert (moved["ref"], moved["slot_start"], moved["due_at"]) == (callback["ref"], starts[1], starts[1])
    response, replay = contract.call("post", url, json={"slot_start": starts[1]}, headers=key)
    assert (response.status_code, replay) == (200, moved)
    response, body = contract.call("post", url, json={"slot_start": starts[2]}, headers=key)
    assert_error(response, body, 422, "idempotency_key_reused")

    book(contract, PHONES[1], starts[3])
    book(contract, PHONES[2], starts[3])
    assert_error(*contract.call("post", url, json={"slot_start": starts[3]}), 409, "slot_full")
    for slot_start, status, type_ in (
        ("2027-01-04T10:15:00+00:00", 422, "too_soon"),
        ("2027-01-25T10:30:00+00:00", 422, "too_far"),
        ("2027-01-04T10:37:00+00:00", 404, "slot_not_found"),
    ):
        assert_error(*contract.call("post", url, json={"slot_start": slot_start}), status, type_)
    response, body = contract.call("post", url, json={"slot_start": "2027-01-04T11:00:00"})
    assert_error(response, body, 422, "validation_error")
    assert set(body["details"]) == {"slot_start"}
    missing = "/api/v1/callbacks/ZZZZZZZZZZ/reschedule"
    assert_error(*contract.call("post", missing, json={"slot_start": starts[2]}), 404, "callback_not_found")

    assert_error(*contract.call("post", url, data="[", content_type="application/json"), 400, "malformed_json")
    assert_error(*contract.call("post", url, data="{}", content_type="text/plain"), 415, "unsupported_media_type")
    big = {"slot_start": starts[2], "padding": "x" * 70_000}
    assert_error(*contract.call("post", url, json=big), 413, "payload_too_large")

    contract.call("delete", f"/api/v1/callbacks/{callback['ref']}")
    assert_error(*contract.call("post", url, json={"slot_start": starts[2]}), 409, "not_reschedulable")
    contract.assert_exercised("/api/v1/callbacks/{ref}/reschedule", "post")


def test_the_served_document_is_the_file(contract: Contract) -> None:
    response, body = contract.call("get", "/api/v1/openapi.json")
    assert response.get_data() == OPENAPI_PATH.read_bytes()
    assert body == DOCUMENT
    contract.assert_exercised("/api/v1/openapi.json", "get")


def test_other_methods_answer_405_as_documented(contract: Contract) -> None:
    responses = ("components", "responses")
    tried = 0
    for path, item in DOCUMENT["paths"].items():
        url = path.replace("{key}", "support").replace("{ref}", "ZZZZZZZZZZ")
        url = url.replace("{subscription_id}", "999").replace("{delivery_id}", "999")
        allowed = {m for m in item if m in HTTP_METHODS}
        for method in set(HTTP_METHODS) - allowed:
            response = contract.client.open(url, method=method.upper())
            assert response.status_code == 405, f"{method.upper()} {url}"
            contract.check_against(response, (*responses, "MethodNotAllowed"))
            assert {m.strip().lower() for m in response.headers["Allow"].split(",")} - {"head", "options"} == allowed
            tried += 1
    assert tried > 20


def test_unknown_urls_answer_404_not_found_as_documented(contract: Contract) -> None:
    response = contract.client.get("/api/v1/queue/support")
    assert response.status_code == 404
    assert contract.check_against(response, ("components", "responses", "NotFound"))["type"] == "not_found"


def _link_token(app: Flask, db: Database, clock: FixedClock, phone: str, ref: str | None = None) -> str:
    with db.write() as session:
        short = short_booking_url(session, app.extensions["settings"], clock.now(), "support", phone, ref=ref)
    with db.read() as session:
        return follow_short_link(session, app.extensions["settings"], short.rsplit("/", 1)[1], clock.now()).split(
            "?t="
        )[1]


def test_booking_link_answers_match_the_document(
    app: Flask, contract: Contract, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    path = "/api/v1/booking-links/{token}"
    start = slot_starts(contract)[0]
    plain = _link_token(app, db, clock, PHONES[0])
    _, body = contract.call("get", f"/api/v1/booking-links/{plain}")
    assert (body["queue"], body["reschedule"], body["callback"]) == ("support", False, None)

    _, callback = book(contract, PHONES[1], start)
    reschedule = _link_token(app, db, clock, PHONES[1], ref=callback["ref"])
    _, body = contract.call("get", f"/api/v1/booking-links/{reschedule}")
    assert (body["reschedule"], body["callback"]) == (True, callback)
    contract.call(
        "post", f"/api/v1/booking-links/{reschedule}/reschedule", json={"slot_start": slot_starts(contract)[1]}
    )
    assert_error(*contract.call("get", f"/api/v1/booking-links/{reschedule}"), 410, "link_used")

    assert_error(*contract.call("get", f"/api/v1/booking-links/{plain[:-3]}abc"), 404, "link_invalid")
    clock.advance(days=7)
    assert_error(*contract.call("get", f"/api/v1/booking-links/{plain}"), 410, "link_expired")
    contract.assert_exercised(path, "get")


def test_reschedule_with_a_booking_link_answers_match_the_document(
    app: Flask, contract: Contract, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    starts = slot_starts(contract)
    _, callback = book(contract, PHONES[0], starts[0])
    token = _link_token(app, db, clock, PHONES[0], ref=callback["ref"])
    url = f"/api/v1/booking-links/{token}/reschedule"

    book(contract, PHONES[1], starts[3])
    book(contract, PHONES[2], starts[3])
    assert_error(*contract.call("post", url, json={"slot_start": starts[3]}), 409, "slot_full")
    for slot_start, status, type_ in (
        ("2027-01-04T10:15:00+00:00", 422, "too_soon"),
        ("2027-01-25T10:30:00+00:00", 422, "too_far"),
        ("2027-01-04T10:37:00+00:00", 404, "slot_not_found"),
    ):
        assert_error(*contract.call("post", url, json={"slot_start": slot_start}), status, type_)
    response, body = contract.call("post", url, json={"slot_start": "2027-01-04T11:00:00"})
    assert_error(response, body, 422, "validation_error")
    assert_error(*contract.call("post", url, data="[", content_type="application/json"), 400, "malformed_json")
    assert_error(*contract.call("post", url, data="{}", content_type="text/plain"), 415, "unsupported_media_type")
    big = {"slot_start": starts[2], "padding": "x" * 70_000}
    assert_error(*contract.call("post", url, json=big), 413, "payload_too_large")

    key = {"Idempotency-Key": "page-1"}
    _, moved = contract.call("post", url, json={"slot_start": starts[1]}, headers=key)
    assert (moved["ref"], moved["slot_start"]) == (callback["ref"], starts[1])
    response, replay = contract.call("post", url, json={"slot_start": starts[1]}, headers=key)
    assert (response.status_code, replay) == (200, moved)
    response, body = contract.call("post", url, json={"slot_start": starts[2]}, headers=key)
    assert_error(response, body, 422, "idempotency_key_reused")
    assert_error(*contract.call("post", url, json={"slot_start": starts[2]}), 410, "link_used")

    plain = _link_token(app, db, clock, PHONES[0])
    assert_error(
        *contract.call("post", f"/api/v1/booking-links/{plain}/reschedule", json={"slot_start": starts[2]}),
        404,
        "link_invalid",
    )
    _, other = book(contract, PHONES[4], starts[2])
    other_token = _link_token(app, db, clock, PHONES[4], ref=other["ref"])
    contract.call("delete", f"/api/v1/callbacks/{other['ref']}")
    other_url = f"/api/v1/booking-links/{other_token}/reschedule"
    assert_error(*contract.call("post", other_url, json={"slot_start": starts[4]}), 409, "not_reschedulable")

    clock.advance(days=7)
    assert_error(*contract.call("post", other_url, json={"slot_start": starts[4]}), 410, "link_expired")
    contract.assert_exercised("/api/v1/booking-links/{token}/reschedule", "post")


# --- event subscriptions and the delivery log (admin keys) ----------------------------------


def test_subscription_list_answers_match_the_document(contract: Contract, db: Database, clock: FixedClock) -> None:
    admin = make_key(db, clock, "admin")
    _, body = contract.call("get", "/api/v1/subscriptions", headers=admin)
    assert body == {"subscriptions": []}
    contract.call("post", "/api/v1/subscriptions", json=NEW_SUBSCRIPTION, headers=admin)
    _, body = contract.call("get", "/api/v1/subscriptions", headers=admin)
    assert [s["name"] for s in body["subscriptions"]] == ["CRM"]
    assert_error(*contract.call("get", "/api/v1/subscriptions"), 403, "admin_key_required")
    contract.assert_exercised("/api/v1/subscriptions", "get")


def test_create_subscription_answers_match_the_document(
    contract: Contract, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    admin = make_key(db, clock, "admin")
    url = "/api/v1/subscriptions"
    for name, example in DOCUMENT["paths"][url]["post"]["requestBody"]["content"]["application/json"][
        "examples"
    ].items():
        response, body = contract.call("post", url, json=example["value"], headers=admin)
        assert response.status_code == 201, name
        assert response.headers["Location"] == f"{url}/{body['id']}"
        assert response.headers["Cache-Control"] == "no-store"
    response, body = contract.call("post", url, json={**NEW_SUBSCRIPTION, "queue": "nope"}, headers=admin)
    assert_error(response, body, 422, "subscription_invalid")
    assert body["details"] == {"queue": "no queue has this key"}
    assert_error(*contract.call("post", url, json=["a list"], headers=admin), 422, "subscription_invalid")
    internal = {**NEW_SUBSCRIPTION, "url": "http://169.254.169.254/latest/meta-data"}
    assert_error(*contract.call("post", url, json=internal, headers=admin), 422, "target_not_allowed")
    assert_error(
        *contract.call("post", url, data="{", content_type="application/json", headers=admin), 400, "malformed_json"
    )
    assert_error(
        *contract.call("post", url, data="{}", content_type="text/plain", headers=admin), 415, "unsupported_media_type"
    )
    big = {**NEW_SUBSCRIPTION, "name": "x" * 70_000}
    assert_error(*contract.call("post", url, json=big, headers=admin), 413, "payload_too_large")
    client_key = make_key(db, clock, "client")
    assert_error(*contract.call("post", url, json=NEW_SUBSCRIPTION, headers=client_key), 403, "admin_key_required")
    contract.assert_exercised(url, "post")


def test_one_subscription_answers_match_the_document(contract: Contract, db: Database, clock: FixedClock) -> None:
    admin = make_key(db, clock, "admin")
    _, made = contract.call("post", "/api/v1/subscriptions", json=NEW_SUBSCRIPTION, headers=admin)
    path = "/api/v1/subscriptions/{subscription_id}"
    url = f"/api/v1/subscriptions/{made['id']}"
    missing = "/api/v1/subscriptions/999"

    _, shown = contract.call("get", url, headers=admin)
    assert shown == {k: v for k, v in made.items() if k != "secret"}
    assert_error(*contract.call("get", missing, headers=admin), 404, "subscription_not_found")
    assert_error(*contract.call("get", url), 403, "admin_key_required")
    contract.assert_exercised(path, "get")

    for name, example in DOCUMENT["paths"][path]["patch"]["requestBody"]["content"]["application/json"][
        "examples"
    ].items():
        response, body = contract.call("patch", url, json=example["value"], headers=admin)
        assert response.status_code == 200, name
        assert ("secret" in body) == (name == "rotate")
    assert_error(*contract.call("patch", url, json={"format": "csv"}, headers=admin), 422, "subscription_invalid")
    link_local = {"url": "http://[fe80::1]/"}
    assert_error(*contract.call("patch", url, json=link_local, headers=admin), 422, "target_not_allowed")
    assert_error(*contract.call("patch", missing, json={"active": True}, headers=admin), 404, "subscription_not_found")
    assert_error(
        *contract.call("patch", url, data="[", content_type="application/json", headers=admin), 400, "malformed_json"
    )
    assert_error(
        *contract.call("patch", url, data="{}", content_type="text/plain", headers=admin), 415, "unsupported_media_type"
    )
    assert_error(*contract.call("patch", url, json={"name": "x" * 70_000}, headers=admin), 413, "payload_too_large")
    assert_error(*contract.call("patch", url, json={"active": True}), 403, "admin_key_required")
    contract.assert_exercised(path, "patch")

    assert_error(*contract.call("delete", url), 403, "admin_key_required")
    _, deleted = contract.call("delete", url, headers=admin)
    assert deleted["id"] == made["id"]
    assert_error(*contract.call("delete", url, headers=admin), 404, "subscription_not_found")
    contract.assert_exercised(path, "delete")


def test_delivery_log_answers_match_the_document(contract: Contract, db: Database, clock: FixedClock) -> None:
    admin = make_key(db, clock, "admin")
    _, made = contract.call("post", "/api/v1/subscriptions", json=NEW_SUBSCRIPTION, headers=admin)
    add_delivery(db, made["id"], clock.now(), "failed", [(clock.now(), 500), (clock.now(), None)])
    add_delivery(db, made["id"], clock.now(), "delivered", [(clock.now(), 204)])
    add_delivery(db, made["id"], clock.now(), "pending")
    _, body = contract.call("get", "/api/v1/deliveries?limit=2", headers=admin)
    assert [d["status"] for d in body["deliveries"]] == ["pending", "delivered"] and body["next_cursor"]
    _, body = contract.call("get", f"/api/v1/deliveries?cursor={body['next_cursor']}", headers=admin)
    assert [d["status"] for d in body["deliveries"]] == ["failed"] and body["next_cursor"] is None
    response, body = contract.call("get", "/api/v1/deliveries?from=2027-01-04&status=lost", headers=admin)
    assert_error(response, body, 422, "validation_error")
    assert set(body["details"]) == {"from", "status"}
    assert_error(*contract.call("get", "/api/v1/deliveries"), 403, "admin_key_required")
    contract.assert_exercised("/api/v1/deliveries", "get")


def test_redeliver_answers_match_the_document(contract: Contract, db: Database, clock: FixedClock) -> None:
    admin = make_key(db, clock, "admin")
    _, made = contract.call("post", "/api/v1/subscriptions", json=NEW_SUBSCRIPTION, headers=admin)
    failed = add_delivery(db, made["id"], clock.now(), "failed", [(clock.now(), 500)])
    url = f"/api/v1/deliveries/{failed}/redeliver"
    _, body = contract.call("post", url, headers=admin)
    assert (body["status"], len(body["attempts"])) == ("pending", 1)
    assert_error(*contract.call("post", "/api/v1/deliveries/999/redeliver", headers=admin), 404, "delivery_not_found")
    assert_error(*contract.call("post", url), 403, "admin_key_required")
    contract.assert_exercised("/api/v1/deliveries/{delivery_id}/redeliver", "post")


def test_people_answers_match_the_document(
    contract: Contract, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    from services.accounts import new_api_key

    with db.write() as session:
        admin_key, _ = new_api_key(session, "DPO", "admin@example.com", clock.now(), role="admin")
        client_key, _ = new_api_key(session, "CRM", "admin@example.com", clock.now())
    admin = {"Authorization": f"Bearer {admin_key}"}
    _, callback = book(contract, PHONES[0], slot_starts(contract)[0], sms_consent=True)
    for method in ("get", "delete"):
        url = f"/api/v1/people/{PHONES[1]}"
        assert_error(*contract.call(method, url), 403, "admin_key_required")
        assert_error(
            *contract.call(method, url, headers={"Authorization": f"Bearer {client_key}"}), 403, "admin_key_required"
        )
        assert_error(*contract.call(method, "/api/v1/people/12", headers=admin), 422, "phone_invalid")
        assert_error(*contract.call(method, f"{url}?region=GBR", headers=admin), 422, "validation_error")
    _, exported = contract.call("get", f"/api/v1/people/{PHONES[0]}", headers=admin)
    assert [c["ref"] for c in exported["callbacks"]] == [callback["ref"]]
    _, national = contract.call("get", "/api/v1/people/07400123400?region=gb", headers=admin)
    assert national == exported
    with db.write() as session:
        session.execute(update(Callback).where(Callback.ref == callback["ref"]).values(state="dialing"))
    assert_error(*contract.call("delete", f"/api/v1/people/{PHONES[0]}", headers=admin), 409, "person_on_call")
    with db.write() as session:
        session.execute(update(Callback).where(Callback.ref == callback["ref"]).values(state="scheduled"))
    response, erased = contract.call("delete", f"/api/v1/people/{PHONES[0]}", headers=admin)
    assert response.status_code == 200 and erased["erased"]["callbacks"] == 1
    _, after = contract.call("get", f"/api/v1/people/{PHONES[0]}", headers=admin)
    assert after["callbacks"] == []
    contract.assert_exercised("/api/v1/people/{phone}", "get")
    contract.assert_exercised("/api/v1/people/{phone}", "delete")


def test_agent_figures_answers_match_the_document(
    contract: Contract, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    from services.accounts import new_api_key

    with db.write() as session:
        client_key, _ = new_api_key(session, "ACD", "admin@example.com", clock.now())
    key = {"Authorization": f"Bearer {client_key}"}
    url = f"{SUPPORT}/agents"
    now = clock.now()
    body = {"signed_in": 8, "available": 2, "average_handle_seconds": 360, "longest_wait_seconds": 95}
    assert_error(*contract.call("put", url, json=body), 401, "api_key_required")
    assert_error(*contract.call("get", url), 401, "api_key_required")
    _, before = contract.call("get", url, headers=key)
    assert (before["live"], before["reported"], before["used"]["available"]) == (False, None, None)
    response, stored = contract.call("put", url, json={**body, "at": now.isoformat()}, headers=key)
    assert response.status_code == 200 and stored["live"]
    # no callers_waiting reported: the queue's static figure (the demo queue's 4) is used
    assert stored["used"] == {"agents": 8, "available": 2, "average_handle_seconds": 360, "callers_waiting": 4}
    _, line = contract.call(
        "put", url, json={**body, "available": 0, "callers_waiting": 6, "at": now.isoformat()}, headers=key
    )
    assert (line["reported"]["callers_waiting"], line["used"]["callers_waiting"]) == (6, 6)
    assert_error(*contract.call("put", url, json={**body, "callers_waiting": -1}, headers=key), 422, "validation_error")
    late = {**body, "signed_in": 1, "available": 0, "at": (now - timedelta(minutes=1)).isoformat()}
    _, unchanged = contract.call("put", url, json=late, headers=key)
    assert unchanged["reported"]["signed_in"] == 8  # an older report changes nothing
    assert_error(*contract.call("put", url, json={**body, "available": 9}, headers=key), 422, "validation_error")
    assert_error(*contract.call("put", url, json={**body, "extra": 1}, headers=key), 422, "validation_error")
    assert_error(*contract.call("put", f"{SUPPORT}x/agents", json=body, headers=key), 404, "queue_not_found")
    assert_error(*contract.call("get", f"{SUPPORT}x/agents", headers=key), 404, "queue_not_found")
    bad = {"headers": key}
    assert_error(*contract.call("put", url, data="[", content_type="application/json", **bad), 400, "malformed_json")
    assert_error(*contract.call("put", url, data="{}", content_type="text/plain", **bad), 415, "unsupported_media_type")
    assert_error(*contract.call("put", url, json={"pad": "x" * 70_000}, **bad), 413, "payload_too_large")
    clock.advance(minutes=3)  # older than AGENT_FIGURES_MAX_AGE_SECONDS: unknown, static staffing again
    _, stale = contract.call("get", url, headers=key)
    assert not stale["live"] and stale["used"]["available"] is None
    assert stale["used"]["agents"] == stale["static"]["agents"]
    contract.assert_exercised("/api/v1/queues/{key}/agents", "put")
    contract.assert_exercised("/api/v1/queues/{key}/agents", "get")


def test_switches_answers_match_the_document(contract: Contract, db: Database, clock: FixedClock) -> None:
    from services.accounts import new_api_key

    with db.write() as session:
        admin_key, _ = new_api_key(session, "Ops", "admin@example.com", clock.now(), role="admin")
        client_key, _ = new_api_key(session, "CRM", "admin@example.com", clock.now())
    admin = {"Authorization": f"Bearer {admin_key}"}
    url = "/api/v1/switches"
    body = {"register_enabled": False, "process_enabled": True}
    for method in ("get", "put"):
        assert_error(*contract.call(method, url, json=body), 403, "admin_key_required")
        client = {"Authorization": f"Bearer {client_key}"}
        assert_error(*contract.call(method, url, json=body, headers=client), 403, "admin_key_required")
    _, before = contract.call("get", url, headers=admin)
    assert before == {"register_enabled": True, "process_enabled": True, "changed_at": None, "changed_by": None}
    _, after = contract.call("put", url, json=body, headers=admin)
    assert (after["register_enabled"], after["changed_by"]) == (False, "api-key:Ops")
    assert_error(*contract.call("put", url, json={"register_enabled": False}, headers=admin), 422, "validation_error")
    assert_error(
        *contract.call("put", url, json={**body, "process_enabled": "yes"}, headers=admin), 422, "validation_error"
    )
    bad = {"headers": admin}
    assert_error(*contract.call("put", url, data="[", content_type="application/json", **bad), 400, "malformed_json")
    assert_error(*contract.call("put", url, data="{}", content_type="text/plain", **bad), 415, "unsupported_media_type")
    assert_error(*contract.call("put", url, json={"pad": "x" * 70_000}, **bad), 413, "payload_too_large")
    contract.assert_exercised(url, "get")
    contract.assert_exercised(url, "put")

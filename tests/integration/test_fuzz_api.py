"""Property-based fuzzing of the JSON API from its own OpenAPI document (Schemathesis).

A real HTTP server (werkzeug, threaded, on 127.0.0.1) serves the app on a migrated
database with the demo queue, two callbacks (one cancelled), booking links, an event
subscription with a delivery, and API keys. Every operation of the document gets its
examples, Schemathesis' coverage cases (boundaries and refusals derived from the schemas)
and generated requests, valid and invalid; path parameters and bodies are sometimes
swapped for the real refs, tokens, ids and slot starts, so that generation gets past
"not found". Each request is sent three times: without a key (the public API), with a
client key and with an admin key. Every answer must be a non-5xx the document describes:
a documented status, its content type, and its body schema.

The operations come from web_widget/openapi.json (read at collection, one test per
operation); the test first checks that the live server serves that same document.

Bounded for CI (about 25 s per backend): a fixed seed, Hypothesis derandomized, a few
generated examples per operation, no deadline, no example database.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import requests
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from werkzeug.serving import make_server

from infra.clock import FixedClock
from infra.db import Database
from services.accounts import create_api_key
from services.links import follow_short_link, short_booking_url
from tests.integration.helpers import book, phone, slots
from tests.integration.test_events_api import add_delivery
from web_widget.api import OPENAPI_PATH

# Input handling does not change with the backend: fuzzed once, on the stricter one (tests/conftest.py).
pytestmark = pytest.mark.strictest_backend

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES_PER_OPERATION = 50
SEED = 20270104

schema = schemathesis.openapi.from_path(
    OPENAPI_PATH,
    config=schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "generation": {
                "mode": "all",  # valid and invalid requests
                "max-examples": EXAMPLES_PER_OPERATION,
                "with-security-parameters": False,  # the keys are ours to send (or not): see the test
                "database": "none",
            },
            "phases": {"stateful": {"enabled": False}},
        }
    ),
)


@dataclass
class Live:
    """The server and what it holds (the hooks below draw on it)."""

    base: str
    keys: dict[str, str]  # role -> key
    path_values: dict[str, list[str]]  # path parameter -> real values
    body_values: dict[str, str]  # body field -> a real value


LIVE: list[Live] = []  # the running server's, for the hooks (set by the live_api fixture)


@schema.hook
def flatmap_path_parameters(context: Any, path_parameters: Any) -> Any:
    """As generated, or with one parameter set to what really exists."""
    if not LIVE or not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    real = LIVE[0].path_values
    choices = [path_parameters] + [
        {**path_parameters, name: value} for name in path_parameters for value in real.get(name, [])
    ]
    return st.sampled_from(choices)


@schema.hook
def flatmap_body(context: Any, body: Any) -> Any:
    """As generated, or with the fields that name something set to what really exists."""
    if not LIVE or not isinstance(body, dict):
        return st.just(body)
    real = {k: v for k, v in LIVE[0].body_values.items() if k in body}
    return st.sampled_from([body, {**body, **real}]) if real else st.just(body)


def _link_token(app: Flask, db: Database, clock: FixedClock, number: str, ref: str | None = None) -> str:
    settings_ = app.extensions["settings"]
    with db.write() as session:
        short = short_booking_url(session, settings_, clock.now(), "support", number, ref=ref)
    with db.read() as session:
        return follow_short_link(session, settings_, short.rsplit("/", 1)[1], clock.now()).split("?t=")[1]


@pytest.fixture
def live_api(app: Flask, db: Database, clock: FixedClock, demo_queue: str) -> Iterator[Live]:
    """The app served for real on 127.0.0.1, with a little of everything in its database."""
    with db.write() as session:
        keys = {
            role: create_api_key(session, f"fuzz {role}", "admin@example.com", clock.now(), role=role)[0]
            for role in ("client", "admin")
        }
    client = app.test_client()
    admin = {"Authorization": f"Bearer {keys['admin']}"}
    starts = [s["start"] for s in slots(client)]
    live_ref = book(client, 1, starts[0]).get_json()["ref"]
    cancelled_ref = book(client, 2, starts[1]).get_json()["ref"]
    assert client.delete(f"/api/v1/callbacks/{cancelled_ref}").status_code == 200
    subscription = client.post(
        "/api/v1/subscriptions",
        json={"name": "CRM", "url": "https://crm.example.com/hooks", "event_types": ["callback.created"]},
        headers=admin,
    )
    assert subscription.status_code == 201, subscription.get_json()
    subscription_id = subscription.get_json()["id"]
    delivery_id = add_delivery(db, subscription_id, clock.now(), callback_ref=live_ref)
    path_values = {
        "key": ["support"],
        "ref": [live_ref, cancelled_ref],
        "token": [_link_token(app, db, clock, phone(1), ref=live_ref), _link_token(app, db, clock, phone(3))],
        "phone": [phone(1)],
        "subscription_id": [str(subscription_id)],
        "delivery_id": [str(delivery_id)],
    }
    body_values = {"queue": "support", "phone": phone(4), "slot_start": starts[2]}

    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    app.extensions["settings"] = app.extensions["settings"].with_overrides(public_base_url=base)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    LIVE[:] = [Live(base, keys, path_values, body_values)]
    yield LIVE[0]
    LIVE.clear()
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def http() -> Iterator[requests.Session]:
    with requests.Session() as session:
        yield session


def test_the_live_server_serves_the_document_fuzzed(live_api: Live, http: requests.Session) -> None:
    response = http.get(f"{live_api.base}/api/v1/openapi.json", timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("application/json")
    assert response.json() == json.loads(OPENAPI_PATH.read_text(encoding="utf-8"))
    assert {op.ok().label for op in schema.get_all_operations()} == {
        f"{method.upper()} {path}"
        for path, item in response.json()["paths"].items()
        for method in item
        if method in ("get", "put", "post", "delete", "patch")
    }


@settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,  # the server lives for the whole operation, on purpose
        HealthCheck.too_slow,
        HealthCheck.filter_too_much,
        HealthCheck.data_too_large,
    ],
)
@schema.parametrize()
def test_every_answer_is_documented(case: Any, live_api: Live, http: requests.Session) -> None:
    case.headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
    for role in (None, "client", "admin"):
        headers = {"Authorization": f"Bearer {live_api.keys[role]}"} if role else {}
        response = case.call(base_url=live_api.base, session=http, headers=headers, timeout=30)
        case.validate_response(response, checks=CHECKS, headers=headers)

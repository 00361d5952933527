"""Bad input always gets a clear 4xx with a machine-readable type, never a 500."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.helpers import phone, slots


def error_of(response: Any) -> tuple[int, str]:
    body = response.get_json()
    assert set(body) == {"type", "message", "details"}, body
    return response.status_code, body["type"]


def test_malformed_json_is_400(client: FlaskClient, demo_queue: str) -> None:
    response = client.post("/api/v1/callbacks", data='{"queue": ', content_type="application/json")
    assert error_of(response) == (400, "malformed_json")


def test_json_constants_like_nan_are_refused(client: FlaskClient, demo_queue: str) -> None:
    response = client.post("/api/v1/callbacks", data='{"queue": NaN}', content_type="application/json")
    assert error_of(response) == (400, "malformed_json")


def test_non_utf8_is_400(client: FlaskClient, demo_queue: str) -> None:
    response = client.post("/api/v1/callbacks", data=b'{"queue": "\xc3\x28"}', content_type="application/json")
    assert error_of(response) == (400, "malformed_json")


def test_a_form_body_is_415(client: FlaskClient, demo_queue: str) -> None:
    response = client.post("/api/v1/callbacks", data={"queue": "support"})
    assert error_of(response) == (415, "unsupported_media_type")


def test_an_oversize_body_is_413(client: FlaskClient, demo_queue: str) -> None:
    body = '{"queue": "' + "x" * 70_000 + '"}'
    response = client.post("/api/v1/callbacks", data=body, content_type="application/json")
    assert error_of(response) == (413, "payload_too_large")


def test_wrong_types_and_unknown_fields_are_named(client: FlaskClient, demo_queue: str) -> None:
    response = client.post(
        "/api/v1/callbacks",
        json={"queue": "support", "phone": 447400123456, "kind": "soon", "colour": "red", "tags": ["a"] * 11},
    )
    status, type_ = error_of(response)
    assert (status, type_) == (422, "validation_error")
    details = response.get_json()["details"]
    assert {"phone", "kind", "colour", "tags"} <= set(details)


def test_a_json_array_is_not_a_callback(client: FlaskClient, demo_queue: str) -> None:
    assert error_of(client.post("/api/v1/callbacks", json=[1, 2])) == (422, "validation_error")


def test_slot_start_must_carry_an_offset(client: FlaskClient, demo_queue: str) -> None:
    start = slots(client)[0]["start"][:19]  # without the offset
    response = client.post(
        "/api/v1/callbacks", json={"queue": "support", "phone": phone(1), "kind": "scheduled", "slot_start": start}
    )
    assert error_of(response) == (422, "validation_error")
    assert "offset" in response.get_json()["details"]["slot_start"]


def test_kind_and_slot_start_must_agree(client: FlaskClient, demo_queue: str) -> None:
    response = client.post("/api/v1/callbacks", json={"queue": "support", "phone": phone(1), "kind": "scheduled"})
    assert error_of(response) == (422, "validation_error")
    assert set(response.get_json()["details"]) == {"slot_start"}


@pytest.mark.parametrize("query", ["from=2027-13-01", "from=tomorrow", "days=0", "days=63", "days=-1", "days=1e3"])
def test_bad_availability_queries_are_422(client: FlaskClient, demo_queue: str, query: str) -> None:
    assert error_of(client.get(f"/api/v1/queues/support/slots?{query}")) == (422, "validation_error")


def test_unknown_routes_and_methods_are_json(client: FlaskClient, demo_queue: str) -> None:
    assert error_of(client.get("/api/v1/nothing-here")) == (404, "not_found")
    response = client.put("/api/v1/callbacks")
    assert error_of(response) == (405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=12,
)
FIELDS = st.fixed_dictionaries(
    {},
    optional={
        "queue": st.sampled_from(["support", "", "nope"]) | JSON,
        "phone": st.sampled_from(["+447400123456", "07400 123457", "12"]) | JSON,
        "kind": st.sampled_from(["asap", "scheduled"]) | JSON,
        "slot_start": st.sampled_from(["2027-01-04T11:00:00+00:00", "2027-01-04T11:00:00", "soon"]) | JSON,
        "name": JSON,
        "fields": JSON,
        "tags": JSON,
        "unit": JSON,
        "locale": st.sampled_from(["en", "fr", "de"]) | JSON,
        "sms_consent": JSON,
    },
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=FIELDS | JSON)
def test_no_body_makes_the_api_fail(client: FlaskClient, demo_queue: str, body: Any) -> None:
    response = client.post("/api/v1/callbacks", json=body)
    assert response.status_code < 500, response.get_json()
    if response.status_code >= 400:
        error_of(response)
    reschedule = client.post("/api/v1/callbacks/NOSUCHREF2/reschedule", json=body)
    assert reschedule.status_code < 500


def test_nul_and_control_characters_are_refused_not_stored(client: FlaskClient, demo_queue: str) -> None:
    # PostgreSQL cannot store NUL: it must be refused at the edge, in bodies and in paths.
    for field, value in [("name", "a\x00b"), ("unit", "x\x1b[31m"), ("tags", ["ok", "t\x00"])]:
        body = {"queue": "support", "phone": phone(1), "kind": "asap", field: value}
        response = client.post("/api/v1/callbacks", json=body)
        assert error_of(response) == (422, "validation_error")
        assert field in response.get_json()["details"] or any(
            k.startswith(field) for k in response.get_json()["details"]
        )
    note = {"name": "note", "value": "line one\nline two"}
    ok = client.post(
        "/api/v1/callbacks", json={"queue": "support", "phone": phone(1), "kind": "asap", "fields": [note]}
    )
    assert ok.status_code == 201
    assert error_of(client.get("/api/v1/callbacks/AB%00CDEFGH")) == (404, "callback_not_found")
    assert error_of(client.get("/api/v1/queues/sup%00port/slots")) == (404, "queue_not_found")
    assert error_of(client.delete("/api/v1/callbacks/%00")) == (404, "callback_not_found")


@pytest.mark.parametrize("query", ["from=9999-12-31", "from=9999-12-31&days=62", "from=2027-W01-1", "from=20270104"])
def test_dates_out_of_range_or_in_other_iso_forms_are_422(client: FlaskClient, demo_queue: str, query: str) -> None:
    assert error_of(client.get(f"/api/v1/queues/support/slots?{query}")) == (422, "validation_error")


@pytest.mark.parametrize("start", ["20270104T1100Z", "2027-01-04T11", "2027-01-04"])
def test_slot_start_must_be_rfc3339(client: FlaskClient, demo_queue: str, start: str) -> None:
    body = {"queue": "support", "phone": phone(1), "kind": "scheduled", "slot_start": start}
    assert error_of(client.post("/api/v1/callbacks", json=body)) == (422, "validation_error")


def test_the_honeypot_field_refuses_a_bot_that_filled_it(client: FlaskClient, demo_queue: str) -> None:
    body = {"queue": "support", "phone": "+447400123456", "kind": "asap"}
    refused = client.post("/api/v1/callbacks", json={**body, "website": "http://spam.example"})
    assert refused.status_code == 422
    assert refused.get_json()["type"] == "validation_error" and "website" in refused.get_json()["details"]
    assert client.post("/api/v1/callbacks", json={**body, "website": ""}).status_code == 201

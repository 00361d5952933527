"""Call events stored in the webhook inbox come back exactly as they went in."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from telephony.base import AnsweredBy, CallEvent, CallState, call_event_from_json, call_event_to_json

ZONES = st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))])
INSTANTS = st.none() | st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=ZONES)
TEXT = st.text(max_size=40)
COUNTS = st.none() | st.integers(min_value=0, max_value=2**53)

events = st.builds(
    CallEvent,
    provider=st.sampled_from(["simulator", "twilio", "vonage"]),
    call_id=TEXT,
    state=st.sampled_from(CallState),
    answered_by=st.none() | st.sampled_from(AnsweredBy),
    sequence=COUNTS,
    duration_seconds=COUNTS,
    billable_seconds=COUNTS,
    started_at=INSTANTS,
    answered_at=INSTANTS,
    ended_at=INSTANTS,
    recording_url=st.none() | TEXT,
    error_code=st.none() | TEXT,
    dedupe_key=TEXT,
    greeting_ended=st.booleans(),
)


@given(events)
def test_any_call_event_survives_a_trip_through_json(event: CallEvent) -> None:
    stored = json.loads(json.dumps(call_event_to_json(event)))  # what the database gives back
    back = call_event_from_json(stored)
    assert back == event
    assert type(back.state) is CallState
    assert back.answered_by is None or type(back.answered_by) is AnsweredBy
    for name in ("started_at", "answered_at", "ended_at"):
        original, restored = getattr(event, name), getattr(back, name)
        assert restored is None or restored.utcoffset() == original.utcoffset()


def test_the_stored_document_spells_out_enums_and_instants() -> None:
    event = CallEvent(
        "twilio",
        "CA1",
        CallState.NO_ANSWER,
        answered_by=AnsweredBy.MACHINE,
        sequence=3,
        ended_at=datetime(2027, 1, 4, 10, 0, 5, tzinfo=UTC),
        dedupe_key="CA1:no-answer:3",
    )
    document = call_event_to_json(event)
    assert document["v"] == 1
    assert (document["state"], document["answered_by"]) == ("no_answer", "machine")
    assert document["ended_at"] == "2027-01-04T10:00:05+00:00"


def test_a_naive_instant_is_refused_rather_than_guessed() -> None:
    with pytest.raises(ValueError, match="naive"):
        call_event_to_json(CallEvent("simulator", "S1", CallState.COMPLETED, ended_at=datetime(2027, 1, 4)))


@pytest.mark.parametrize(
    "document",
    [
        None,
        [],
        {"provider": "simulator", "call_id": "S1", "state": "completed"},  # no format version
        {"v": 2, "provider": "simulator", "call_id": "S1", "state": "completed"},
        {"v": 1, "provider": "simulator", "state": "completed"},
        {"v": 1, "provider": "simulator", "call_id": "S1", "state": "exploded"},
        {"v": 1, "provider": "simulator", "call_id": "S1", "state": "completed", "sequence": "3"},
        {"v": 1, "provider": "simulator", "call_id": "S1", "state": "completed", "sequence": True},
        {"v": 1, "provider": "simulator", "call_id": "S1", "state": "completed", "ended_at": "2027-01-04T10:00"},
    ],
)
def test_a_document_that_is_not_a_stored_call_event_is_refused(document: object) -> None:
    with pytest.raises(ValueError):
        call_event_from_json(document)

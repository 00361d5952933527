"""The retention rule: which callbacks are due for anonymisation, and scrubbing free text."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scheduler.lifecycle import LIVE_STATES, TERMINAL_STATES, State
from scheduler.retention import (
    anonymised_phone,
    contains,
    cutoffs,
    is_due,
    phone_digest,
    phone_forms,
    retention_days,
    scrub_json,
)

NOW = datetime(2027, 4, 1, 12, 0, tzinfo=UTC)


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_a_finished_callback_is_due_once_older_than_the_retention(state: State) -> None:
    assert is_due(state, NOW - timedelta(days=90, seconds=1), None, NOW, 90)
    assert not is_due(state, NOW - timedelta(days=90), None, NOW, 90)
    assert not is_due(state, NOW - timedelta(days=89), None, NOW, 90)


@pytest.mark.parametrize("state", sorted(LIVE_STATES))
def test_a_live_callback_is_never_due_however_old(state: State) -> None:
    assert not is_due(state, NOW - timedelta(days=3650), None, NOW, 1)


def test_an_anonymised_callback_is_not_due_again() -> None:
    assert not is_due(State.COMPLETED, NOW - timedelta(days=200), NOW - timedelta(days=1), NOW, 90)


def test_a_queue_retention_overrides_the_installation_default() -> None:
    assert retention_days(90, None) == 90
    assert retention_days(90, 30) == 30
    assert cutoffs(NOW, 90, {1: None, 2: 7}) == {1: NOW - timedelta(days=90), 2: NOW - timedelta(days=7)}


def test_the_placeholder_fits_the_phone_column_and_is_not_a_number() -> None:
    placeholder = anonymised_phone(10**15 - 1)
    assert len(placeholder) <= 20
    assert not placeholder.startswith("+")


def test_every_written_form_of_a_number_is_found() -> None:
    forms = phone_forms("+447700900123")
    assert {"+447700900123", "447700900123", "07700 900123", "07700900123", "+44 7700 900123"} <= set(forms)
    assert forms == sorted(forms, key=len, reverse=True)


def test_scrubbing_drops_personal_keys_and_keeps_what_reports_read() -> None:
    payload = {
        "due_at": "2027-01-04T10:00:00+00:00",
        "phone": "+447700900123",
        "body": "hello",
        "note": "texted from 07700 900123",
        "outcome": "busy",
    }
    scrubbed = scrub_json(payload, phone_forms("+447700900123"))
    assert scrubbed == {"due_at": "2027-01-04T10:00:00+00:00", "note": "texted from [anonymised]", "outcome": "busy"}
    assert not contains(scrubbed, phone_forms("+447700900123"))


def test_the_audit_digest_is_stable_and_keyed() -> None:
    assert phone_digest("k", "+447700900123") == phone_digest("k", "+447700900123")
    assert phone_digest("k", "+447700900123") != phone_digest("other", "+447700900123")
    assert "7700900123" not in phone_digest("k", "+447700900123")

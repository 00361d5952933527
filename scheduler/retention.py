"""Personal data: when a finished callback is anonymised, and what its number looks like.

Pure rules (time is an argument): which callbacks are due for anonymisation at ``now``
(a finished one whose last change is older than its queue's retention), the placeholder an
anonymised number becomes, and the written forms of a number to look for in free text.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import phonenumbers

from scheduler.lifecycle import TERMINAL_STATES, State

ANONYMISED_PHONE_PREFIX = "anon:"
ANONYMISED_TEXT = "[anonymised]"
MIN_RETENTION_DAYS = 1
MAX_RETENTION_DAYS = 3650
# Keys of event and outbox data that hold what a person said or is (dropped, whatever the value).
PERSONAL_KEYS = frozenset({"phone", "to", "from", "body", "name", "fields", "recording_url", "link", "url"})


def retention_days(default_days: int, queue_days: int | None) -> int:
    """A queue's own retention wins over the installation's."""
    return default_days if queue_days is None else queue_days


def anonymise_before(now: datetime, days: int) -> datetime:
    """Finished callbacks last changed before this instant are due."""
    return now - timedelta(days=days)


def is_due(
    state: State | str, last_changed_at: datetime, anonymised_at: datetime | None, now: datetime, days: int
) -> bool:
    """Whether a callback is due for anonymisation: finished (terminal), not yet
    anonymised, and untouched for ``days``. A live callback is never due, however old."""
    return anonymised_at is None and State(state) in TERMINAL_STATES and last_changed_at < anonymise_before(now, days)


def cutoffs(now: datetime, default_days: int, queue_days: Mapping[int, int | None]) -> dict[int, datetime]:
    """Per queue id: the instant before which its finished callbacks are due."""
    return {qid: anonymise_before(now, retention_days(default_days, days)) for qid, days in queue_days.items()}


def anonymised_phone(callback_id: int) -> str:
    """The placeholder of an anonymised callback's number: fits the phone column (20
    characters for ids below 10**15) and never collides with a number (no '+')."""
    return f"{ANONYMISED_PHONE_PREFIX}{callback_id}"


def phone_forms(e164: str) -> list[str]:
    """The ways a number may be written in free text (E.164, international, national, bare
    digits), longest first, so that replacing them in order leaves no part behind."""
    forms = {e164, e164.lstrip("+")}
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return sorted(forms, key=len, reverse=True)
    for style in (phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.NATIONAL):
        written = phonenumbers.format_number(number, style)
        forms.add(written)
        forms.add("".join(c for c in written if c.isdigit() or c == "+"))
    return sorted((f for f in forms if len(f) >= 6), key=len, reverse=True)


def scrub_text(value: str, secrets: list[str], placeholder: str = ANONYMISED_TEXT) -> str:
    for secret in secrets:
        if secret:
            value = value.replace(secret, placeholder)
    return value


def scrub_json(value: Any, secrets: list[str], placeholder: str = ANONYMISED_TEXT) -> Any:
    """A JSON value with personal keys dropped and the secrets replaced in every string;
    everything else (states, times, outcomes, counts) kept for reports."""
    if isinstance(value, dict):
        return {k: scrub_json(v, secrets, placeholder) for k, v in value.items() if k not in PERSONAL_KEYS}
    if isinstance(value, list):
        return [scrub_json(v, secrets, placeholder) for v in value]
    if isinstance(value, str):
        return scrub_text(value, secrets, placeholder)
    return value


def contains(value: Any, secrets: list[str]) -> bool:
    """Whether a JSON value (or string) mentions any of the secrets."""
    if isinstance(value, dict):
        return any(contains(k, secrets) or contains(v, secrets) for k, v in value.items())
    if isinstance(value, list):
        return any(contains(v, secrets) for v in value)
    if isinstance(value, str):
        return any(s and s in value for s in secrets)
    return False


def phone_digest(secret_key: str, e164: str) -> str:
    """What the audit log says instead of an erased number: a keyed hash (a plain hash of a
    phone number is reversed by trying them all), the same for the same number."""
    return "sha256:" + hmac.new(secret_key.encode(), e164.encode(), hashlib.sha256).hexdigest()[:32]

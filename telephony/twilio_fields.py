"""Reading Twilio's webhook fields (queue figures and results, headers, required and optional values,
RFC 2822 dates, AnsweredBy, SIDs), for twilio_adapter.py."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

from telephony.base import (
    AnsweredBy,
    ProviderError,
    QueueData,
    QueueExit,
)

# --- Webhook fields ---------------------------------------------------------------

_QUEUE_FIELDS: Final = ("QueuePosition", "QueueTime", "AvgQueueTime", "CurrentQueueSize")


def parse_queue_data(form: Mapping[str, str]) -> QueueData | None:
    """The queue figures Twilio posts to an ``<Enqueue>`` wait URL, when a request carries
    them; None when it carries none. A figure that is not a whole number is dropped (as if
    not sent) rather than refusing the call: the wait falls back to our own estimate."""
    if not any(_field(form, name) is not None for name in _QUEUE_FIELDS):
        return None

    def figure(name: str) -> int | None:
        raw = _field(form, name)
        try:
            value = int(raw) if raw is not None else None
        except ValueError:
            return None
        return value if value is not None and value >= 0 else None

    return QueueData(
        position=figure("QueuePosition"),
        waited_seconds=figure("QueueTime"),
        average_wait_seconds=figure("AvgQueueTime"),
        size=figure("CurrentQueueSize"),
    )


# Twilio's QueueResult on an <Enqueue action>, in our words. "bridged": an agent took the
# caller out of the queue and that conversation is over; "bridging-in-process" and
# "redirected-from-bridged" end the same way. Everything else that is not the caller's own
# doing means the queue could not hold them.
_QUEUE_EXITS: Final = {
    "leave": QueueExit.LEFT,
    "bridged": QueueExit.BRIDGED,
    "bridging-in-process": QueueExit.BRIDGED,
    "redirected-from-bridged": QueueExit.BRIDGED,
    "hangup": QueueExit.HUNG_UP,
    "queue-full": QueueExit.FAILED,
    "error": QueueExit.FAILED,
    "system-error": QueueExit.FAILED,
    "redirected": QueueExit.FAILED,
}


def parse_queue_exit(form: Mapping[str, str]) -> QueueExit | None:
    """How the caller got out of a Twilio queue (QueueResult), or None when the request is
    not an Enqueue's action. A value Twilio may add later counts as a failed queue: the
    caller is held another way rather than dropped."""
    raw = _field(form, "QueueResult")
    if raw is None:
        return None
    return _QUEUE_EXITS.get(raw.lower(), QueueExit.FAILED)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _field(form: Mapping[str, str], name: str) -> str | None:
    value = form.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


def _required(form: Mapping[str, str], name: str) -> str:
    value = _field(form, name)
    if value is None:
        raise ValueError(f"Twilio webhook without {name}")
    return value


def _int_or_none(raw: object, name: str) -> int | None:
    if raw is None or raw == "":
        return None
    try:
        return int(str(raw).strip())
    except ValueError:
        raise ValueError(f"Twilio {name} {raw!r} is not a whole number") from None


def _rfc2822(raw: str | None) -> datetime | None:
    """Twilio's ``Timestamp``: RFC 2822 ("Tue, 05 Jan 2027 10:00:00 +0000"), made aware UTC."""
    if raw is None:
        return None
    try:
        parsed = parsedate_to_datetime(raw)
    except (TypeError, ValueError):
        raise ValueError(f"Twilio Timestamp {raw!r} is not an RFC 2822 date") from None
    return _aware_utc(parsed)


def _aware_utc(value: object) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    # "-0000" (and the SDK's own parser, which drops the offset) give a naive value
    # that is UTC by definition.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _answered_by(raw: object) -> AnsweredBy | None:
    """human; machine_start, machine_end_beep|silence|other and fax; unknown."""
    if not raw:
        return None
    value = str(raw).strip().lower()
    if value == "human":
        return AnsweredBy.HUMAN
    if value.startswith("machine") or value == "fax":
        return AnsweredBy.MACHINE
    return AnsweredBy.UNKNOWN


def _sid(value: object) -> str:
    if not value:
        raise ProviderError("Twilio answered without a sid", code="unexpected_response")
    return str(value)

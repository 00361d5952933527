"""Vonage's ways with numbers (no leading +), client options and webhook documents (JSON
or form, the SMS API's parameters, timestamps, speech results), for vonage_adapter.py."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any, Final

from vonage import HttpClientOptions

# The model classes come from vonage_voice.models.* (not vonage_utils.types, whose Dtmf
# is a plain string type that shadows the NCCO input model of the same name).
from infra.json_input import loads
from telephony.base import (
    AnsweredBy,
    CallState,
    ProviderError,
    WebhookRequest,
)
from telephony.vonage_errors import _mask

# Without a timeout requests waits forever, and a hung socket would stall the dialer.
DEFAULT_TIMEOUT_SECONDS: Final = 10

_E164 = re.compile(r"\+[1-9]\d{6,14}")

_ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")

_CALL_STATES: Final[dict[str, tuple[CallState, AnsweredBy | None]]] = {
    "started": (CallState.QUEUED, None),
    "ringing": (CallState.RINGING, None),
    "answered": (CallState.ANSWERED, None),
    "machine": (CallState.ANSWERED, AnsweredBy.MACHINE),
    "human": (CallState.ANSWERED, AnsweredBy.HUMAN),
    "completed": (CallState.COMPLETED, None),
    "busy": (CallState.BUSY, None),
    "timeout": (CallState.NO_ANSWER, None),  # rang longer than ringing_timer
    "unanswered": (CallState.NO_ANSWER, None),  # unreachable, or declined
    "failed": (CallState.FAILED, None),
    "rejected": (CallState.REJECTED, None),
    "cancelled": (CallState.CANCELED, None),
}

# GSM 03.38: the default alphabet (less ESC) and its extension table. Anything else
# (Cyrillic, ç, ê, emoji) must go as type=unicode or Vonage replaces it with "?".
_GSM7: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "^{}\\[~]|€\f"
)


# --- numbers and options --------------------------------------------------------------


def _client_options(given: HttpClientOptions | None) -> HttpClientOptions:
    options = given if given is not None else HttpClientOptions()
    update: dict[str, Any] = {
        # The SDK re-sends a request after "RemoteDisconnected" as many times as
        # pool_maxsize; for POST /v1/calls that can ring the customer twice. 1 = once.
        "pool_maxsize": 1,
    }
    if options.timeout is None:
        update["timeout"] = DEFAULT_TIMEOUT_SECONDS
    return options.model_copy(update=update)


def _outbound_number(e164: str) -> str:
    if not _E164.fullmatch(e164):
        raise ProviderError(f"{_mask(e164)!r} is not an E.164 number", permanent=True, code="invalid_number")
    return e164[1:]


def _caller_id(e164: str) -> str:
    if not _E164.fullmatch(e164):
        raise ProviderError(f"caller id {e164!r} is not an E.164 number", code="bad_request")
    return e164[1:]


def _sms_sender(sender: str) -> str:
    if _E164.fullmatch(sender):
        return sender[1:]
    if _ALPHANUMERIC_SENDER.fullmatch(sender):
        return sender
    raise ProviderError(f"SMS sender {sender!r} is neither E.164 nor an alphanumeric sender id", code="bad_request")


def _concat(params: dict[str, Any]) -> tuple[str, int, int] | None:
    """(reference, part, total) of one part of a concatenated SMS API text, else None."""
    if str(params.get("concat", "")).lower() != "true":
        return None
    try:
        ref, part, total = str(params["concat-ref"]), int(params["concat-part"]), int(params["concat-total"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("inbound SMS part without a valid concat-ref/concat-part/concat-total") from None
    if not 1 <= part <= total <= 255:
        raise ValueError(f"inbound SMS part {part} of {total} is out of range")
    return ref, part, total


def _inbound_number(number: str) -> str:
    return f"+{number}" if number.isdigit() else number


def _is_gsm7(text: str) -> bool:
    return all(character in _GSM7 for character in text)


# --- webhook documents ----------------------------------------------------------------


def _header(request: WebhookRequest, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in request.headers.items() if key.lower() == wanted), None)


def _document(request: WebhookRequest, what: str) -> dict[str, Any]:
    """A voice webhook's fields: the JSON body (POST) or the query (GET)."""
    if not request.body:
        if request.query:
            return dict(request.query)
        raise ValueError(f"Vonage {what} is empty")
    try:
        document = loads(request.body)
    except ValueError:
        raise ValueError(f"Vonage {what} body is not JSON") from None
    if not isinstance(document, dict):
        raise ValueError(f"Vonage {what} body is not a JSON object")
    return document


# SMS API delivery receipt status -> our status. "accepted", "buffered" and "unknown":
# the carrier has it but has not (or will not) say it was delivered.
_DLR_STATUSES: Final[dict[str, str]] = {
    "accepted": "sent",
    "buffered": "sent",
    "unknown": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}

# Messages API status webhook -> our status.
_MESSAGES_STATUSES: Final[dict[str, str]] = {
    "submitted": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undeliverable": "undelivered",
    "rejected": "failed",
}


def _sms_params(request: WebhookRequest) -> dict[str, Any]:
    """SMS API fields: query for GET, form or JSON body for POST."""
    if request.method.upper() == "GET":
        return dict(request.query)
    if request.form:
        return dict(request.form)
    if request.body:
        return _document(request, "SMS webhook")
    return dict(request.query)


def _status(document: Mapping[str, Any], what: str) -> str:
    status = document.get("status")
    if not isinstance(status, str) or not status:
        raise ValueError(f"Vonage {what} has no status (transfer, record and error events carry none)")
    if status not in _CALL_STATES:
        raise ValueError(f"Vonage {what} has an unknown status {status!r}")
    return status


def _required(document: Mapping[str, Any], names: tuple[str, ...], what: str) -> str:
    for name in names:
        value = document.get(name)
        if isinstance(value, str) and value:
            return value
    raise ValueError(f"Vonage {what} is missing {' or '.join(names)}")


def _timestamp(value: object, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"Vonage {field} is not a timestamp: {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"Vonage {field} is not a timestamp: {value!r}") from None
    # GET /v1/calls may answer "YYYY-MM-DD HH:MM:SS" without a zone: Vonage means UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _seconds(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"Vonage {field} is not a number of seconds: {value!r}")
    try:
        return int(float(str(value)))
    except ValueError:
        raise ValueError(f"Vonage {field} is not a number of seconds: {value!r}") from None


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _best_speech(speech: object) -> tuple[str | None, float | None]:
    if not isinstance(speech, dict):
        return None, None
    best: tuple[str | None, float | None] = (None, None)
    for result in speech.get("results") or []:
        if not isinstance(result, dict) or not result.get("text"):
            continue
        try:
            confidence: float | None = float(result["confidence"])  # Vonage sends it as a string
        except (KeyError, TypeError, ValueError):
            confidence = None
        if best[0] is None or (confidence or 0.0) > (best[1] or 0.0):
            best = (str(result["text"]), confidence)
    return best


def _payload_digests(request: WebhookRequest) -> Iterator[str]:
    """SHA-256 hex digests the JWT's payload_hash may match. Vonage hashes the body it
    sends (compact JSON); for GET it hashes the query parameters as compact JSON."""
    if request.body:
        yield hashlib.sha256(request.body).hexdigest()
        try:
            document = loads(request.body)
        except ValueError:
            return
        yield hashlib.sha256(_compact_json(document)).hexdigest()
    elif request.query:
        yield hashlib.sha256(_compact_json(dict(request.query))).hexdigest()
    else:
        yield hashlib.sha256(b"").hexdigest()
        yield hashlib.sha256(b"{}").hexdigest()


def _compact_json(document: object) -> bytes:
    # As JavaScript's JSON.stringify writes it: no spaces, non-ASCII left as is.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()

"""Signed, expiring links a customer gets by text: book again, or pick another time.

The token carries the queue and the phone (and the callback when it is a reschedule),
signed with SECRET_KEY; expiry is checked against the injected clock, not time.time().
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer

SALT = "booking-link"


class LinkInvalid(Exception):
    """The token was tampered with, made with another key, or has expired."""


def _serializer(secret: str) -> URLSafeTimedSerializer:
    return URLSafeTimedSerializer(secret, salt=SALT)


def booking_token(secret: str, queue_key: str, phone: str, *, ref: str | None = None) -> str:
    payload: dict[str, Any] = {"q": queue_key, "p": phone}
    if ref:
        payload["r"] = ref
    return _serializer(secret).dumps(payload)


def booking_url(base_url: str, secret: str, queue_key: str, phone: str, *, ref: str | None = None) -> str:
    return f"{base_url}/book/{queue_key}?t={booking_token(secret, queue_key, phone, ref=ref)}"


def read_booking_token(secret: str, token: str, now: datetime, max_age: timedelta) -> dict[str, Any]:
    try:
        payload, signed_at = _serializer(secret).loads(token, return_timestamp=True)
    except BadSignature:
        raise LinkInvalid("this link is not valid") from None
    if now - signed_at.replace(tzinfo=signed_at.tzinfo or UTC) > max_age:
        raise LinkInvalid("this link has expired")
    if not isinstance(payload, dict) or "q" not in payload or "p" not in payload:
        raise LinkInvalid("this link is not valid")
    return payload

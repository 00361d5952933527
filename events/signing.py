"""The signature on every delivery, so a receiver knows it came from us and is fresh.

``X-Callbacks-Signature: v1=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`` with
``X-Callbacks-Timestamp: <Unix seconds>``. Signing the timestamp with the body lets a
receiver refuse a replayed old delivery (docs/events.md has the receiver's code: compare
in constant time, allow a few minutes of clock difference). A version prefix, so that a
new scheme can be sent next to this one while receivers move over.
"""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "X-Callbacks-Signature"
TIMESTAMP_HEADER = "X-Callbacks-Timestamp"
EVENT_ID_HEADER = "X-Callbacks-Event-Id"
EVENT_TYPE_HEADER = "X-Callbacks-Event-Type"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def signed_headers(secret: str, timestamp: int, body: bytes, event_id: str, event_type: str) -> dict[str, str]:
    return {
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp, body),
        EVENT_ID_HEADER: event_id,
        EVENT_TYPE_HEADER: event_type,
    }

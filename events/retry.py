"""When a failed delivery is tried again (pure: time is an argument)."""

from __future__ import annotations

from datetime import datetime, timedelta


def next_attempt_after(attempts: int, now: datetime, max_attempts: int, retry_seconds: int) -> datetime | None:
    """After ``attempts`` failed attempts (in this round), when to try again; None: give up.
    Evenly spaced, as subscribers are told: a receiver that is down for maintenance knows
    how long an outage it can have before events need a redelivery by hand."""
    if attempts >= max_attempts:
        return None
    return now + timedelta(seconds=retry_seconds)

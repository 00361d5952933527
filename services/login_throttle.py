"""Failed console sign-ins counted in the database, per email and per client address
(the waits are scheduler/login_backoff.py's rule).

The counts are rows of ``login_throttle``, so every web process, on every machine, sees
the same ones. A sign-in locks its two rows (``SELECT … FOR UPDATE``, always in key order,
so two sign-ins never deadlock) from before the throttle check until its failure is
counted: attempts at one email or from one address take turns, and a burst of parallel
guesses is throttled after the free ones instead of all being checked. On SQLite the
write transaction (``BEGIN IMMEDIATE``) serialises them anyway.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from infra.account_models import LoginThrottle
from infra.db import upsert_into
from scheduler.login_backoff import (
    FORGET_AFTER,
    PER_ADDRESS,
    PER_EMAIL,
    Backoff,
    address_bucket,
    counted_failures,
    seconds_to_wait,
)


@dataclass(frozen=True)
class Throttle:
    key: str  # HMAC of kind and value: emails and addresses are not stored in the clear
    kind: str
    backoff: Backoff


def _key(secret: str, kind: str, value: str) -> str:
    return hmac.new(secret.encode(), f"login-throttle:{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def throttles_for(secret: str, email: str, address: str | None) -> list[Throttle]:
    """The two counts a sign-in from ``address`` as ``email`` is held to, in locking order."""
    found = [
        Throttle(_key(secret, "email", email.strip().lower()), "email", PER_EMAIL),
        Throttle(_key(secret, "address", address_bucket(address)), "address", PER_ADDRESS),
    ]
    return sorted(found, key=lambda throttle: throttle.key)


def peek(session: Session, throttles: Sequence[Throttle], now: datetime) -> int:
    """Seconds to wait, read without a lock: a flood of throttled attempts costs reads only."""
    keys = [throttle.key for throttle in throttles]
    not_befores = session.scalars(select(LoginThrottle.not_before).where(LoginThrottle.key.in_(keys)))
    return max((seconds_to_wait(at, now) for at in not_befores), default=0)


def lock(session: Session, throttles: Sequence[Throttle]) -> dict[str, LoginThrottle]:
    """The throttles' rows, made if missing, locked until the transaction ends."""
    keys = [throttle.key for throttle in throttles]
    rows: dict[str, LoginThrottle] = {}
    for _ in range(3):  # a row deleted by the daily clean-up in between is made again
        session.execute(
            upsert_into(session, LoginThrottle)
            .values([{"key": t.key, "kind": t.kind, "failures": 0} for t in throttles])
            .on_conflict_do_nothing(index_elements=["key"])
        )
        found = session.scalars(
            select(LoginThrottle)
            .where(LoginThrottle.key.in_(keys))
            .order_by(LoginThrottle.key)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        rows = {row.key: row for row in found}
        if len(rows) == len(keys):
            break
    return rows


def wait(rows: dict[str, LoginThrottle], now: datetime) -> int:
    return max((seconds_to_wait(row.not_before, now) for row in rows.values()), default=0)


def record_failure(rows: dict[str, LoginThrottle], throttles: Sequence[Throttle], now: datetime) -> None:
    for throttle in throttles:
        row = rows.get(throttle.key)
        if row is None:
            continue
        row.failures = counted_failures(row.failures, row.last_failure_at, now) + 1
        row.last_failure_at = now
        row.not_before = now + timedelta(seconds=throttle.backoff.delay_seconds(row.failures))


def reset(rows: dict[str, LoginThrottle]) -> None:
    for row in rows.values():
        row.failures, row.not_before, row.last_failure_at = 0, None, None


def forget_old(session: Session, now: datetime) -> int:
    """Delete the rows with no failure in ``FORGET_AFTER`` (the worker's daily clean-up)."""
    result = session.execute(
        delete(LoginThrottle).where(
            or_(LoginThrottle.last_failure_at.is_(None), LoginThrottle.last_failure_at < now - FORGET_AFTER)
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)

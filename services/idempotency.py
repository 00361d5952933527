"""Idempotency-Key: a client that retries a POST with the same key gets the first answer.

The record is written in the same transaction as the booking it describes, so either
both exist or neither does. Only successful answers are kept: an error changed
nothing, so a retry may simply run again (and may succeed once a seat frees up).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from infra.db import Database
from infra.models import IdempotencyRecord
from scheduler.errors import IdempotencyKeyReused, ValidationFailed

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")  # visible ASCII, as Stripe and the IETF draft allow
KEEP_FOR = timedelta(hours=24)

Answer = tuple[int, dict[str, Any]]


def request_hash(payload: Any) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def run_once(
    db: Database, scope: str, key: str | None, payload: Any, now: datetime, action: Callable[[Session], Answer]
) -> Answer:
    if key is None:
        with db.write() as session:
            return action(session)
    if not KEY_PATTERN.match(key):
        raise ValidationFailed("Idempotency-Key must be 1-255 visible ASCII characters", {"Idempotency-Key": "invalid"})
    digest = request_hash(payload)
    for attempt in range(2):  # a second pass only after losing a race to a concurrent twin
        try:
            with db.write() as session:
                record = session.scalars(
                    select(IdempotencyRecord).where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
                ).one_or_none()
                if record is not None and record.created_at < now - KEEP_FOR:
                    session.delete(record)  # expired: the key is free again
                    session.flush()
                    record = None
                if record is not None:
                    if record.request_hash != digest:
                        raise IdempotencyKeyReused("this Idempotency-Key was used with a different request", {})
                    return record.status, record.body
                status, body = action(session)
                if 200 <= status < 300:
                    session.add(
                        IdempotencyRecord(
                            scope=scope, key=key, request_hash=digest, status=status, body=body, created_at=now
                        )
                    )
                    session.flush()
                return status, body
        except IntegrityError:
            if attempt:
                raise
    raise AssertionError("unreachable")


def forget_expired(session: Session, now: datetime) -> int:
    result = session.execute(delete(IdempotencyRecord).where(IdempotencyRecord.created_at < now - KEEP_FOR))
    return result.rowcount  # type: ignore[attr-defined,no-any-return]

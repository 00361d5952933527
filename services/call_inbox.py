"""The inbox of call-progress reports: the status webhook stores them, the worker applies them.

Applying a report locks the attempt, the callback with its queue and slot, decides a retry,
changes the state, writes its event row and perhaps a text: about eleven statements. Done in
the webhook, that kept the status endpoint at a quarter to a third of the throughput of a
one-row insert. So the webhook only verifies, parses and stores the report with one
``INSERT … ON CONFLICT (provider, dedupe_key) DO NOTHING`` (a redelivery does nothing), and
the worker's ``apply_call_events`` tick applies what is stored, in arrival order, within
about a second. The unique key keeps exactly one effect per report.

A row that fails to apply is rolled back alone (a savepoint per row): its error is stored
and its ``tries`` counted, and it stays unapplied, so later batches try it again. After
MAX_TRIES it is left as a dead letter: unapplied, with its error, skipped by the applier and
logged at ERROR (``applied_at IS NULL AND tries >= MAX_TRIES`` finds them). It never blocks
the rows behind it. A callback whose final report is a dead letter is still settled:
reconciliation asks the provider when a call has had no news for a while.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Table, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from infra.clock import Clock
from infra.db import Database
from infra.models import Attempt, WebhookReceipt
from infra.settings import Settings
from services.dialer.call_reports import apply_call_event
from services.dialer.machines import MachineRedirect, redirect_calls
from telephony.base import CallEvent, call_event_from_json, call_event_to_json
from telephony.registry import Providers

log = logging.getLogger(__name__)

BATCH = 200  # rows per applier transaction
MAX_TRIES = 5  # failed tries before a row is left as a dead letter
KEY_LENGTH = 200  # webhook_receipt.dedupe_key


def inbox_key(attempt_id: int, event: CallEvent, body: bytes) -> str:
    """The report's dedupe key; for a report without one, a hash of the signed body (and of
    the attempt it is about): nothing is dropped, and a byte-identical redelivery still
    finds its row."""
    if event.dedupe_key:
        return event.dedupe_key[:KEY_LENGTH]
    digest = hashlib.sha256(str(attempt_id).encode() + b"\n" + body).hexdigest()
    return f"sha256:{digest}"


_RECEIPTS: Table = WebhookReceipt.__table__  # type: ignore[assignment]
# Built once per dialect, on the Core table: on the hot path, building an ORM insert and its
# cache key each time cost more CPU than the INSERT itself.
_STORE = {
    "sqlite": sqlite_insert(_RECEIPTS).on_conflict_do_nothing(index_elements=["provider", "dedupe_key"]),
    "postgresql": postgresql_insert(_RECEIPTS).on_conflict_do_nothing(index_elements=["provider", "dedupe_key"]),
}


def store_call_event(db: Database, attempt_id: int, event: CallEvent, body: bytes, now: datetime) -> None:
    """What the status webhook does with a verified, parsed report: one statement, no reads."""
    row = {
        "provider": event.provider,
        "dedupe_key": inbox_key(attempt_id, event, body),
        "received_at": now,
        "attempt_id": attempt_id,
        "event": call_event_to_json(event),
        "tries": 0,
    }
    with db.engine.begin() as connection:
        connection.execute(_STORE["sqlite" if db.is_sqlite else "postgresql"], row)


def apply_call_events(
    db: Database, clock: Clock, settings: Settings, limit: int = BATCH, *, providers: Providers | None = None
) -> int:
    """Apply up to ``limit`` stored reports in one transaction, oldest first; returns how
    many rows were taken (applied or failed), so a caller loops while it gets ``limit``.

    PostgreSQL: ``FOR UPDATE SKIP LOCKED`` lets several workers share the inbox, each taking
    other rows. SQLite: ``db.write()`` begins IMMEDIATE, so appliers take turns.

    With ``providers`` (the worker's), a machine verdict takes its call away from the human
    menu: planned in the transaction, asked of the provider once it committed
    (services/dialer/machines.py). Without, machine verdicts are only recorded."""
    now = clock.now()
    redirects: list[MachineRedirect] | None = [] if providers is not None else None
    with db.write() as session:
        rows = session.scalars(
            select(WebhookReceipt)
            .where(WebhookReceipt.applied_at.is_(None), WebhookReceipt.tries < MAX_TRIES)
            .order_by(WebhookReceipt.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        if not rows:
            return 0
        if not db.is_sqlite:
            _lock_attempts(session, rows)
        applied = [row.id for row in rows if _apply_row(session, row, now, settings, redirects)]
        if applied:  # one statement for the batch rather than one per row
            session.execute(
                update(WebhookReceipt)
                .where(WebhookReceipt.id.in_(applied))
                .values(applied_at=now)
                .execution_options(synchronize_session=False)
            )
    if providers is not None and redirects:
        redirect_calls(db, providers, redirects, now)  # committed: now the provider calls
    return len(rows)


def _lock_attempts(session: Session, rows: Sequence[WebhookReceipt]) -> None:
    """Lock the batch's attempts up front, in id order. Two appliers that locked them row
    by row, in arrival order, could each wait for an attempt the other holds (a deadlock
    that PostgreSQL breaks only after a second); in one order, one simply waits."""
    ids = sorted({row.attempt_id for row in rows if row.attempt_id is not None})
    if ids:
        session.execute(select(Attempt.id).where(Attempt.id.in_(ids)).order_by(Attempt.id).with_for_update())


def _apply_row(
    session: Session, row: WebhookReceipt, now: datetime, settings: Settings, redirects: list[MachineRedirect] | None
) -> bool:
    """Apply one row in its own savepoint; False (and the row's error and tries updated) when it failed."""
    planned: list[MachineRedirect] | None = [] if redirects is not None else None
    try:
        with session.begin_nested():
            if row.attempt_id is None:
                raise ValueError("the stored report names no attempt")
            event = call_event_from_json(row.event)
            apply_call_event(
                session, row.attempt_id, event, now, settings, heard_at=row.received_at, machine_redirects=planned
            )
        if redirects is not None and planned:
            redirects.extend(planned)  # kept only once its savepoint was released
    except Exception as error:  # one bad report must not hold up or lose the others
        row.tries += 1
        row.error = f"{type(error).__name__}: {error}"[:2000]
        given_up = row.tries >= MAX_TRIES
        log.log(
            logging.ERROR if given_up else logging.WARNING,
            "call report %s (%s %s, attempt %s) failed to apply, try %d of %d%s: %s",
            row.id,
            row.provider,
            row.dedupe_key,
            row.attempt_id,
            row.tries,
            MAX_TRIES,
            "; left unapplied as a dead letter" if given_up else "",
            row.error,
            exc_info=given_up,
        )
        return False
    return True

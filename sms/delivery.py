"""Delivery reports on the texts we send: move a text forward, never back, and keep a
report that came before we knew the message id it is about.

A provider may report on a text before the outbox has saved the provider's answer (the
message id): the outbox calls the provider, then records the id in a second transaction,
and a fast "sent" or "failed" report can arrive in between. Such a report is kept in
``early_sms_status`` and applied by ``record_sent`` when the id is saved. On PostgreSQL
both sides take a transaction lock on (provider, message id) first, so that one of them
always sees the other's row; SQLite runs one write transaction at a time anyway.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import delete, select, text
from sqlalchemy.orm import Session

from events import outbox
from events import types as event_types
from infra import metrics
from infra.models import Callback
from infra.text_models import EarlySmsStatus, SmsMessage
from scheduler.reminders import REMINDER_PREFIX
from telephony.base import SmsStatus

log = logging.getLogger(__name__)

# How far along a text is: a report only ever moves a message forward. delivered,
# undelivered and failed are final (a late "sent" after "delivered" changes nothing).
_PROGRESS = {"pending": 0, "sending": 1, "queued": 2, "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4}
_FINAL = frozenset({"delivered", "undelivered", "failed", "skipped"})
# A report for an id no text of ours ever gets is forgotten after this (logged).
EARLY_TTL = timedelta(days=1)


def _lock(session: Session, provider: str, message_id: str) -> None:
    if session.connection().dialect.name == "postgresql":
        session.execute(
            text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": f"sms-status:{provider}:{message_id}"}
        )


def receive_status(session: Session, report: SmsStatus, now: datetime) -> str:
    """Apply a delivery report: "applied", "unchanged" (a late or repeated one) or "early"
    (no text has that id yet: kept until the outbox saves it)."""
    _lock(session, report.provider, report.message_id)
    message = session.scalars(
        select(SmsMessage)
        .where(SmsMessage.provider == report.provider, SmsMessage.message_id == report.message_id)
        .with_for_update()
    ).first()
    if message is None:
        session.add(
            EarlySmsStatus(
                provider=report.provider,
                message_id=report.message_id,
                status=report.status,
                raw_status=report.raw_status[:32],
                error_code=report.error_code,
                received_at=now,
            )
        )
        return "early"
    return "applied" if apply_sms_status(message, report, now) else "unchanged"


def record_sent(session: Session, message: SmsMessage, provider: str, message_id: str, now: datetime) -> None:
    """The provider took the text: save its id, then apply any report that came first."""
    _lock(session, provider, message_id)
    message.status, message.provider, message.message_id, message.sent_at = "sent", provider, message_id, now
    if message.kind.startswith(REMINDER_PREFIX) and message.callback_id is not None:
        callback = session.get_one(Callback, message.callback_id)
        outbox.emit_for(
            session,
            event_types.REMINDER_SENT,
            callback,
            now,
            sms={"kind": message.kind, "about": message.about_at.isoformat() if message.about_at else None},
            sms_message_id=message.id,
        )
    early = session.scalars(
        select(EarlySmsStatus)
        .where(EarlySmsStatus.provider == provider, EarlySmsStatus.message_id == message_id)
        .order_by(EarlySmsStatus.id)
    ).all()
    for row in early:
        report = SmsStatus(row.provider, row.message_id, row.status, row.error_code, row.raw_status)
        apply_sms_status(message, report, row.received_at)
        session.delete(row)


def apply_sms_status(message: SmsMessage, report: SmsStatus, now: datetime) -> bool:
    """Move ``message`` to the reported status if that is forward; True when it changed.
    A redelivered or late report changes nothing."""
    if message.status in _FINAL or _PROGRESS[report.status] <= _PROGRESS.get(message.status, 0):
        return False
    message.status = report.status
    message.status_at = now
    if report.error_code is not None:
        message.error_code = report.error_code
    if report.status in ("undelivered", "failed"):
        metrics.count_sms_failed(report.provider, "undelivered")
        message.error = f"{report.provider} reported {report.raw_status}" + (
            f" (error {report.error_code})" if report.error_code else ""
        )
    if report.status == "delivered":
        message.delivered_at = now
    return True


def forget_early_reports(session: Session, now: datetime) -> int:
    """Reports for ids that never became ours (another system's texts on the same account,
    or a text whose sending was lost): dropped after a day, counted in the log."""
    result = session.execute(delete(EarlySmsStatus).where(EarlySmsStatus.received_at < now - EARLY_TTL))
    removed: int = result.rowcount  # type: ignore[attr-defined]
    if removed:
        log.warning("forgot %d delivery reports for message ids none of our texts got", removed)
    return removed

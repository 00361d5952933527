"""Reminders of scheduled callbacks, as rows of the text outbox planned for later.

``sync_reminders`` is called in the transaction that books, moves or cancels a callback
(``services.booking_service``, the dialer's re-booking, the IVR's "text me" key): it cancels
the planned reminders that no longer hold and plans the missing ones (``scheduler.reminders``
decides when), so a moved callback's reminders move at once and a cancelled one's stop.
A planned reminder is an ``SmsMessage`` with ``status = "scheduled"`` and ``send_at``; one per
(callback, kind, time reminded of), a unique index, so planning twice plans once.

``release_due`` runs in the outbox's transaction (``sms.outbox.send_pending_sms``): a
reminder whose ``send_at`` has come is checked once more against its callback (still
live, still at that time, not too late, not in the customer's quiet hours) and becomes
``pending`` (then sent once, like any text) or ``cancelled`` with the reason in ``error``.
Nothing is deleted: the outbox shows every reminder and what became of it.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from infra.models import Callback
from infra.text_models import SmsMessage
from scheduler.dial_window import customer_zone
from scheduler.lifecycle import LIVE_STATES
from scheduler.reminders import PlannedReminder, plan, why_not_send
from services.queues import reminder_policy
from sms import texts

log = logging.getLogger(__name__)

LIVE = frozenset(s.value for s in LIVE_STATES)
SOON = timedelta(hours=2)  # a reminder this close to the callback names the time of day only
RELEASE_BATCH = 200


def reminded_time(callback: Callback) -> datetime | None:
    """The time a reminder is about: the start of the booked slot (what the customer was
    told), for a scheduled callback; None for an ASAP one (no reminders)."""
    if callback.kind != "scheduled" or callback.slot is None:
        return None
    return callback.slot.starts_at


def sync_reminders(session: Session, callback: Callback, now: datetime) -> None:
    """Bring this callback's planned reminders in line with it, in the caller's transaction."""
    at = reminded_time(callback) if callback.state in LIVE else None
    stale = update(SmsMessage).where(SmsMessage.callback_id == callback.id, SmsMessage.status == "scheduled")
    if at is not None:
        stale = stale.where(SmsMessage.about_at != at)
    reason = "the callback has moved to another time" if at is not None else "the callback is no longer booked"
    session.execute(stale.values(status="cancelled", error=reason, status_at=now))
    if at is None or not callback.sms_consent:
        return
    queue = callback.queue
    policy = reminder_policy(queue)
    zone = ZoneInfo(customer_zone(callback.phone, queue.timezone))
    wanted = plan(policy, at, now, zone)
    if not wanted:
        return
    existing = {
        row.kind: row
        for row in session.scalars(
            select(SmsMessage).where(SmsMessage.callback_id == callback.id, SmsMessage.about_at == at)
        )
    }
    for reminder in wanted:
        row = existing.get(reminder.kind)
        body = _body(callback, reminder)
        if row is None:
            session.add(
                SmsMessage(
                    callback_id=callback.id,
                    kind=reminder.kind,
                    to=callback.phone,
                    body=body,
                    status="scheduled",
                    created_at=now,
                    send_at=reminder.send_at,
                    about_at=reminder.about,
                )
            )
        elif row.status in ("scheduled", "cancelled"):
            # Moved away and back, or re-planned: the one row for this time, planned again.
            row.status, row.send_at, row.body, row.error, row.status_at = "scheduled", reminder.send_at, body, None, now
    session.flush()


def _body(callback: Callback, reminder: PlannedReminder) -> str:
    queue = callback.queue
    language = callback.locale or queue.language
    if reminder.about - reminder.send_at <= SOON:
        time_of_day = texts.format_time_of_day(reminder.about, queue.timezone)
        return texts.render(texts.REMINDER_SOON, language, name=queue.name, time=time_of_day)
    when = texts.format_when(reminder.about, queue.timezone, language)
    return texts.render(texts.REMINDER, language, name=queue.name, when=when)


def release_due(session: Session, now: datetime) -> int:
    """Planned reminders whose time has come: to the outbox (``pending``) if they still
    hold, else ``cancelled`` with the reason. Returns how many were released to send."""
    due = session.scalars(
        select(SmsMessage)
        .where(SmsMessage.status == "scheduled", SmsMessage.send_at <= now)
        .order_by(SmsMessage.send_at, SmsMessage.id)
        .limit(RELEASE_BATCH)
        .with_for_update(skip_locked=True)
    ).all()
    if not due:
        return 0
    ids = {m.callback_id for m in due if m.callback_id is not None}
    callbacks = {
        c.id: c
        for c in session.scalars(
            select(Callback).where(Callback.id.in_(ids)).options(joinedload(Callback.queue), joinedload(Callback.slot))
        ).unique()
    }
    released = 0
    for message in due:
        callback = callbacks.get(message.callback_id) if message.callback_id is not None else None
        assert message.about_at is not None and message.send_at is not None
        if callback is None:
            reason: str | None = "the callback is no longer booked"
        else:
            queue = callback.queue
            reason = why_not_send(
                message.about_at,
                message.send_at,
                reminded_time(callback),
                callback.state in LIVE,
                now,
                reminder_policy(queue).quiet,
                ZoneInfo(customer_zone(callback.phone, queue.timezone)),
            )
        if reason is None:
            message.status = "pending"
            released += 1
        else:
            message.status, message.error, message.status_at = "cancelled", reason, now
            log.info("reminder %d not sent: %s", message.id, reason)
    session.flush()
    return released

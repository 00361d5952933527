"""The text outbox: texts are queued in the transaction that decides them and sent by the
worker (never inline in a webhook), skipping numbers that opted out."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infra import metrics
from infra.clock import Clock
from infra.db import Database
from infra.models import Callback, Queue
from infra.settings import Settings
from infra.text_models import SmsMessage, SmsOptOut
from scheduler.phone import mask_phone
from sms.delivery import record_sent
from sms.reminders import release_due
from telephony.base import ProviderError
from telephony.registry import Providers

log = logging.getLogger(__name__)

SMS_CLAIM_TIMEOUT = timedelta(minutes=5)


def queue_text(
    session: Session, to: str, kind: str, now: datetime, body: str, *, callback_id: int | None = None
) -> None:
    """Put a text in the outbox, in the caller's transaction: the worker sends it."""
    session.add(SmsMessage(callback_id=callback_id, kind=kind, to=to, body=body, status="pending", created_at=now))


def _unclaim_texts(db: Database, message_ids: list[int]) -> None:
    with db.write() as session:
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.id.in_(message_ids), SmsMessage.status == "sending")
            .values(status="pending", claimed_at=None)
        )
    log.info("handed back %d texts not yet sent", len(message_ids))


# The one text a number that just opted out may still get: the confirmation carriers expect.
OPT_OUT_EXEMPT_KINDS = frozenset({"opt_out_confirmation"})


def sms_status_url(public_base_url: str, provider: str) -> str:
    """Where the provider reports the delivery of a text we send (sms.webhooks.sms_status)."""
    return f"{public_base_url.rstrip('/')}/webhooks/{provider}/sms/status"


def send_pending_sms(
    db: Database,
    providers: Providers,
    clock: Clock,
    settings: Settings,
    limit: int = 50,
    stopping: threading.Event | None = None,
) -> int:
    """The text outbox: send what handlers decided to send (never inline in a webhook).
    A text to a number that opted out is marked ``skipped`` with the reason, not sent.
    When ``stopping`` is set (the worker got SIGTERM) the texts claimed but not yet sent
    go back to the outbox for the next worker, rather than wait for this one."""
    now = clock.now()
    with db.write() as session:
        # A worker that died between claiming a text and recording the provider's answer
        # may or may not have sent it: mark it failed (visible) rather than risk a double text.
        interrupted = session.connection().execute(
            update(SmsMessage)
            .where(SmsMessage.status == "sending", SmsMessage.claimed_at < now - SMS_CLAIM_TIMEOUT)
            .values(status="failed", error="the worker stopped while sending; not resent to avoid a duplicate")
        )
        metrics.count_sms_failed(None, "interrupted", interrupted.rowcount)
        release_due(session, now)  # reminders whose time has come, if they still hold
        rows = session.execute(
            select(SmsMessage, Queue.caller_id, Queue.primary_provider, Callback.ref)
            .outerjoin(Callback, Callback.id == SmsMessage.callback_id)
            .outerjoin(Queue, Queue.id == Callback.queue_id)
            .where(SmsMessage.status == "pending")
            .order_by(SmsMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=SmsMessage)
        ).all()
        opted_out = set(session.scalars(select(SmsOptOut.phone).where(SmsOptOut.phone.in_({r[0].to for r in rows}))))
        claimed = []
        for message, queue_number, queue_provider, ref in rows:
            if message.to in opted_out and message.kind not in OPT_OUT_EXEMPT_KINDS:
                # Never sent, never silently dropped: visible in the outbox with the reason.
                message.status = "skipped"
                message.error = "the number opted out of texts (STOP)"
                continue
            message.status = "sending"
            message.claimed_at = now
            # A reply goes back on the channel and from the number the customer texted; a
            # callback's text from its queue's number and provider; else the defaults.
            sender = message.from_number or queue_number or settings.caller_id
            chosen = message.provider or queue_provider
            claimed.append((message.id, message.to, sender, message.body, chosen, message.kind, ref))
    for index, (message_id, to, sender, body, chosen, kind, ref) in enumerate(claimed):
        if stopping is not None and stopping.is_set():
            _unclaim_texts(db, [c[0] for c in claimed[index:]])
            break
        provider = chosen if chosen is not None and chosen in providers else providers.default
        try:
            status_url = sms_status_url(settings.public_base_url, provider)
            sent = providers.get(provider).send_sms(to, sender, body, status_url)
        except ProviderError as error:
            with db.write() as session:
                session.execute(
                    update(SmsMessage)
                    .where(SmsMessage.id == message_id)
                    .values(status="failed", provider=provider, error=error.message)
                )
            log.warning(
                "text %d (%s) to %s via %s failed: %s",
                message_id,
                kind,
                mask_phone(to),
                provider,
                error.message,
                extra={"callback": ref, "provider": provider},
            )
            metrics.count_sms_failed(provider, "send_error")
            continue
        metrics.count_sms_sent(provider)
        log.info(
            "text %d (%s) sent to %s via %s",
            message_id,
            kind,
            mask_phone(to),
            provider,
            extra={"callback": ref, "provider": provider},
        )
        log.debug("text %d body: %s", message_id, body, extra={"callback": ref})
        with db.write() as session:
            # Saves the id and applies a delivery report that came before it.
            record_sent(session, session.get_one(SmsMessage, message_id), provider, sent.message_id, clock.now())
    return len(claimed)

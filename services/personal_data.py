"""Personal data in the database: anonymising finished callbacks after their retention,
and a person's requests (everything we hold about a number; erase it).

The rules (which callbacks are due, what a scrubbed value looks like) are in
scheduler/retention.py; this module is their SQL. Anonymising keeps what reports count
(queue, source, kind, state, tags, unit, times, attempt outcomes and durations, the
events' steps and due times) and removes who the customer was: the number (a placeholder
that fits the column and the live-phone index), name, form fields, the texts both ways,
the attribution's session key, referrer and landing page (its UTM values stay), recording
URLs, and every mention of the number in events, webhooks and the event outbox.
Every function runs in the caller's write transaction.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Text, cast, delete, or_, select, update
from sqlalchemy.orm import InstrumentedAttribute, Session

from infra.account_models import AuditEntry, BlockedNumber
from infra.event_models import OutboxEvent
from infra.models import Attempt, Callback, CallbackEvent, IdempotencyRecord, Queue, ShortLink, WebhookReceipt
from infra.simulator_models import SimCall, SimCrmEvent, SimText
from infra.text_models import InboundText, InboundTextPart, SmsMessage, SmsOffer, SmsOptOut
from scheduler.attribution import anonymised
from scheduler.errors import PersonOnCall
from scheduler.lifecycle import LIVE_STATES, TERMINAL_STATES, State
from scheduler.retention import (
    ANONYMISED_PHONE_PREFIX,
    ANONYMISED_TEXT,
    anonymise_before,
    anonymised_phone,
    contains,
    phone_digest,
    phone_forms,
    retention_days,
    scrub_json,
    scrub_text,
)
from services.booking_service import cancel
from services.links import token_phone

BATCH = 500
ON_CALL = frozenset({State.DIALING.value, State.CONNECTED.value})
ANONYMISED_NUMBER = ANONYMISED_PHONE_PREFIX.rstrip(":")  # a text's number that belongs to no callback


def _secrets(phone: str, name: str | None) -> list[str]:
    found = [] if phone.startswith(ANONYMISED_PHONE_PREFIX) else phone_forms(phone)
    if name and len(name.strip()) >= 3:
        found.append(name.strip())
    return found


def anonymise_callbacks(session: Session, ids: Sequence[int], now: datetime) -> int:
    """Remove the personal data of these (finished) callbacks and of everything that
    hangs off them; their counts for reports stay as they were."""
    if not ids:
        return 0
    rows = session.execute(
        select(Callback.id, Callback.phone, Callback.name, Callback.attribution).where(Callback.id.in_(ids))
    ).all()
    secrets = {cid: _secrets(phone, name) for cid, phone, name, _ in rows}
    session.execute(
        update(Callback),
        [
            {
                "id": cid,
                "phone": anonymised_phone(cid),
                "name": None,
                "fields": [],
                "attribution": anonymised(attribution),
                "anonymised_at": now,
            }
            for cid, _, _, attribution in rows
        ],
    )
    changed: list[dict[str, Any]] = []
    for eid, cid, reason, payload in session.execute(
        select(CallbackEvent.id, CallbackEvent.callback_id, CallbackEvent.reason, CallbackEvent.payload).where(
            CallbackEvent.callback_id.in_(ids)
        )
    ):
        new_reason = scrub_text(reason, secrets[cid]) if reason else reason
        new_payload = scrub_json(payload or {}, secrets[cid])
        if new_reason != reason or new_payload != payload:
            changed.append({"id": eid, "reason": new_reason, "payload": new_payload})
    if changed:
        session.execute(update(CallbackEvent), changed)
    attempts = session.execute(
        select(Attempt.id, Attempt.callback_id, Attempt.error).where(Attempt.callback_id.in_(ids))
    ).all()
    if attempts:
        session.execute(
            update(Attempt),
            [
                {"id": aid, "recording_url": None, "error": scrub_text(error, secrets[cid]) if error else error}
                for aid, cid, error in attempts
            ],
        )
        of_attempt = {aid: cid for aid, cid, _ in attempts}
        receipts = session.execute(
            select(WebhookReceipt.id, WebhookReceipt.attempt_id, WebhookReceipt.event, WebhookReceipt.error).where(
                WebhookReceipt.attempt_id.in_(list(of_attempt))
            )
        ).all()
        if receipts:
            session.execute(
                update(WebhookReceipt),
                [
                    {
                        "id": rid,
                        "event": scrub_json(event, secrets[of_attempt[aid]]) if event is not None else None,
                        "error": scrub_text(error, secrets[of_attempt[aid]]) if error else error,
                    }
                    for rid, aid, event, error in receipts
                ],
            )
    texts = session.execute(select(SmsMessage.id, SmsMessage.callback_id).where(SmsMessage.callback_id.in_(ids))).all()
    if texts:
        session.execute(
            update(SmsMessage),
            [
                {"id": mid, "to": anonymised_phone(cid or 0), "body": ANONYMISED_TEXT, "error": None}
                for mid, cid in texts
            ],
        )
    inbound = session.execute(
        select(InboundText.id, InboundText.callback_id).where(InboundText.callback_id.in_(ids))
    ).all()
    if inbound:
        session.execute(
            update(InboundText),
            [{"id": tid, "from_": anonymised_phone(cid or 0), "body": ANONYMISED_TEXT} for tid, cid in inbound],
        )
    outbox = session.execute(
        select(OutboxEvent.id, OutboxEvent.callback_id, OutboxEvent.data).where(OutboxEvent.callback_id.in_(ids))
    ).all()
    if outbox:
        session.execute(
            update(OutboxEvent),
            [{"id": oid, "data": scrub_json(data or {}, secrets[cid or 0])} for oid, cid, data in outbox],
        )
    return len(secrets)


def anonymise_due(session: Session, default_days: int, now: datetime, batch: int = BATCH) -> int:
    """The daily retention pass, one batch: finished callbacks past their queue's retention,
    and texts that belong to no callback (and simulator rows) past the default one. Returns
    how many callbacks it anonymised (the worker runs it again while that is ``batch``)."""
    done = 0
    for queue_id, queue_days in session.execute(select(Queue.id, Queue.retention_days)).all():
        cutoff = anonymise_before(now, retention_days(default_days, queue_days))
        ids = list(
            session.scalars(
                select(Callback.id)
                .where(
                    Callback.queue_id == queue_id,
                    Callback.anonymised_at.is_(None),
                    Callback.updated_at < cutoff,
                    Callback.state.in_(sorted(s.value for s in TERMINAL_STATES)),
                )
                .limit(batch - done)
            )
        )
        done += anonymise_callbacks(session, ids, now)
        if done >= batch:
            return done
    cutoff = anonymise_before(now, default_days)
    session.execute(
        update(SmsMessage)
        .where(SmsMessage.callback_id.is_(None), SmsMessage.created_at < cutoff, SmsMessage.to != ANONYMISED_NUMBER)
        .values(to=ANONYMISED_NUMBER, body=ANONYMISED_TEXT, error=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(
        update(InboundText)
        .where(
            InboundText.callback_id.is_(None), InboundText.received_at < cutoff, InboundText.from_ != ANONYMISED_NUMBER
        )
        .values(from_=ANONYMISED_NUMBER, body=ANONYMISED_TEXT)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(InboundTextPart).where(InboundTextPart.received_at < cutoff))
    session.execute(delete(ShortLink).where(ShortLink.created_at < cutoff))  # a link names its number
    session.execute(delete(SimText).where(SimText.created_at < cutoff))
    session.execute(delete(SimCall).where(SimCall.created_at < cutoff))
    session.execute(delete(SimCrmEvent).where(SimCrmEvent.received_at < cutoff))
    return done


def _mentioning(columns: Iterable[InstrumentedAttribute[Any]], forms: list[str]) -> Any:
    """A WHERE clause: any of these text or JSON columns mentions any written form of the number."""
    return or_(*(cast(column, Text).contains(form) for column in columns for form in forms))


def erase_person(session: Session, phone: str, now: datetime, actor: str, secret_key: str) -> dict[str, int]:
    """An erasure request: cancel the number's live callbacks (seats go back, through the
    normal cancel), anonymise all its callbacks, and remove the number from every other
    table, except its opt-out (so that it is never texted again). The audit log records
    the request under a keyed hash of the number, never the number."""
    forms = phone_forms(phone)
    callbacks = session.execute(
        select(Callback.id, Callback.ref, Callback.state).where(Callback.phone == phone).with_for_update()
    ).all()
    if any(state in ON_CALL for _, _, state in callbacks):
        raise PersonOnCall("we are on a call with this number now; ask again once it has ended", {})
    live = {s.value for s in LIVE_STATES}
    for _, ref, state in callbacks:
        if state in live:
            cancel(session, ref, now, actor, reason="erasure request")
    session.flush()  # the cancels' own rows (events, texts) are scrubbed below too
    counts = {"callbacks": anonymise_callbacks(session, [cid for cid, _, _ in callbacks], now)}
    session.expire_all()
    counts["texts_sent"] = session.execute(
        update(SmsMessage)
        .where(SmsMessage.to == phone)
        .values(to=ANONYMISED_NUMBER, body=ANONYMISED_TEXT, error=None)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    counts["texts_received"] = session.execute(
        update(InboundText)
        .where(InboundText.from_ == phone)
        .values(from_=ANONYMISED_NUMBER, body=ANONYMISED_TEXT)
        .execution_options(synchronize_session=False)
    ).rowcount  # type: ignore[attr-defined]
    session.execute(delete(InboundTextPart).where(InboundTextPart.from_ == phone))
    session.execute(delete(SimText).where(or_(SimText.to == phone, SimText.from_ == phone)))
    session.execute(delete(SimCall).where(or_(SimCall.to == phone, SimCall.from_ == phone)))
    # The demo's stand-in CRM keeps the bodies it was sent (a real CRM is its owner's to erase).
    session.execute(delete(SimCrmEvent).where(_mentioning([SimCrmEvent.body], forms)))
    session.execute(delete(SmsOffer).where(SmsOffer.phone == phone))
    links = [
        code
        for code, token in session.execute(select(ShortLink.code, ShortLink.token))
        if token_phone(secret_key, token) == phone
    ]
    if links:
        session.execute(delete(ShortLink).where(ShortLink.code.in_(links)))
    counts["booking_links"] = len(links)
    counts["blocked_entries"] = session.execute(delete(BlockedNumber).where(BlockedNumber.prefix == phone)).rowcount  # type: ignore[attr-defined]
    for queue in session.scalars(select(Queue)):
        blocked = (queue.widget or {}).get("blocked_numbers") or []
        if phone in blocked:
            queue.widget = {**queue.widget, "blocked_numbers": [b for b in blocked if b != phone]}
            counts["blocked_entries"] += 1
    # Whatever else mentions the number: stored API answers (kept a day), outbox events of
    # no callback (a text from an unknown number), the audit log (a supervisor blocked it).
    # The events, call reports and outbox rows of its callbacks were scrubbed above; the
    # tables scanned here are small or filtered, as this runs in a write transaction.
    session.execute(delete(IdempotencyRecord).where(_mentioning([IdempotencyRecord.body], forms)))
    _scrub_rows(session, OutboxEvent, [OutboxEvent.data], forms, OutboxEvent.callback_id.is_(None))
    _scrub_rows(session, AuditEntry, [AuditEntry.target, AuditEntry.before, AuditEntry.after], forms)
    session.add(
        AuditEntry(
            at=now,
            actor=actor,
            action="person.erase",
            target=phone_digest(secret_key, phone),
            before=None,
            after=counts,
        )
    )
    return counts


def _scrub_rows(
    session: Session, model: Any, columns: list[InstrumentedAttribute[Any]], forms: list[str], *where: Any
) -> None:
    for row in session.scalars(select(model).where(*where, _mentioning(columns, forms))):
        for column in columns:
            value = getattr(row, column.key)
            if isinstance(value, str):
                setattr(row, column.key, scrub_text(value, forms))
            elif value is not None and contains(value, forms):
                setattr(row, column.key, scrub_json(value, forms))


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export_person(session: Session, phone: str, secret_key: str) -> dict[str, Any]:
    """Everything stored about a number, as one JSON document."""
    callbacks = session.scalars(select(Callback).where(Callback.phone == phone).order_by(Callback.id)).all()
    ids = [c.id for c in callbacks]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    for a in session.scalars(select(Attempt).where(Attempt.callback_id.in_(ids)).order_by(Attempt.id)):
        attempts[a.callback_id].append(
            {
                "number": a.number,
                "provider": a.provider,
                "requested_at": _iso(a.requested_at),
                "answered_at": _iso(a.answered_at),
                "ended_at": _iso(a.ended_at),
                "outcome": a.outcome,
                "answered_by": a.answered_by,
                "duration_seconds": a.duration_seconds,
                "recording_url": a.recording_url,
            }
        )
    sent = session.scalars(
        select(SmsMessage).where(or_(SmsMessage.to == phone, SmsMessage.callback_id.in_(ids))).order_by(SmsMessage.id)
    ).all()
    received = session.scalars(select(InboundText).where(InboundText.from_ == phone).order_by(InboundText.id)).all()
    opt_out = session.get(SmsOptOut, phone)
    blocked = [
        {"prefix": b.prefix, "reason": b.reason, "created_at": _iso(b.created_at)}
        for b in session.scalars(select(BlockedNumber).order_by(BlockedNumber.id))
        if phone.startswith(b.prefix)
    ]
    blocked += [
        {"prefix": prefix, "queue": queue.key}
        for queue in session.scalars(select(Queue).order_by(Queue.key))
        for prefix in (queue.widget or {}).get("blocked_numbers") or []
        if phone.startswith(prefix)
    ]
    links = [
        {"code": code, "queue": queue_key, "created_at": _iso(created), "expires_at": _iso(expires)}
        for code, token, queue_key, created, expires in session.execute(
            select(ShortLink.code, ShortLink.token, ShortLink.queue_key, ShortLink.created_at, ShortLink.expires_at)
        )
        if token_phone(secret_key, token) == phone
    ]
    offer = session.get(SmsOffer, phone)
    outbox = session.scalars(
        select(OutboxEvent)
        .where(
            or_(
                OutboxEvent.callback_id.in_(ids),
                OutboxEvent.callback_id.is_(None) & _mentioning([OutboxEvent.data], [phone]),
            )
        )
        .order_by(OutboxEvent.id)
    ).all()
    return {
        "phone": phone,
        "callbacks": [
            {
                "ref": c.ref,
                "queue": c.queue.key,
                "state": c.state,
                "kind": c.kind,
                "source": c.source,
                "name": c.name,
                "fields": c.fields,
                "tags": c.tags,
                "unit": c.unit,
                "locale": c.locale,
                "sms_consent": c.sms_consent,
                "sms_consent_channel": c.sms_consent_channel,
                "sms_consent_at": _iso(c.sms_consent_at),
                "sms_consent_wording": c.sms_consent_wording,
                "attribution": c.attribution,
                "slot_start": _iso(c.slot.starts_at) if c.slot else None,
                "created_at": _iso(c.created_at),
                "updated_at": _iso(c.updated_at),
                "events": [
                    {
                        "step": e.step,
                        "from_state": e.from_state,
                        "to_state": e.to_state,
                        "at": _iso(e.at),
                        "actor": e.actor,
                        "reason": e.reason,
                        "payload": e.payload,
                    }
                    for e in c.events
                ],
                "attempts": attempts[c.id],
            }
            for c in callbacks
        ],
        "texts_sent": [
            {
                "kind": m.kind,
                "to": m.to,
                "body": m.body,
                "status": m.status,
                "created_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
                "delivered_at": _iso(m.delivered_at),
            }
            for m in sent
        ],
        "texts_received": [
            {"to": t.to, "body": t.body, "received_at": _iso(t.received_at), "command": t.command} for t in received
        ],
        "sms_opt_out": (
            {"opted_out_at": _iso(opt_out.opted_out_at), "keyword": opt_out.keyword, "provider": opt_out.provider}
            if opt_out
            else None
        ),
        "blocked": blocked,
        "booking_links": links,
        "sms_offer": (
            {"starts": offer.starts, "offered_at": _iso(offer.offered_at), "expires_at": _iso(offer.expires_at)}
            if offer
            else None
        ),
        "events_outbox": [{"event_id": o.event_id, "type": o.type, "at": _iso(o.at), "data": o.data} for o in outbox],
    }

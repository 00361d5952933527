"""The event outbox: events written in the transaction of the change they tell of, then
fanned out to the subscriptions that want them.

Two ways in, one row shape:

- ``emit`` inserts an event at once, for code that writes with Core statements (a booking)
  and for events that are not a life-cycle step (an attempt's end, a reminder sent, a text
  received);
- ``emit_on_commit`` is for a step applied to an ORM ``Callback`` (services/transitions.py):
  the event is inserted just before that session commits, so that the callback it carries
  is the callback as the transaction leaves it (a rescheduled callback's new slot, set by
  the caller after the step), and a transaction that rolls back emits nothing.

An event row holds what the event alone knows (``data``): the callback's non-personal
fields and state as of the event, and what changed. The callback's personal fields
(phone, name, form fields) are read when the event is sent (events/payloads.py), so an
erased or anonymised callback is not sent on from a copy here.

``fan_out`` (the worker) makes one ``event_delivery`` row per event and subscription that
wants it. It takes events not yet fanned out, whatever their id, so an event whose
transaction committed after a later one's is not skipped (ids are not commit order).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table, event, insert, select, update
from sqlalchemy.orm import Session

from events.types import STEP_EVENTS
from infra.event_models import EventDelivery, EventSubscription, OutboxEvent
from infra.models import Callback

_OUTBOX: Table = OutboxEvent.__table__  # type: ignore[assignment]
_DELIVERY: Table = EventDelivery.__table__  # type: ignore[assignment]
INSERT_EVENT = insert(_OUTBOX)
FAN_OUT_BATCH = 500
_PENDING = "events.pending"  # session.info key: events waiting for the session's commit


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def callback_facts(callback: Callback) -> dict[str, Any]:
    """The callback's non-personal fields as they are now (what an event keeps of it)."""
    slot = callback.slot
    return {
        "ref": callback.ref,
        "queue": callback.queue.key,
        "kind": callback.kind,
        "source": callback.source,
        "state": callback.state,
        "slot_start": _iso(slot.starts_at if slot is not None else None),
        "slot_end": _iso(slot.ends_at if slot is not None else None),
        "due_at": _iso(callback.next_attempt_at),
        "attempts": callback.attempts,
        "tags": list(callback.tags or []),
        "unit": callback.unit,
        "locale": callback.locale,
        "sms_consent": callback.sms_consent,
        "created_at": _iso(callback.created_at),
    }


def emit(
    session: Session,
    type_: str,
    at: datetime,
    data: dict[str, Any],
    *,
    queue_id: int | None,
    callback_id: int | None,
) -> None:
    """Insert an event now, in the session's transaction."""
    session.connection().execute(INSERT_EVENT, event_row(type_, at, data, queue_id=queue_id, callback_id=callback_id))


def event_row(
    type_: str, at: datetime, data: dict[str, Any], *, queue_id: int | None, callback_id: int | None
) -> dict[str, Any]:
    """An outbox row's values (a booking on PostgreSQL writes it in its own statement)."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "at": at,
        "queue_id": queue_id,
        "callback_id": callback_id,
        "data": data,
        "fanned_out": False,
    }


def emit_for(session: Session, type_: str, callback: Callback, at: datetime, **data: Any) -> None:
    """An event about ``callback`` now, carrying its facts as they are at this moment."""
    emit(
        session,
        type_,
        at,
        {"callback": callback_facts(callback), **data},
        queue_id=callback.queue_id,
        callback_id=callback.id,
    )


@dataclass(frozen=True)
class _Pending:
    type: str
    callback: Callback
    at: datetime
    change: dict[str, Any]


def emit_step_on_commit(
    session: Session,
    callback: Callback,
    step: str,
    from_state: str | None,
    to_state: str,
    at: datetime,
    actor: str,
    reason: str | None,
    details: dict[str, Any],
) -> None:
    """If ``step`` is an event (events/types.STEP_EVENTS), emit it when the session commits."""
    type_ = STEP_EVENTS.get(step)
    if type_ is None:
        return
    change: dict[str, Any] = {"step": step, "from_state": from_state, "to_state": to_state}
    change |= {"actor": actor, "reason": reason}
    if details:
        change["details"] = details
    session.info.setdefault(_PENDING, []).append(_Pending(type_, callback, at, change))


@event.listens_for(Session, "before_commit")
def _write_pending(session: Session) -> None:
    pending: list[_Pending] = session.info.pop(_PENDING, [])
    if pending:
        session.flush()  # a callback made in this transaction has its id (and its row) now
    for item in pending:
        facts = callback_facts(item.callback)
        facts["state"] = item.change["to_state"]  # the state this event moved it to (a later step may move it on)
        emit(
            session,
            item.type,
            item.at,
            {"callback": facts, "change": item.change},
            queue_id=item.callback.queue_id,
            callback_id=item.callback.id,
        )


@event.listens_for(Session, "after_soft_rollback")
def _forget_pending(session: Session, _previous_transaction: Any) -> None:
    session.info.pop(_PENDING, None)


def fan_out(session: Session, now: datetime, limit: int = FAN_OUT_BATCH) -> int:
    """One delivery row per (event, subscription that wants it); returns the events handled.
    On PostgreSQL concurrent workers take different events (SKIP LOCKED); the unique
    (subscription, event) index would refuse a second row anyway."""
    events = session.execute(
        select(_OUTBOX.c.id, _OUTBOX.c.type, _OUTBOX.c.queue_id, _OUTBOX.c.callback_id)
        .where(_OUTBOX.c.fanned_out.is_(False))
        .order_by(_OUTBOX.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    ).all()
    if not events:
        return 0
    subscriptions = session.execute(
        select(EventSubscription.id, EventSubscription.event_types, EventSubscription.queue_id).where(
            EventSubscription.active.is_(True)
        )
    ).all()
    rows = [
        {
            "subscription_id": sub_id,
            "outbox_id": event_id,
            "callback_id": callback_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for event_id, type_, queue_id, callback_id in events
        for sub_id, types, sub_queue in subscriptions
        if type_ in types and (sub_queue is None or sub_queue == queue_id)
    ]
    if rows:
        session.execute(insert(_DELIVERY), rows)
    session.execute(update(_OUTBOX).where(_OUTBOX.c.id.in_([e.id for e in events])).values(fanned_out=True))
    return len(events)

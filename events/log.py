"""The delivery log: which events went (or did not go) to which subscription, with every
attempt, for the JSON API and the console; and redelivery of a settled delivery.

A time range ``[since, until)`` selects the deliveries made in it or attempted in it
(either end may be open), so that an old event retried today shows in today's log. Pages
run newest first by delivery id; a page's cursor is the last id it showed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, or_, select, update
from sqlalchemy.orm import Session

from events.delivery_errors import stored_code
from infra.audit import audit
from infra.event_models import DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent
from infra.models import Callback
from scheduler.errors import DomainError

STATUSES = ("pending", "delivered", "failed")
SETTLED = ("delivered", "failed")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200


class DeliveryNotFound(DomainError):
    """No event delivery has that id."""

    type = "delivery_not_found"


@dataclass(frozen=True)
class LogFilter:
    subscription_id: int | None = None
    status: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class AttemptView:
    at: datetime
    http_status: int | None
    error: str | None  # one of events/delivery_errors.py's CODES, or None
    duration_ms: int
    succeeded: bool


@dataclass(frozen=True)
class DeliveryView:
    id: int
    subscription_id: int
    subscription_name: str
    event_id: str
    event_type: str
    event_at: datetime
    callback_ref: str | None
    status: str
    attempts: int  # in the current round (a redelivery starts a new one)
    next_attempt_at: datetime | None
    created_at: datetime
    settled_at: datetime | None
    log: list[AttemptView]  # every attempt, of every round, oldest first


@dataclass(frozen=True)
class LogPage:
    deliveries: list[DeliveryView]
    next_cursor: int | None  # None: this is the last page


def _in_range(column: Any, since: datetime | None, until: datetime | None) -> list[ColumnElement[bool]]:
    bounds: list[ColumnElement[bool]] = []
    if since is not None:
        bounds.append(column >= since)
    if until is not None:
        bounds.append(column < until)
    return bounds


def _conditions(log_filter: LogFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if log_filter.subscription_id is not None:
        conditions.append(EventDelivery.subscription_id == log_filter.subscription_id)
    if log_filter.status is not None:
        conditions.append(EventDelivery.status == log_filter.status)
    if log_filter.since is not None or log_filter.until is not None:
        attempted = exists().where(
            DeliveryAttempt.delivery_id == EventDelivery.id,
            *_in_range(DeliveryAttempt.at, log_filter.since, log_filter.until),
        )
        if log_filter.subscription_id is not None:  # lets the (subscription_id, at) index narrow it
            attempted = attempted.where(DeliveryAttempt.subscription_id == log_filter.subscription_id)
        made = and_(*_in_range(EventDelivery.created_at, log_filter.since, log_filter.until))
        conditions.append(or_(made, attempted))
    return conditions


def list_deliveries(
    session: Session, log_filter: LogFilter, limit: int = DEFAULT_LIMIT, cursor: int | None = None
) -> LogPage:
    """A page of deliveries, newest first; two queries whatever the page's size."""
    limit = max(1, min(limit, MAX_LIMIT))
    conditions = _conditions(log_filter)
    if cursor is not None:
        conditions.append(EventDelivery.id < cursor)
    rows = session.execute(
        select(EventDelivery, OutboxEvent, EventSubscription.name, Callback.ref)
        .join(OutboxEvent, OutboxEvent.id == EventDelivery.outbox_id)
        .join(EventSubscription, EventSubscription.id == EventDelivery.subscription_id)
        .outerjoin(Callback, Callback.id == OutboxEvent.callback_id)
        .where(*conditions)
        .order_by(EventDelivery.id.desc())
        .limit(limit + 1)
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    attempts: dict[int, list[AttemptView]] = {row[0].id: [] for row in rows}
    if attempts:
        for attempt in session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.delivery_id.in_(list(attempts)))
            .order_by(DeliveryAttempt.at, DeliveryAttempt.id)
        ):
            attempts[attempt.delivery_id].append(
                AttemptView(
                    attempt.at,
                    attempt.http_status,
                    stored_code(attempt.error),  # a code, older phrases too (events/delivery_errors.py)
                    attempt.duration_ms,
                    attempt.succeeded,
                )
            )
    deliveries = [
        DeliveryView(
            id=delivery.id,
            subscription_id=delivery.subscription_id,
            subscription_name=name,
            event_id=event.event_id,
            event_type=event.type,
            event_at=event.at,
            callback_ref=ref,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            created_at=delivery.created_at,
            settled_at=delivery.settled_at,
            log=attempts[delivery.id],
        )
        for delivery, event, name, ref in rows
    ]
    return LogPage(deliveries, deliveries[-1].id if more else None)


def get_delivery(session: Session, delivery_id: int) -> DeliveryView:
    """One delivery as the log shows it: the page of one that starts at it."""
    page = list_deliveries(session, LogFilter(), limit=1, cursor=delivery_id + 1)
    if not page.deliveries or page.deliveries[0].id != delivery_id:
        raise DeliveryNotFound("no event delivery has this id", {"id": delivery_id})
    return page.deliveries[0]


def redeliver(session: Session, delivery_id: int, now: datetime, actor: str) -> bool:
    """Send a delivered or failed delivery again, from a new round of attempts (its log is
    kept). A pending one is already on its way: nothing changes. True when it was settled
    and is pending again; ``DeliveryNotFound`` when there is no such delivery."""
    delivery = session.get(EventDelivery, delivery_id)
    if delivery is None:
        raise DeliveryNotFound("no event delivery has this id", {"id": delivery_id})
    before = delivery.status
    # Conditional, like the sender's own claims: only a settled delivery goes back.
    moved = session.execute(
        update(EventDelivery)
        .where(EventDelivery.id == delivery_id, EventDelivery.status.in_(SETTLED))
        .values(
            status="pending",
            attempts=0,
            next_attempt_at=now,
            settled_at=None,
            lease_owner=None,
            lease_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    session.expire(delivery)
    if moved.rowcount != 1:  # type: ignore[attr-defined]
        return False
    audit(
        session,
        actor,
        "event_delivery.redeliver",
        f"delivery {delivery_id} (subscription {delivery.subscription_id})",
        now,
        before={"status": before},
        after={"status": "pending"},
    )
    return True

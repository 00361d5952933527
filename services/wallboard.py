"""The live wallboard's reading of the database: each queue's facts for its row
(scheduler/wallboard.py), the change stamp its streams watch, and the ECBT samples the
worker records for the trend.

Reads stay a fixed number of queries per queue (no query per callback). The change stamp
is one small query of maxima on indexed keys: any web process or worker that books,
dials, connects, texts or delivers an event moves it, so a process that watches it sees
changes made anywhere in the cluster.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import and_, delete, func, or_, select
from sqlalchemy.orm import Session

from infra.db import upsert_into
from infra.event_models import DeliveryAttempt, EventDelivery
from infra.models import AgentFigureReport, Attempt, Callback, CallbackEvent, Queue
from infra.text_models import SmsMessage
from infra.wallboard_models import EcbtSample
from scheduler.agents import Staffing
from scheduler.lifecycle import DUE_STATES, State
from scheduler.reports import local_midnight
from scheduler.wallboard import (
    SAMPLE_RETENTION,
    QueueFacts,
    Row,
    bucket_of,
    failing_since,
    row,
    trend_since,
)
from services.agent_figures import queue_staffing
from services.asap_promise import asap_promise_with
from services.reports import load_rows

FAILED_TEXTS = ("failed", "undelivered")

Stamp = tuple[object, ...]


def change_stamp(session: Session) -> Stamp:
    """What moves whenever a wallboard figure may have changed: the newest life-cycle
    event, attempt, agent figures, text, delivery try and ECBT sample."""
    return tuple(
        session.execute(
            select(
                select(func.max(CallbackEvent.id)).scalar_subquery(),
                select(func.max(Attempt.id)).scalar_subquery(),
                select(func.max(AgentFigureReport.received_at)).scalar_subquery(),
                select(func.max(SmsMessage.id)).scalar_subquery(),
                select(func.max(DeliveryAttempt.id)).scalar_subquery(),
                select(func.max(EcbtSample.id)).scalar_subquery(),
                select(func.count(Queue.id)).scalar_subquery(),
            )
        ).one()
    )


def ecbt_seconds(session: Session, queue: Queue, now: datetime, max_age: timedelta) -> int:
    """The wait an ASAP callback booked now from the web or the API would be told."""
    return _wait(session, queue, now, queue_staffing(session, queue, now, max_age))


def _wait(session: Session, queue: Queue, now: datetime, staffing: Staffing) -> int:
    promise = asap_promise_with(session, queue, now, None, staffing)
    return max(int((promise.due - now).total_seconds()), 0)


def _failing(session: Session, now: datetime) -> tuple[dict[int, int], dict[int, int]]:
    since = failing_since(now)
    texts = dict(
        session.execute(
            select(Callback.queue_id, func.count())
            .select_from(SmsMessage)
            .join(Callback, Callback.id == SmsMessage.callback_id)
            .where(
                SmsMessage.status.in_(FAILED_TEXTS),
                func.coalesce(SmsMessage.status_at, SmsMessage.created_at) >= since,
            )
            .group_by(Callback.queue_id)
        ).all()
    )
    deliveries = dict(
        session.execute(
            select(Callback.queue_id, func.count())
            .select_from(EventDelivery)
            .join(Callback, Callback.id == EventDelivery.callback_id)
            .where(
                or_(
                    and_(EventDelivery.status == "failed", EventDelivery.settled_at >= since),
                    and_(EventDelivery.status == "pending", EventDelivery.attempts > 0),
                )
            )
            .group_by(Callback.queue_id)
        ).all()
    )
    return texts, deliveries


def queue_facts(session: Session, now: datetime, max_age: timedelta) -> list[QueueFacts]:
    """Every queue's facts, by key."""
    queues = list(session.scalars(select(Queue).order_by(Queue.key)))
    due: dict[int, list[datetime]] = defaultdict(list)
    for queue_id, at in session.execute(
        select(Callback.queue_id, Callback.next_attempt_at)
        .where(Callback.state.in_(DUE_STATES), Callback.next_attempt_at.is_not(None))
        .order_by(Callback.next_attempt_at)
    ):
        if at is not None:
            due[queue_id].append(at)
    on_call: dict[tuple[int, str], int] = {
        (queue_id, state): count
        for queue_id, state, count in session.execute(
            select(Callback.queue_id, Callback.state, func.count())
            .where(Callback.state.in_((State.DIALING.value, State.CONNECTED.value)))
            .group_by(Callback.queue_id, Callback.state)
        )
    }
    samples: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for queue_id, bucket, seconds in session.execute(
        select(EcbtSample.queue_id, EcbtSample.bucket, EcbtSample.wait_seconds).where(
            EcbtSample.bucket >= trend_since(now)
        )
    ):
        samples[queue_id].append((bucket, seconds))
    texts, deliveries = _failing(session, now)
    facts = []
    for queue in queues:
        zone = ZoneInfo(queue.timezone)
        today = now.astimezone(zone).date()
        callbacks, _offers = load_rows(
            session, queue, local_midnight(today, zone), local_midnight(today + timedelta(days=1), zone)
        )
        staffing = queue_staffing(session, queue, now, max_age)
        facts.append(
            QueueFacts(
                key=queue.key,
                name=queue.name,
                timezone=queue.timezone,
                due_times=due[queue.id],
                dialing=on_call.get((queue.id, State.DIALING.value), 0),
                connected=on_call.get((queue.id, State.CONNECTED.value), 0),
                staffing=staffing,
                ecbt_seconds=_wait(session, queue, now, staffing),
                today=callbacks,
                samples=samples[queue.id],
                texts_failing=texts.get(queue.id, 0),
                deliveries_failing=deliveries.get(queue.id, 0),
            )
        )
    return facts


def rows(session: Session, now: datetime, max_age: timedelta) -> list[Row]:
    """The wallboard at ``now``: a row per queue, by key."""
    return [row(facts, now) for facts in queue_facts(session, now, max_age)]


def record_samples(session: Session, now: datetime, max_age: timedelta) -> int:
    """Offer every queue's ECBT as the sample of ``now``'s bucket; a bucket already sampled
    (by another worker, or this one a moment ago) keeps its sample. Returns how many were new."""
    bucket = bucket_of(now)
    taken = set(session.scalars(select(EcbtSample.queue_id).where(EcbtSample.bucket == bucket)))
    made = 0
    for queue in session.scalars(select(Queue).order_by(Queue.id)):
        if queue.id in taken:
            continue
        inserted = session.execute(
            upsert_into(session, EcbtSample)
            .values(
                queue_id=queue.id,
                bucket=bucket,
                wait_seconds=ecbt_seconds(session, queue, now, max_age),
                recorded_at=now,
            )
            .on_conflict_do_nothing(index_elements=["queue_id", "bucket"])
            .returning(EcbtSample.id)  # a row back only when this insert made it (rowcount is -1 on psycopg)
        ).first()
        made += inserted is not None
    return made


def forget_old_samples(session: Session, now: datetime) -> int:
    """Samples past SAMPLE_RETENTION (the trend reads four hours)."""
    done = session.execute(
        delete(EcbtSample)
        .where(EcbtSample.bucket < now - SAMPLE_RETENTION)
        .execution_options(synchronize_session=False)
    )
    return int(done.rowcount or 0)  # type: ignore[attr-defined]

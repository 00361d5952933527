"""The worker's side of event push: fan events out, claim what is due, POST it, settle it.

- A delivery is claimed with a lease (``lease_until``), in a short write transaction, and
  POSTed outside any transaction by a thread of the sender's own pool; its result is
  settled in another short transaction. A worker killed mid-POST leaves a lease that runs
  out, and the delivery is claimed again (at-least-once: receivers dedupe by event id).
- Order per subscription and callback: a delivery is not claimed while an earlier event
  of the same callback is still pending for that subscription (in flight or waiting to be
  retried). An event given up on (``failed``) no longer holds the later ones back.
- Isolation: at most ``EVENT_CONCURRENCY`` POSTs in flight per subscription and
  ``EVENT_SENDER_THREADS`` in all, each bounded by ``EVENT_TIMEOUT_SECONDS``; ``tick`` never
  waits for a POST, so a dead receiver slows neither the dialer (its own threads) nor
  the other subscriptions (their own share of the pool).
- Only a 2xx acknowledges; anything else (another status, a redirect, a timeout, a
  refused or dropped connection) is retried ``EVENT_RETRY_SECONDS`` later, up to
  ``EVENT_MAX_ATTEMPTS`` attempts in all, then the delivery is ``failed`` (kept, shown in
  the log, and may be redelivered by hand).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import delete, func, or_, select
from sqlalchemy.orm import Session, aliased

from app import metrics
from app.clock import Clock
from app.db import Database
from app.models import DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent
from app.settings import Settings
from events import payloads
from events.outbox import FAN_OUT_BATCH, fan_out
from events.retry import next_attempt_after
from events.signing import signed_headers

log = logging.getLogger(__name__)

LEASE_MARGIN = timedelta(seconds=5)  # beyond the POST's own time limits
USER_AGENT = "callback-scheduler-events/1"


@dataclass(frozen=True)
class Job:
    delivery_id: int
    subscription_id: int
    url: str
    secret: str
    content_type: str
    body: bytes
    event_id: str
    event_type: str


@dataclass(frozen=True)
class Result:
    http_status: int | None
    error: str | None
    duration_ms: int

    @property
    def succeeded(self) -> bool:
        return self.http_status is not None and 200 <= self.http_status < 300


def _lease(settings: Settings) -> timedelta:
    # A connect and a read, each up to the timeout, the settling, then the margin.
    return timedelta(seconds=3 * settings.event_timeout_seconds) + LEASE_MARGIN


def claim(session: Session, now: datetime, settings: Settings, owner: str, free: int) -> list[Job]:
    """Lease up to ``free`` due deliveries, at most ``event_concurrency`` in flight per
    subscription, and render them. Later events of a callback wait for earlier ones."""
    if free <= 0:
        return []
    in_flight = dict(
        session.execute(
            select(EventDelivery.subscription_id, func.count())
            .where(EventDelivery.status == "pending", EventDelivery.lease_until >= now)
            .group_by(EventDelivery.subscription_id)
        ).all()
    )
    d = aliased(EventDelivery)
    e = aliased(EventDelivery)
    earlier_pending = (
        select(e.id)
        .where(
            e.subscription_id == d.subscription_id,
            e.callback_id == d.callback_id,
            e.outbox_id < d.outbox_id,
            e.status == "pending",
        )
        .exists()
    )
    candidates = session.scalars(
        select(d)
        .where(
            d.status == "pending",
            d.next_attempt_at <= now,
            or_(d.lease_until.is_(None), d.lease_until < now),
            ~earlier_pending,
        )
        .order_by(d.outbox_id)
        .limit(free * 4)
        .with_for_update(skip_locked=True, of=d)
    ).all()
    jobs: list[Job] = []
    until = now + _lease(settings)
    for delivery in candidates:
        if len(jobs) >= free:
            break
        taken = in_flight.get(delivery.subscription_id, 0)
        if taken >= settings.event_concurrency:
            continue
        subscription = session.get_one(EventSubscription, delivery.subscription_id)
        event = session.get_one(OutboxEvent, delivery.outbox_id)
        in_flight[delivery.subscription_id] = taken + 1
        delivery.lease_owner, delivery.lease_until = owner, until
        document = payloads.document(session, event)
        jobs.append(
            Job(
                delivery_id=delivery.id,
                subscription_id=subscription.id,
                url=subscription.url,
                secret=subscription.secret,
                content_type=payloads.CONTENT_TYPES[subscription.format],
                body=payloads.render(document, subscription.format),
                event_id=event.event_id,
                event_type=event.type,
            )
        )
    return jobs


def work_waiting(session: Session, now: datetime) -> tuple[bool, bool]:
    """(events not fanned out yet, deliveries due and not leased): two indexed lookups."""
    fresh = session.scalar(select(OutboxEvent.id).where(OutboxEvent.fanned_out.is_(False)).limit(1))
    due = session.scalar(
        select(EventDelivery.id)
        .where(
            EventDelivery.status == "pending",
            EventDelivery.next_attempt_at <= now,
            or_(EventDelivery.lease_until.is_(None), EventDelivery.lease_until < now),
        )
        .limit(1)
    )
    return fresh is not None, due is not None


def settle(session: Session, job: Job, result: Result, now: datetime, settings: Settings, owner: str) -> str:
    """Log the attempt and move the delivery on; returns what became of it: delivered,
    retrying, failed, or stale (its lease ran out and another worker took it over: the
    attempt is logged, the delivery left to its new owner)."""
    delivery = session.get_one(EventDelivery, job.delivery_id, with_for_update=True)
    session.add(
        DeliveryAttempt(
            delivery_id=delivery.id,
            subscription_id=job.subscription_id,
            at=now,
            http_status=result.http_status,
            error=result.error[:500] if result.error else None,
            duration_ms=result.duration_ms,
            succeeded=result.succeeded,
        )
    )
    if delivery.status != "pending" or delivery.lease_owner != owner:
        return "stale"
    delivery.lease_owner, delivery.lease_until = None, None
    delivery.attempts += 1
    if result.succeeded:
        delivery.status, delivery.settled_at = "delivered", now
        return "delivered"
    retry_at = next_attempt_after(delivery.attempts, now, settings.event_max_attempts, settings.event_retry_seconds)
    if retry_at is None:
        delivery.status, delivery.settled_at = "failed", now
        return "failed"
    delivery.next_attempt_at = retry_at
    return "retrying"


def post(http: requests.Session, job: Job, timeout: float, timestamp: int) -> Result:
    headers = signed_headers(job.secret, timestamp, job.body, job.event_id, job.event_type)
    headers |= {"Content-Type": job.content_type, "User-Agent": USER_AGENT}
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        response = http.post(job.url, data=job.body, headers=headers, timeout=timeout, allow_redirects=False)
        status = response.status_code
        response.close()
        if not 200 <= status < 300:
            error = f"HTTP {status}"
    except requests.Timeout:
        error = f"no answer within {timeout:g} s"
    except requests.ConnectionError as exc:
        error = f"connection failed: {type(exc).__name__}: {exc}"
    except requests.RequestException as exc:
        error = f"{type(exc).__name__}: {exc}"
    return Result(status, error, int((time.monotonic() - started) * 1000))


class EventSender:
    """One per worker process: ``tick`` (every second) hands due deliveries to its threads."""

    def __init__(self, db: Database, clock: Clock, settings: Settings, owner: str) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.owner = owner
        self.http = requests.Session()
        self._pool = ThreadPoolExecutor(settings.event_sender_threads, thread_name_prefix="event-sender")
        self._lock = threading.Lock()
        self._in_flight = 0
        self._idle = threading.Condition(self._lock)
        self.outcomes: dict[str, int] = {}  # what became of the deliveries this process settled

    def tick(self) -> int:
        """Fan out new events, then claim and hand over what is due; returns how many were handed over."""
        with self.db.read() as session:  # most ticks find nothing: no write transaction then
            fresh, due = work_waiting(session, self.clock.now())
        while fresh:
            with self.db.write() as session:
                fresh = fan_out(session, self.clock.now()) == FAN_OUT_BATCH
                due = True
        with self._lock:
            free = self.settings.event_sender_threads - self._in_flight
        if free <= 0 or not due:
            return 0
        with self.db.write() as session:
            jobs = claim(session, self.clock.now(), self.settings, self.owner, free)
        with self._lock:
            self._in_flight += len(jobs)
        for job in jobs:
            self._pool.submit(self._deliver, job)
        return len(jobs)

    def _deliver(self, job: Job) -> None:
        try:
            result = post(self.http, job, self.settings.event_timeout_seconds, int(self.clock.now().timestamp()))
            with self.db.write() as session:
                outcome = settle(session, job, result, self.clock.now(), self.settings, self.owner)
            self.outcomes[outcome] = self.outcomes.get(outcome, 0) + 1
            metrics.count_crm_delivery(outcome)
            if outcome != "delivered":
                log.info(
                    "event %s to subscription %d: %s (%s)", job.event_id, job.subscription_id, outcome, result.error
                )
        except Exception:  # the lease runs out and another tick tries again
            log.exception("event %s to subscription %d: not settled", job.event_id, job.subscription_id)
        finally:
            with self._lock:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no POST is in flight (tests, a one-pass worker, shutdown)."""
        with self._lock:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def close(self) -> None:
        """Stop: POSTs in flight finish (each bounded by the timeout) and are settled."""
        self._pool.shutdown(wait=True)
        self.http.close()


def forget_old(session: Session, now: datetime, days: int) -> int:
    """Settled deliveries (with their attempt log) and fanned-out events older than the
    retention; an event still pending for some subscription is kept."""
    cutoff = now - timedelta(days=days)
    removed = session.execute(
        delete(EventDelivery).where(EventDelivery.status != "pending", EventDelivery.settled_at < cutoff)
    ).rowcount  # type: ignore[attr-defined]
    still_wanted = select(EventDelivery.id).where(EventDelivery.outbox_id == OutboxEvent.id).exists()
    session.execute(delete(OutboxEvent).where(OutboxEvent.fanned_out.is_(True), OutboxEvent.at < cutoff, ~still_wanted))
    return int(removed)

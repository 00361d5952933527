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
- Targets: each POST resolves the subscription's host once, checks every address
  (events/address_rules.py: public, or in ``EVENT_TARGETS_ALLOWED``) and connects to the
  address it checked (events/targets.py), never following a redirect. A refused one is
  logged as ``target_not_allowed``, with nothing sent.
- The attempt log holds one of events/delivery_errors.py's codes for a failure (refused,
  dropped, TLS, a name with no address, no answer...), never an exception's text: the
  target rule already keeps the worker's own network out of reach, and the code is what
  the receiver's owner needs to fix it. The worker's own log has the details.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta

import requests
from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from events import delivery_errors, payloads
from events.outbox import FAN_OUT_BATCH, fan_out
from events.retry import next_attempt_after
from events.signing import signed_headers
from events.targets import PinnedAdapter, Resolver, TargetNotAllowed, TargetPolicy, system_resolver, vet
from infra import metrics
from infra.clock import Clock
from infra.db import Database
from infra.event_models import DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent
from infra.settings import Settings

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
    subscription, and render them. Later events of a callback wait for earlier ones.
    A handful of statements whatever the number: candidates, one read of each table the
    payloads need, one UPDATE for the leases."""
    if free <= 0:
        return []
    subscriptions = {s.id: s for s in session.scalars(select(EventSubscription).where(EventSubscription.active))}
    if not subscriptions:
        return []  # a paused subscription's deliveries wait
    in_flight = dict(
        session.execute(
            select(EventDelivery.subscription_id, func.count())
            .where(EventDelivery.status == "pending", EventDelivery.lease_until >= now)
            .group_by(EventDelivery.subscription_id)
        ).all()
    )
    room = {
        sub_id: settings.event_concurrency - in_flight.get(sub_id, 0)
        for sub_id in subscriptions
        if in_flight.get(sub_id, 0) < settings.event_concurrency
    }
    if not room:
        return []
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
    candidates = session.execute(
        select(d.id, d.subscription_id, d.outbox_id)
        .where(
            d.subscription_id.in_(list(room)),
            d.status == "pending",
            d.next_attempt_at <= now,
            or_(d.lease_until.is_(None), d.lease_until < now),
            ~earlier_pending,
        )
        .order_by(d.outbox_id)
        .limit(2 * min(free, sum(room.values())))
        .with_for_update(skip_locked=True, of=d)
    ).all()
    chosen: list[tuple[int, int, int]] = []
    for delivery_id, sub_id, outbox_id in candidates:
        if len(chosen) < free and room[sub_id] > 0:
            room[sub_id] -= 1
            chosen.append((delivery_id, sub_id, outbox_id))
    if not chosen:
        return []
    session.execute(
        update(EventDelivery)
        .where(EventDelivery.id.in_([c[0] for c in chosen]))
        .values(lease_owner=owner, lease_until=now + _lease(settings))
    )
    events = {o.id: o for o in session.scalars(select(OutboxEvent).where(OutboxEvent.id.in_({c[2] for c in chosen})))}
    loaded = payloads.preload(session, events.values())  # held here, so payloads' lookups hit the session
    jobs = []
    for delivery_id, sub_id, outbox_id in chosen:
        subscription, event = subscriptions[sub_id], events[outbox_id]
        jobs.append(
            Job(
                delivery_id=delivery_id,
                subscription_id=sub_id,
                url=subscription.url,
                secret=subscription.secret,
                content_type=payloads.CONTENT_TYPES[subscription.format],
                body=payloads.render(payloads.document(session, event), subscription.format),
                event_id=event.event_id,
                event_type=event.type,
            )
        )
    del loaded
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


def settle(
    session: Session, finished: list[tuple[Job, Result]], now: datetime, settings: Settings, owner: str
) -> list[str]:
    """Log the attempts and move their deliveries on, in one transaction; returns what became
    of each: delivered, retrying, failed, or stale (its lease ran out and another worker
    took it over: the attempt is logged, the delivery left to its new owner)."""
    ids = [job.delivery_id for job, _ in finished]
    deliveries = {
        d.id: d for d in session.scalars(select(EventDelivery).where(EventDelivery.id.in_(ids)).with_for_update())
    }
    outcomes = []
    for job, result in finished:
        session.add(
            DeliveryAttempt(
                delivery_id=job.delivery_id,
                subscription_id=job.subscription_id,
                at=now,
                http_status=result.http_status,
                error=result.error[:500] if result.error else None,
                duration_ms=result.duration_ms,
                succeeded=result.succeeded,
            )
        )
        delivery = deliveries.get(job.delivery_id)
        if delivery is None or delivery.status != "pending" or delivery.lease_owner != owner:
            outcomes.append("stale")
            continue
        delivery.lease_owner, delivery.lease_until = None, None
        delivery.attempts += 1
        retry_at = next_attempt_after(delivery.attempts, now, settings.event_max_attempts, settings.event_retry_seconds)
        if result.succeeded:
            delivery.status, delivery.settled_at = "delivered", now
            outcomes.append("delivered")
        elif retry_at is None:
            delivery.status, delivery.settled_at = "failed", now
            outcomes.append("failed")
        else:
            delivery.next_attempt_at = retry_at
            outcomes.append("retrying")
    return outcomes


def new_http() -> requests.Session:
    """The sender's HTTP client: it connects to the address ``vet`` checked (PinnedAdapter)."""
    http = requests.Session()
    http.trust_env = False  # no proxy (it would resolve the name again) nor its look-up per POST
    for prefix in ("http://", "https://"):
        http.mount(prefix, PinnedAdapter())
    return http


def post(http: requests.Session, job: Job, timeout: float, timestamp: int, targets: TargetPolicy) -> Result:
    """POST one event to the address its host resolves to now, if that address may be sent
    to. ``http`` must be ``new_http()``'s (or mount PinnedAdapter)."""
    headers = signed_headers(job.secret, timestamp, job.body, job.event_id, job.event_type)
    headers |= {"Content-Type": job.content_type, "User-Agent": USER_AGENT}
    started = time.monotonic()
    status: int | None = None
    error: str | None = None
    try:
        target = vet(job.url, targets)
        headers["Host"] = target.host_header
        response = http.post(target.url, data=job.body, headers=headers, timeout=timeout, allow_redirects=False)
        status = response.status_code
        response.close()
        if not 200 <= status < 300:
            error = delivery_errors.HTTP_ERROR
    except TargetNotAllowed as exc:
        error = delivery_errors.TARGET_NOT_ALLOWED
        log.warning("event %s to subscription %d not sent: %s", job.event_id, job.subscription_id, exc.details)
    except Exception as exc:  # refused, unreachable, dropped, TLS, a name with no address, a timeout
        error = delivery_errors.code_of(exc)
        log.info("event %s to subscription %d: %s: %r", job.event_id, job.subscription_id, error, exc)
    return Result(status, error, int((time.monotonic() - started) * 1000))


POLL_SECONDS = 0.2  # how long the loop sleeps when nothing is due and no POST has ended


class EventSender:
    """One per worker process. ``run`` is its loop (the worker's ``deliver_events`` tick);
    ``tick`` is one pass of it: settle the POSTs that ended, fan out new events, claim what
    is due and hand it to the sender's threads. A pass never waits for a POST, and a POST
    that ends wakes the loop, so a fast receiver gets the next events at once."""

    def __init__(
        self, db: Database, clock: Clock, settings: Settings, owner: str, resolve: Resolver = system_resolver
    ) -> None:
        self.db = db
        self.clock = clock
        self.settings = settings
        self.owner = owner
        self.targets = TargetPolicy.of(settings.event_targets_allowed, resolve)
        self.http = new_http()
        self._pool = ThreadPoolExecutor(settings.event_sender_threads, thread_name_prefix="event-sender")
        self._running: dict[Future[Result], Job] = {}  # touched by the loop's thread only
        self._ended = threading.Event()

    def run(self, stopping: threading.Event, window: float | None = None) -> None:
        """Deliver until ``stopping`` (``window`` seconds if given; 0: one pass)."""
        until = None if window is None else time.monotonic() + window
        while not stopping.is_set():
            handed = self.tick()
            if until is not None and time.monotonic() >= until:
                return
            if not handed:
                self._ended.wait(POLL_SECONDS)
                self._ended.clear()

    def tick(self) -> int:
        """One pass; returns how many deliveries it handed over."""
        self._settle_ended()
        with self.db.read() as session:  # most passes find nothing: no write transaction then
            fresh, due = work_waiting(session, self.clock.now())
        while fresh:
            with self.db.write() as session:
                fresh = fan_out(session, self.clock.now()) == FAN_OUT_BATCH
                due = True
        free = self.settings.event_sender_threads - len(self._running)
        if free <= 0 or not due:
            return 0
        with self.db.write() as session:
            jobs = claim(session, self.clock.now(), self.settings, self.owner, free)
        for job in jobs:
            future = self._pool.submit(self._post, job)
            self._running[future] = job
            future.add_done_callback(lambda _f: self._ended.set())
        return len(jobs)

    def _post(self, job: Job) -> Result:
        timestamp = int(self.clock.now().timestamp())
        return post(self.http, job, self.settings.event_timeout_seconds, timestamp, self.targets)

    def _settle_ended(self) -> None:
        done = [future for future in self._running if future.done()]  # one look: a POST may end meanwhile
        if not done:
            return
        ended = [(self._running.pop(future), future.result()) for future in done]
        with self.db.write() as session:
            outcomes = settle(session, ended, self.clock.now(), self.settings, self.owner)
        for (job, result), outcome in zip(ended, outcomes, strict=True):
            metrics.count_crm_delivery(outcome)
            if outcome != "delivered":
                log.info(
                    "event %s to subscription %d: %s (%s)", job.event_id, job.subscription_id, outcome, result.error
                )

    def wait_idle(self, timeout: float) -> bool:
        """Wait for the POSTs in flight and settle them (tests, a one-pass worker, shutdown)."""
        wait(list(self._running), timeout)
        self._settle_ended()
        return not self._running

    def close(self) -> None:
        """Stop: POSTs in flight finish (each bounded by the timeout) and are settled."""
        self._pool.shutdown(wait=True)
        self._settle_ended()
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

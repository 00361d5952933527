"""Prometheus metrics: every definition lives here, behind small helpers the shells call.

Counters and the histogram are process-local, as prometheus_client keeps them; under
gunicorn (several web processes) and with a separate worker process, set
``PROMETHEUS_MULTIPROC_DIR`` for all of them (the same, empty directory at start): each
process then writes its samples to files there, and ``/metrics`` on any web process adds
them all up (``MultiProcessCollector``), so the worker's dials show on the web's page. The
callbacks-by-state and due-callback gauges are not counted anywhere: they are read from the
database at scrape time (``CallbackCollector``), so they are right whichever process
answers. docs/operations.md lists every metric.

The domain (scheduler/) stays pure: nothing there counts; the services and views around
it call these helpers.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable
from datetime import datetime

from flask import Response, request
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram, values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from infra.clock import Clock
from infra.db import Database
from infra.models import Callback, Queue
from infra.settings import Settings
from scheduler.lifecycle import DUE_STATES, State

log = logging.getLogger(__name__)

STATES = tuple(s.value for s in State)

# --- definitions (process-local; multiprocess-safe with PROMETHEUS_MULTIPROC_DIR) ------------

DISPATCH_LAG = Histogram(
    "dispatch_lag_seconds",
    "From a callback's due time to the provider accepting its call.",
    ["provider"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800),
)
CALL_ATTEMPTS = Counter(
    "call_attempts",
    "Dial attempts that ended, by provider and outcome (answered_human, busy, no_answer, machine, failed, …).",
    ["provider", "outcome"],
)
WEBHOOK_REQUESTS = Counter(
    "webhook_requests",
    "Provider webhook requests answered, by provider, route (the view's name) and HTTP status.",
    ["provider", "route", "status"],
)
SIGNATURE_FAILURES = Counter(
    "webhook_signature_failures",
    "Provider webhooks refused (403) because their signature was missing or wrong.",
    ["provider", "route"],
)
SMS_SENT = Counter("sms_sent", "Texts a provider accepted for sending.", ["provider"])
SMS_FAILED = Counter(
    "sms_failed",
    "Texts that failed: send_error (the provider refused it), undelivered (its delivery report "
    "said failed/undelivered), interrupted (the worker stopped while sending; not resent).",
    ["provider", "reason"],
)
CRM_DELIVERIES = Counter(
    "crm_deliveries",
    "Event pushes to CRM webhooks, by result: delivered, retrying (this attempt failed, another will come), "
    "failed (retries exhausted), stale (the lease ran out meanwhile).",
    ["result"],
)
SLOT_FULL = Counter(
    "booking_slot_full",
    "Bookings refused because the slot (or, for ASAP, every slot soon) had no seat left: slot_full.",
    ["queue", "kind"],
)


_PROVIDER_LABELS: set[str] = set()


def name_providers(names: Iterable[str]) -> None:
    """The providers there are (telephony/registry.py names them when imported)."""
    _PROVIDER_LABELS.update(names)


def _provider(name: str | None) -> str:
    """A provider label from a URL or a row: the known names, else "other" (bounded labels)."""
    return name if name in _PROVIDER_LABELS else "other"


def observe_dispatch_lag(provider: str, due_at: datetime | None, placed_at: datetime) -> None:
    if due_at is not None:
        DISPATCH_LAG.labels(_provider(provider)).observe(max(0.0, (placed_at - due_at).total_seconds()))


def count_attempt_end(provider: str, outcome: str | None) -> None:
    CALL_ATTEMPTS.labels(_provider(provider), outcome or "none").inc()


def count_sms_sent(provider: str) -> None:
    SMS_SENT.labels(_provider(provider)).inc()


def count_sms_failed(provider: str | None, reason: str, count: int = 1) -> None:
    if count > 0:
        SMS_FAILED.labels(_provider(provider), reason).inc(count)


def count_crm_delivery(result: str) -> None:
    """One attempt to push an event to a CRM, by what became of the delivery (what
    ``events.sender.settle`` returns): ``delivered``, ``retrying``, ``failed`` (retries
    exhausted) or ``stale``."""
    CRM_DELIVERIES.labels(result).inc()


def count_slot_full(queue: str, kind: str) -> None:
    SLOT_FULL.labels(queue, kind).inc()


def _webhook_labels() -> tuple[str, str]:
    view_args = request.view_args or {}
    endpoint = request.endpoint or "unknown"
    return _provider(view_args.get("provider")), endpoint.rsplit(".", 1)[-1]


def count_signature_failure() -> None:
    """Called by the webhook views where they answer 403 (app/voice_webhooks.py)."""
    SIGNATURE_FAILURES.labels(*_webhook_labels()).inc()


def count_webhook(response: Response) -> Response:
    """An ``after_request`` for the webhook blueprints."""
    provider, route = _webhook_labels()
    WEBHOOK_REQUESTS.labels(provider, route, str(response.status_code)).inc()
    return response


# --- read from the database at scrape time -------------------------------------------------


class CallbackCollector(Collector):
    """Callbacks by queue and state (one GROUP BY), and the due callbacks not yet dialed
    with the age of the oldest (one more, on the dialer's own index)."""

    def __init__(self, db: Database, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def describe(self) -> Iterable[Metric]:
        return []  # not known without a query: registering must not touch the database

    def collect(self) -> Iterable[Metric]:
        up = GaugeMetricFamily("metrics_database_up", "1 when the scrape could read the database, else 0.")
        try:
            families = self._families(self.clock.now())
        except SQLAlchemyError as error:
            log.warning("metrics: cannot read the database: %s", error)
            up.add_metric([], 0)
            return [up]
        up.add_metric([], 1)
        return [*families, up]

    def _families(self, now: datetime) -> list[Metric]:
        with self.db.read() as session:
            by_state = session.execute(
                select(Queue.key, Callback.state, func.count(Callback.id))
                .select_from(Queue)
                .outerjoin(Callback, Callback.queue_id == Queue.id)
                .group_by(Queue.key, Callback.state)
            ).all()
            due = session.execute(
                select(Queue.key, func.count(), func.min(Callback.next_attempt_at))
                .join(Queue, Queue.id == Callback.queue_id)
                .where(Callback.state.in_(DUE_STATES), Callback.next_attempt_at <= now)
                .group_by(Queue.key)
            ).all()
        counts: dict[str, dict[str, int]] = {}
        for queue, state, count in by_state:
            per_state = counts.setdefault(queue, dict.fromkeys(STATES, 0))
            if state is not None:
                per_state[state] = count
        callbacks = GaugeMetricFamily("callbacks", "Callbacks by queue and state, now.", labels=["queue", "state"])
        for queue, per_state in sorted(counts.items()):
            for state, count in per_state.items():
                callbacks.add_metric([queue, state], count)
        due_count = GaugeMetricFamily(
            "callbacks_due_undialed", "Callbacks due now that no worker has dialed yet.", labels=["queue"]
        )
        oldest = GaugeMetricFamily(
            "callbacks_oldest_due_age_seconds",
            "How long the oldest due, undialed callback has been due (0 when none is).",
            labels=["queue"],
        )
        due_by_queue = {queue: (count, first) for queue, count, first in due}
        for queue in sorted(counts):
            count, first = due_by_queue.get(queue, (0, None))
            due_count.add_metric([queue], count)
            oldest.add_metric([queue], max(0.0, (now - first).total_seconds()) if first is not None else 0.0)
        return [callbacks, due_count, oldest]


class _ThisProcess(Collector):
    """The default registry's metrics (this process's counters, process and GC figures)."""

    def collect(self) -> Iterable[Metric]:
        return REGISTRY.collect()

    def describe(self) -> Iterable[Metric]:
        return []


def multiprocess_active() -> bool:
    """prometheus_client chose file-backed values (it reads PROMETHEUS_MULTIPROC_DIR itself, at import)."""
    return values.ValueClass is not values.MutexValue


def build_registry(
    settings: Settings, db: Database, clock: Clock, *, database_gauges: bool = True
) -> CollectorRegistry:
    """The counters (this process's, or with PROMETHEUS_MULTIPROC_DIR every process's that
    shares the directory) and, with ``database_gauges``, the figures read from the database."""
    registry = CollectorRegistry(auto_describe=False)
    if settings.prometheus_multiproc_dir is not None:
        if not multiprocess_active():
            log.warning(
                "PROMETHEUS_MULTIPROC_DIR is set but was not in this process's environment when "
                "prometheus_client was imported: this process's own counts are not shared"
            )
        MultiProcessCollector(registry, path=str(settings.prometheus_multiproc_dir))  # type: ignore[no-untyped-call]
    else:
        registry.register(_ThisProcess())
    if database_gauges:
        registry.register(CallbackCollector(db, clock))
    return registry


def token_accepted(settings: Settings, authorization: str | None) -> bool:
    """METRICS_BEARER_TOKEN, when set, is presented as "Authorization: Bearer <token>"."""
    if not settings.metrics_bearer_token:
        return True
    expected = f"Bearer {settings.metrics_bearer_token}".encode()
    return hmac.compare_digest((authorization or "").encode(), expected)


UNAUTHORIZED = {"type": "unauthorized", "message": "a bearer token is required", "details": {}}

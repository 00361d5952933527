"""The events benchmark's receiver (its own process), data (callbacks, their created
events, subscriptions to the receiver) and measures (timers, statement counts, the
checks read after a run), for bench/events_bench.py."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select
from sqlalchemy.orm import selectinload

import events.sender as sender_module
from bench.dialer_bench import fresh_database, percentile, tree_cpu_seconds
from events import outbox
from events import types as event_types
from infra.db import Database
from infra.event_models import DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent
from infra.models import Callback

ROOT = Path(__file__).resolve().parent.parent

SECRET = "whsec_bench-secret-of-some-length"

PHONE_START = 7700000000  # +447700000000...


# --- the receiver (its own process) -------------------------------------------------------------


class Receiver:
    def __init__(self, ports: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.events_receiver", str(ports)], cwd=ROOT, stdout=subprocess.PIPE
        )
        assert self.process.stdout is not None
        self.ports = [int(p) for p in self.process.stdout.readline().split()]
        if len(self.ports) != ports:
            raise RuntimeError("the receiver did not start")

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(f"http://127.0.0.1:{self.ports[0]}{path}", method=method, data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read()) if method == "GET" else None

    def reset(self) -> None:
        self._call("POST", "/reset")

    def stats(self) -> dict[str, Any]:
        stats: dict[str, Any] = self._call("GET", "/stats")
        return stats

    def cpu(self) -> float:
        return tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- data ---------------------------------------------------------------------------------------


def sqlite_url(work: Path, name: str) -> str:
    path = work / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{path}"


def insert_callbacks(database: Database, queue_id: int, slot_id: int, first: int, count: int) -> list[int]:
    """Scheduled callbacks with a name and a form field (what a payload carries), due
    tomorrow (the real worker's dialer leaves them alone); returns their ids."""
    now = datetime.now(UTC)
    rows = [
        {
            "ref": f"EV{first + i:010d}",
            "queue_id": queue_id,
            "phone": f"+44{PHONE_START + first + i}",
            "name": f"Customer {first + i}",
            "fields": [{"name": "order", "label": "Order number", "value": f"A-{first + i:07d}"}],
            "tags": [],
            "source": "api",
            "kind": "scheduled",
            "slot_id": slot_id,
            "state": "scheduled",
            "attempts": 0,
            "next_attempt_at": now + timedelta(hours=20),
            "dial_errors": 0,
            "locale": "en",
            "sms_consent": False,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(count)
    ]
    with database.engine.begin() as connection:
        connection.execute(insert(Callback), rows)
    with database.read() as session:
        return list(
            session.scalars(select(Callback.id).where(Callback.ref.in_([r["ref"] for r in rows])).order_by(Callback.id))
        )


def emit_created(database: Database, callback_ids: list[int]) -> None:
    """One ``callback.created`` event per callback, as services.booking_service.book writes it."""
    with database.write() as session:
        callbacks = session.scalars(
            select(Callback)
            .where(Callback.id.in_(callback_ids))
            .options(selectinload(Callback.queue), selectinload(Callback.slot))
            .order_by(Callback.id)
        ).all()
        for callback in callbacks:
            change = {
                "step": "book",
                "from_state": None,
                "to_state": "scheduled",
                "actor": "api",
                "reason": "scheduled callback requested via api",
                "details": {"due_at": callback.next_attempt_at.isoformat() if callback.next_attempt_at else None},
            }
            outbox.emit_for(session, event_types.CREATED, callback, datetime.now(UTC), change=change)


def subscribe(database: Database, ports: list[int]) -> list[int]:
    now = datetime.now(UTC)
    with database.write() as session:
        rows = [
            EventSubscription(
                name=f"CRM {n}",
                url=f"http://127.0.0.1:{port}/hooks",
                secret=SECRET,
                event_types=list(event_types.EVENT_TYPES),
                queue_id=None,
                format="json",
                active=True,
                created_by="bench",
                created_at=now,
                updated_at=now,
            )
            for n, port in enumerate(ports)
        ]
        session.add_all(rows)
        session.flush()
        return [row.id for row in rows]


def prepare(url: str, work: Path, events: int, subscriptions: int, receiver: Receiver) -> tuple[Database, float]:
    """A fresh database with ``events`` events in the outbox and the subscriptions; seconds taken."""
    started = time.perf_counter()
    database, queue_id, slot_id = fresh_database(url, work / "instance")
    ids = insert_callbacks(database, queue_id, slot_id, 0, events)
    emit_created(database, ids)
    subscribe(database, receiver.ports[:subscriptions])
    return database, time.perf_counter() - started


# --- measuring ----------------------------------------------------------------------------------


class StepTimer:
    """Wall time and calls of the sender's steps, by wrapping the module functions its
    ``tick`` and threads call (events/sender.py is not changed)."""

    NAMES = ("fan_out", "claim", "post", "settle")

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.totals: dict[str, list[float]] = {}
        self.originals: dict[str, Callable[..., Any]] = {}

    def _wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                self.add(name, time.perf_counter() - started)

        return timed

    def add(self, name: str, seconds: float) -> None:
        with self.lock:
            total = self.totals.setdefault(name, [0, 0.0])
            total[0] += 1
            total[1] += seconds

    def install(self) -> None:
        for name in self.NAMES:
            self.originals[name] = getattr(sender_module, name)
            setattr(sender_module, name, self._wrap(name, self.originals[name]))
        settle_ended = sender_module.EventSender._settle_ended
        self.originals["_settle_ended"] = settle_ended
        sender_module.EventSender._settle_ended = self._wrap(  # type: ignore[method-assign]
            "settle the ended POSTs (one transaction)", settle_ended
        )

    def uninstall(self) -> None:
        for name, function in self.originals.items():
            if name == "_settle_ended":
                sender_module.EventSender._settle_ended = function  # type: ignore[method-assign]
            else:
                setattr(sender_module, name, function)
        self.originals.clear()


class StatementCounter:
    def __init__(self, database: Database) -> None:
        self.count = 0
        self.lock = threading.Lock()
        self.engine = database.engine
        event.listen(self.engine, "before_cursor_execute", self._seen)

    def _seen(self, *_args: Any) -> None:
        with self.lock:
            self.count += 1

    def remove(self) -> None:
        event.remove(self.engine, "before_cursor_execute", self._seen)


def own_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def pending(database: Database) -> int:
    with database.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(EventDelivery).where(EventDelivery.status == "pending"))
            or 0
        )


def checks(database: Database, expected: int, receiver: Receiver) -> dict[str, Any]:
    """Every delivery delivered exactly once, and the receiver saw each (subscription, event) once."""
    with database.read() as session:
        statuses = dict(
            session.execute(select(EventDelivery.status, func.count()).group_by(EventDelivery.status)).all()
        )
        deliveries = sum(statuses.values())
        not_one_attempt = session.scalar(
            select(func.count()).select_from(EventDelivery).where(EventDelivery.attempts != 1)
        )
        attempt_rows = session.scalar(select(func.count()).select_from(DeliveryAttempt))
        failed_attempts = session.scalar(
            select(func.count()).select_from(DeliveryAttempt).where(DeliveryAttempt.succeeded.is_(False))
        )
        per_delivery = (
            select(DeliveryAttempt.delivery_id)
            .group_by(DeliveryAttempt.delivery_id)
            .having(func.count() > 1)
            .subquery()
        )
        logged_twice = session.scalar(select(func.count()).select_from(per_delivery))
        not_fanned = session.scalar(
            select(func.count()).select_from(OutboxEvent).where(OutboxEvent.fanned_out.is_(False))
        )
    seen = receiver.stats()
    return {
        "expected": expected,
        "deliveries": deliveries,
        "statuses": statuses,
        "deliveries_not_one_attempt": int(not_one_attempt or 0),
        "attempt_rows": int(attempt_rows or 0),
        "failed_attempts": int(failed_attempts or 0),
        "deliveries_logged_twice": int(logged_twice or 0),
        "events_not_fanned_out": int(not_fanned or 0),
        "received": seen["requests"],
        "received_distinct": seen["distinct"],
        "received_duplicates": seen["duplicates"],
        "received_missing": expected - seen["distinct"],
        "exactly_once": (
            deliveries == expected
            and statuses.get("delivered", 0) == expected
            and not not_one_attempt
            and attempt_rows == expected
            and seen["requests"] == expected
            and seen["distinct"] == expected
        ),
    }


def latencies(database: Database) -> dict[str, Any]:
    """Event ``at`` → the attempt's ``at``, and delivery ``created_at`` (fan-out) → attempt, ms."""
    with database.read() as session:
        rows = session.execute(
            select(OutboxEvent.at, EventDelivery.created_at, DeliveryAttempt.at)
            .join(EventDelivery, EventDelivery.outbox_id == OutboxEvent.id)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == EventDelivery.id)
            .where(DeliveryAttempt.succeeded.is_(True))
        ).all()
    from_event = sorted((done - at).total_seconds() * 1000 for at, _, done in rows)
    from_fan_out = sorted((done - created).total_seconds() * 1000 for _, created, done in rows)

    def summary(values: list[float]) -> dict[str, float]:
        return {
            "p50_ms": round(percentile(values, 50), 1),
            "p99_ms": round(percentile(values, 99), 1),
            "max_ms": round(values[-1], 1) if values else float("nan"),
        }

    last = max((done for _, _, done in rows), default=None)
    return {"from_event": summary(from_event), "from_fan_out": summary(from_fan_out), "last_attempt": last}

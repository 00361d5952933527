"""CRM event deliveries per second to a fast receiver: ``python -m bench.events_bench``.

For each backend (SQLite, then a durable throwaway PostgreSQL of its own), on a fresh
migrated database:

1. **Sender capacity** (one run per configuration in EVENTS_BENCH_RUNS): N callbacks are
   stored and one ``callback.created`` event per callback is written to the outbox with
   ``events.outbox.emit_for``, as a booking does (the same row: the callback's facts and the
   "book" change), in one transaction; 1 or 4 subscriptions point at
   bench/events_receiver.py, a separate process (its own GIL) that answers 200 at once.
   An ``EventSender`` (events/sender.py) runs in this process and is ticked in a
   loop (``tick()``; when it hands nothing over, a EVENTS_BENCH_POLL_MS sleep) until every
   delivery is settled: the real worker ticks it once a second (step 2), which would
   measure the tick interval, not the sender. Printed: deliveries/s (first tick to last
   attempt), event→delivery latency p50/p99 (outbox ``at`` and delivery ``created_at`` to
   the attempt's ``at``: a backlog's latencies, every event exists when the run starts),
   CPU per delivery of this process (the sender and its driving loop), of the receiver and
   of PostgreSQL, SQL statements per delivery, the wall time per step (fan-out, claim,
   POST, settle) and the checks: every delivery delivered exactly once (one attempt each)
   and the receiver saw each (subscription, event id) once (duplicates counted).
2. **A real worker** (``flask --app wsgi callbacks worker``, default settings, its own
   APScheduler ticks, ``deliver_events`` every second), one subscription: a backlog of
   EVENTS_WORKER_BACKLOG events written before it starts (the rate it drains them at), then
   events written one per transaction at EVENTS_WORKER_RATE per second for
   EVENTS_WORKER_SECONDS (the latency a subscriber sees at a steady trickle).

Figures only: no goal, no PASS/FAIL. Saved in bench/results/events-<UTC>.txt.

Knobs (environment): EVENTS_BENCH_EVENTS (5000), EVENTS_BENCH_RUNS ("1s-c4-t16,4s-c4-t16,
1s-c16-t16": subscriptions, event_concurrency, event_sender_threads; 4 subscriptions at
concurrency 16 would be bound by the 16 threads as 4 at concurrency 4 are),
EVENTS_BENCH_BACKENDS ("sqlite,postgresql"), EVENTS_BENCH_POLL_MS (5),
EVENTS_BENCH_TIMEOUT_SECONDS (300 per run), EVENTS_WORKER_BACKLOG (80),
EVENTS_WORKER_RATE (3), EVENTS_WORKER_SECONDS (20; EVENTS_WORKER_BACKLOG=0 and
EVENTS_WORKER_SECONDS=0 skip step 2), EVENTS_POSTGRES_URL (a running server to use: its
schema ``public`` is dropped!). PostgreSQL otherwise: PGTEST_DIR=/tmp/pg-evbench
PGTEST_PORT=54395 PGTEST_DURABLE=1 scripts/pg-test-server.sh start, stopped at the end.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
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
from bench import data
from bench.dialer_bench import fresh_database, percentile, postmaster_pid, tree_cpu_seconds
from bench.pg_server import start_postgres, stop_postgres
from bench.run_dialer import code_state
from events import outbox
from events import types as event_types
from infra.clock import SystemClock
from infra.db import Database
from infra.models import Callback, DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
PG_ENV = {"PGTEST_DIR": "/tmp/pg-evbench", "PGTEST_PORT": "54395", "PGTEST_DURABLE": "1"}
SECRET = "whsec_bench-secret-of-some-length"
PHONE_START = 7700000000  # +447700000000...

EVENTS = int(os.environ.get("EVENTS_BENCH_EVENTS", "5000"))
RUNS = [r.strip() for r in os.environ.get("EVENTS_BENCH_RUNS", "1s-c4-t16,4s-c4-t16,1s-c16-t16").split(",")]
BACKENDS = [b.strip() for b in os.environ.get("EVENTS_BENCH_BACKENDS", "sqlite,postgresql").split(",") if b.strip()]
POLL = float(os.environ.get("EVENTS_BENCH_POLL_MS", "5")) / 1000
TIMEOUT = float(os.environ.get("EVENTS_BENCH_TIMEOUT_SECONDS", "300"))
WORKER_BACKLOG = int(os.environ.get("EVENTS_WORKER_BACKLOG", "80"))
WORKER_RATE = float(os.environ.get("EVENTS_WORKER_RATE", "3"))
WORKER_SECONDS = float(os.environ.get("EVENTS_WORKER_SECONDS", "20"))

LINES: list[str] = []


def log(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


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


# --- 1. the sender in this process --------------------------------------------------------------


def parse_run(name: str) -> tuple[int, int, int]:
    parts = dict((p[-1] if p[-1] == "s" else p[0], int(p[:-1] if p[-1] == "s" else p[1:])) for p in name.split("-"))
    return parts["s"], parts["c"], parts["t"]


def run_sender(url: str, work: Path, backend: str, name: str, receiver: Receiver) -> dict[str, Any]:
    subscriptions, concurrency, threads = parse_run(name)
    expected = EVENTS * subscriptions
    database, seed_seconds = prepare(url, work, EVENTS, subscriptions, receiver)
    settings = data.settings_for(url, work / "instance").with_overrides(
        event_concurrency=concurrency,
        event_sender_threads=threads,
        event_timeout_seconds=10.0,
        event_targets_allowed=("127.0.0.1",),  # the receiver is on loopback
    )
    receiver.reset()
    timer = StepTimer()
    timer.install()
    statements = StatementCounter(database)
    sender = sender_module.EventSender(database, SystemClock(), settings, owner=f"bench-{name}")
    pg_pid = postmaster_pid() if url.startswith("postgresql") else None
    cpu_before, rx_before = own_cpu(), receiver.cpu()
    pg_before = tree_cpu_seconds(pg_pid) if pg_pid else 0.0
    started_wall = datetime.now(UTC)
    started = time.monotonic()
    handed = ticks = empty_ticks = 0
    timed_out = False
    try:
        while True:
            handed_now = sender.tick()
            ticks += 1
            handed += handed_now
            if handed >= expected:
                sender.wait_idle(60)
                if pending(database) == 0:
                    break
            if time.monotonic() - started > TIMEOUT:
                timed_out = True
                break
            if handed_now == 0:
                empty_ticks += 1
                time.sleep(POLL)
        sender.wait_idle(60)
        ended = time.monotonic()
    finally:
        sender.close()
        timer.uninstall()
        statements.remove()
    cpu = own_cpu() - cpu_before
    rx_cpu = receiver.cpu() - rx_before
    pg_cpu = (tree_cpu_seconds(pg_pid) - pg_before) if pg_pid else None
    lat = latencies(database)
    last = lat.pop("last_attempt")
    drained = (last - started_wall).total_seconds() if last is not None else ended - started
    result = {
        "backend": backend,
        "run": name,
        "subscriptions": subscriptions,
        "event_concurrency": concurrency,
        "event_sender_threads": threads,
        "events": EVENTS,
        "deliveries": expected,
        "seed_seconds": round(seed_seconds, 1),
        "seconds": round(drained, 2),
        "deliveries_per_second": round(expected / drained, 1) if drained > 0 else None,
        "timed_out": timed_out,
        "ticks": ticks,
        "empty_ticks": empty_ticks,
        "latency": lat,
        "cpu_ms_per_delivery": {
            "sender_process": round(cpu * 1000 / expected, 2),
            "receiver": round(rx_cpu * 1000 / expected, 2),
            "postgresql": round(pg_cpu * 1000 / expected, 2) if pg_cpu is not None else None,
        },
        "sql_statements_per_delivery": round(statements.count / expected, 2),
        "steps": {
            step: {"calls": int(calls), "ms_per_call": round(total * 1000 / calls, 2), "seconds": round(total, 1)}
            for step, (calls, total) in timer.totals.items()
        },
        "checks": checks(database, expected, receiver),
    }
    database.dispose()
    return result


def show_sender(result: dict[str, Any]) -> None:
    lat, cpu, chk = result["latency"], result["cpu_ms_per_delivery"], result["checks"]
    log(
        f"  {result['backend']} {result['run']}: {result['subscriptions']} subscription(s),"
        f" EVENT_CONCURRENCY={result['event_concurrency']} EVENT_SENDER_THREADS={result['event_sender_threads']}:"
        f" {result['deliveries']} deliveries in {result['seconds']} s = {result['deliveries_per_second']}/s"
        + (" (TIMED OUT)" if result["timed_out"] else "")
    )
    log(
        f"      latency event→delivered p50 {lat['from_event']['p50_ms'] / 1000:.2f} s,"
        f" p99 {lat['from_event']['p99_ms'] / 1000:.2f} s; fan-out→delivered p50"
        f" {lat['from_fan_out']['p50_ms'] / 1000:.2f} s, p99 {lat['from_fan_out']['p99_ms'] / 1000:.2f} s"
        f" (a backlog: all events written before the run; seeding took {result['seed_seconds']} s)"
    )
    pg = f", PostgreSQL {cpu['postgresql']} ms" if cpu["postgresql"] is not None else ""
    log(
        f"      CPU per delivery: sender process {cpu['sender_process']} ms, receiver {cpu['receiver']} ms{pg};"
        f" SQL statements per delivery {result['sql_statements_per_delivery']};"
        f" ticks {result['ticks']} ({result['empty_ticks']} handed nothing over)"
    )
    steps = ", ".join(
        f"{step} {v['ms_per_call']} ms × {v['calls']} ({v['seconds']} s)" for step, v in result["steps"].items()
    )
    log(f"      wall time per step: {steps}")
    log(
        f"      checks: {chk['deliveries']}/{chk['expected']} deliveries, statuses {chk['statuses']},"
        f" {chk['deliveries_not_one_attempt']} with attempts ≠ 1, {chk['attempt_rows']} attempt rows"
        f" ({chk['failed_attempts']} failed, {chk['deliveries_logged_twice']} deliveries logged twice);"
        f" receiver: {chk['received']} requests, {chk['received_distinct']} distinct (subscription, event),"
        f" {chk['received_duplicates']} duplicates, {chk['received_missing']} missing"
        f" → exactly once: {'yes' if chk['exactly_once'] else 'NO'}"
    )


# --- 2. a real worker ---------------------------------------------------------------------------


def worker_env(url: str, instance: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("EVENT_", "DATABASE_URL"))}
    env.update(
        DATABASE_URL=url,
        SECRET_KEY="bench-secret",
        INSTANCE_PATH=str(instance),
        TELEPHONY_PROVIDER="simulator",
        PUBLIC_BASE_URL="http://127.0.0.1:5000",
        LOG_LEVEL="WARNING",
        EVENT_TARGETS_ALLOWED="127.0.0.1",  # the receiver is on loopback
    )
    return env


def delivered_count(database: Database) -> int:
    with database.read() as session:
        return int(
            session.scalar(select(func.count()).select_from(EventDelivery).where(EventDelivery.status == "delivered"))
            or 0
        )


def wait_delivered(database: Database, count: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if delivered_count(database) >= count:
            return True
        time.sleep(0.25)
    return False


def run_worker(url: str, work: Path, backend: str, receiver: Receiver) -> dict[str, Any]:
    total = WORKER_BACKLOG + int(WORKER_RATE * WORKER_SECONDS)
    database, queue_id, slot_id = fresh_database(url, work / "instance")
    ids = insert_callbacks(database, queue_id, slot_id, 0, total)
    backlog, trickle = ids[:WORKER_BACKLOG], ids[WORKER_BACKLOG:]
    emit_created(database, backlog)
    subscribe(database, receiver.ports[:1])
    receiver.reset()
    log_path = work / f"worker-{backend}.log"
    flask = str(Path(sys.executable).parent / "flask")
    with log_path.open("wb") as worker_log:
        process = subprocess.Popen(
            [flask, "--app", "wsgi", "callbacks", "worker"],
            cwd=ROOT,
            env=worker_env(url, work / "instance"),
            stdout=worker_log,
            stderr=subprocess.STDOUT,
        )
    result: dict[str, Any] = {"backend": backend, "backlog": len(backlog), "trickle": len(trickle)}
    try:
        cpu_before = 0.0
        backlog_rate = None
        if backlog:
            # The rate from the first delivery to the last (the worker's start-up excluded).
            while delivered_count(database) == 0 and process.poll() is None:
                time.sleep(0.05)
            cpu_before = tree_cpu_seconds(process.pid)
            wait_delivered(database, len(backlog), 120 + len(backlog))
            with database.read() as session:
                first, last = session.execute(select(func.min(DeliveryAttempt.at), func.max(DeliveryAttempt.at))).one()
            seconds = (last - first).total_seconds()
            backlog_rate = round((len(backlog) - 1) / seconds, 2) if seconds > 0 else None
            result["backlog_seconds"] = round(seconds, 1)
        else:
            time.sleep(3)  # start-up
            cpu_before = tree_cpu_seconds(process.pid)
        result["backlog_deliveries_per_second"] = backlog_rate
        trickle_start = datetime.now(UTC)
        began = time.monotonic()
        for n, callback_id in enumerate(trickle):
            time.sleep(max(0.0, began + n / WORKER_RATE - time.monotonic()))
            emit_created(database, [callback_id])
        delivered = wait_delivered(database, total, 60)
        result["cpu_ms_per_delivery_worker"] = round((tree_cpu_seconds(process.pid) - cpu_before) * 1000 / total, 1)
        result["all_delivered"] = delivered
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    with database.read() as session:
        rows = session.execute(
            select(OutboxEvent.at, DeliveryAttempt.at)
            .join(EventDelivery, EventDelivery.outbox_id == OutboxEvent.id)
            .join(DeliveryAttempt, DeliveryAttempt.delivery_id == EventDelivery.id)
            .where(OutboxEvent.at >= trickle_start, DeliveryAttempt.succeeded.is_(True))
        ).all()
    lags = sorted((done - at).total_seconds() * 1000 for at, done in rows)
    result["trickle_latency"] = {
        "p50_ms": round(percentile(lags, 50)),
        "p99_ms": round(percentile(lags, 99)),
        "max_ms": round(lags[-1]) if lags else None,
    }
    result["checks"] = checks(database, total, receiver)
    problems = [
        line
        for line in log_path.read_text(encoding="utf-8", errors="replace").splitlines()
        if "ERROR" in line or "Traceback" in line
    ]
    result["worker_log_errors"] = problems[:5]
    database.dispose()
    return result


def show_worker(result: dict[str, Any]) -> None:
    chk, lat = result["checks"], result["trickle_latency"]
    if result["backlog"]:
        log(
            f"  {result['backend']} real worker, 1 subscription, default settings: a backlog of"
            f" {result['backlog']} events drained at {result['backlog_deliveries_per_second']} deliveries/s"
            f" ({result['backlog_seconds']} s from the first delivery to the last)"
        )
    if result["trickle"]:
        log(
            f"      then {result['trickle']} events at {WORKER_RATE:g}/s, one per transaction: latency"
            f" event→delivered p50 {lat['p50_ms']} ms, p99 {lat['p99_ms']} ms, max {lat['max_ms']} ms"
        )
    log(
        f"      worker CPU per delivery {result['cpu_ms_per_delivery_worker']} ms (its dialer's idle polling"
        f" included); exactly once: {'yes' if chk['exactly_once'] else 'NO'} ({chk['received']} requests,"
        f" {chk['received_duplicates']} duplicates, {chk['received_missing']} missing, statuses {chk['statuses']})"
    )
    for line in result["worker_log_errors"]:
        log(f"      worker log: {line}")


# --- main ---------------------------------------------------------------------------------------


def main() -> int:
    started = time.time()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="events-bench-"))
    log(f"event delivery benchmark, {stamp}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    log(f"work directory: {work}")
    log(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    code_at_start = code_state()
    log(f"code measured: {code_at_start}")
    results: dict[str, Any] = {"stamp": stamp, "cpus": os.cpu_count(), "sender": [], "worker": []}
    pg_url: str | None = None
    own_pg = False
    if "postgresql" in BACKENDS:
        own_pg = "EVENTS_POSTGRES_URL" not in os.environ
        pg_url = start_postgres(PG_ENV) if own_pg else os.environ["EVENTS_POSTGRES_URL"]
        os.environ.setdefault("PGTEST_DIR", PG_ENV["PGTEST_DIR"])
        log(f"PostgreSQL: {pg_url} ({'own durable server, fsync on' if own_pg else 'given'})")
    receiver = Receiver(max(parse_run(r)[0] for r in RUNS))
    log(f"receiver: pid {receiver.process.pid}, ports {receiver.ports} (one per subscription)")
    try:
        for backend in BACKENDS:
            log(f"\n{backend}: {EVENTS} events, the sender in this process, ticked in a loop ({POLL * 1000:g} ms idle)")
            for run in RUNS:
                url = pg_url if backend == "postgresql" else sqlite_url(work, f"events-{run}")
                assert url is not None
                result = run_sender(url, work, backend, run, receiver)
                results["sender"].append(result)
                show_sender(result)
            if WORKER_BACKLOG or WORKER_SECONDS:
                url = pg_url if backend == "postgresql" else sqlite_url(work, "events-worker")
                assert url is not None
                result = run_worker(url, work, backend, receiver)
                results["worker"].append(result)
                show_worker(result)
    finally:
        receiver.stop()
        if own_pg:
            stop_postgres(PG_ENV)
    elapsed = time.time() - started
    log(f"\n{elapsed / 60:.1f} minutes; load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    code_at_end = code_state()
    if code_at_end != code_at_start:
        log(f"WARNING: the code changed during the run (now {code_at_end}): the figures mix two versions")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"events-{stamp}.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (RESULTS / f"events-{stamp}.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    log(f"saved bench/results/events-{stamp}.txt and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())

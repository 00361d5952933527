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
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

import events.sender as sender_module
from bench import data
from bench.dialer_bench import fresh_database, percentile, postmaster_pid, tree_cpu_seconds
from bench.events_data import (
    ROOT,
    Receiver,
    StatementCounter,
    StepTimer,
    checks,
    emit_created,
    insert_callbacks,
    latencies,
    own_cpu,
    pending,
    prepare,
    sqlite_url,
    subscribe,
)
from bench.pg_server import start_postgres, stop_postgres
from bench.run_dialer import code_state
from infra.clock import SystemClock
from infra.db import Database
from infra.event_models import DeliveryAttempt, EventDelivery, OutboxEvent

RESULTS = ROOT / "bench" / "results"
PG_ENV = {"PGTEST_DIR": "/tmp/pg-evbench", "PGTEST_PORT": "54395", "PGTEST_DURABLE": "1"}

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

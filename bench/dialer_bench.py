"""The dialer benchmark: 10,000 callbacks due in one minute, real worker processes, a fake
provider endpoint that records when each dial request reaches it.

Per run: a fresh migrated PostgreSQL schema; one queue open all week 00:00-00:00 (one
day-long slot of 10,000 seats, ``max_concurrent_calls`` 10,000) imported with
``services.queue_documents.import_queue``; N callbacks in state ``scheduled`` with distinct
valid UK mobiles (+447400000000 + n), all holding a seat in today's slot, their
``next_attempt_at`` evenly spread over one minute that starts ~20 s after the insert
(SQLAlchemy Core, one transaction). Then 1 or 3 ``python -m bench.dialer_worker``
processes (the real Worker, dials POSTed to bench/dialer_sink.py) run until every
callback has been dialed at the sink, or a timeout.

Figures: lag = sink receive time - ``next_attempt_at``, per callback (its first dial),
p50/p99/max, also net of the wait the calls-per-second limit alone would impose (an
ideal pacer: call k goes at max(due_k, call_{k-1} + 1/CPS)); claims per second; double
dials (numbers the sink saw more than once) and numbers never dialed. The burst run puts
N callbacks due at once in front of already running workers: the dials per second
achieved drained that backlog is the claim capacity.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import func, insert, select, update

from bench import data
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent, Slot
from services.dialer.urls import WebhookUrls
from services.queue_documents import import_queue, parse_queue_document

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PHONE_START = 7400000000  # +447400000000 + n: valid UK mobiles
SECRET = "bench-secret"
QUEUE_KEY = "dialer"
SIMULATOR_CPS = 1000.0  # the highest SIMULATOR_CPS the settings accept (0.1..1000): far above the ~167 due/s
REAL_CPS = {"twilio": 1.0, "vonage": 3.0}  # the app's defaults for the real providers


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest rank on a sorted list."""
    if not sorted_values:
        return float("nan")
    k = min(len(sorted_values) - 1, max(0, round(p / 100 * (len(sorted_values) - 1))))
    return sorted_values[k]


def queue_document(key: str = QUEUE_KEY) -> dict[str, Any]:
    """Open every day 00:00-00:00 in one day-long slot of 10,000 seats, 10,000 concurrent calls."""
    document = data.queue_document(key, 10_000)
    for hours in document["weekly_hours"]:
        hours["slot_minutes"] = 1440
    document.update(max_concurrent_calls=10_000, lead_minutes=0, horizon_days=2, estimated_wait_seconds=0)
    return document


def settings_for(url: str, instance: Path) -> Any:
    return data.settings_for(url, instance)


def fresh_database(url: str, instance: Path) -> tuple[Database, int, int]:
    """A fresh migrated schema with the bench queue; (database, queue id, id of the slot now in)."""
    data.reset_database(url, instance)
    database = Database(settings_for(url, instance))
    now = datetime.now(UTC)
    with database.write() as session:
        queue, _ = import_queue(session, parse_queue_document(queue_document()), now)
        queue_id = queue.id
        slot_id = session.scalars(
            select(Slot.id).where(Slot.queue_id == queue_id, Slot.starts_at <= now, Slot.ends_at > now)
        ).one()
    return database, queue_id, slot_id


def insert_callbacks(
    database: Database, queue_id: int, slot_id: int, due: list[datetime], state: str = "scheduled", first: int = 0
) -> dict[str, float]:
    """Callbacks holding a seat in ``slot_id``, one per due time; returns phone -> due (epoch seconds)."""
    now = datetime.now(UTC)
    rows = [
        {
            "ref": f"DL{first + i:010d}",
            "queue_id": queue_id,
            "phone": f"+44{PHONE_START + first + i}",
            "name": None,
            "fields": [],
            "tags": [],
            "source": "api",
            "kind": "scheduled",
            "slot_id": slot_id,
            "state": state,
            "attempts": 0,
            "next_attempt_at": at,
            "dial_errors": 0,
            "locale": "en",
            "sms_consent": False,
            "created_at": now,
            "updated_at": now,
        }
        for i, at in enumerate(due)
    ]
    with database.engine.begin() as connection:
        connection.execute(insert(Callback.__table__), rows)
        connection.execute(update(Slot.__table__).where(Slot.id == slot_id).values(booked=Slot.booked + len(rows)))
    return {row["phone"]: row["next_attempt_at"].timestamp() for row in rows}


# --- processes --------------------------------------------------------------------------------


class Sink:
    """bench/dialer_sink.py in its own process."""

    def __init__(self, log_dir: Path) -> None:
        self._log = open(log_dir / "sink.log", "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bench.dialer_sink", "--port", "0"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError("the sink did not start")
        self.port = int(line.split()[1])

    def _call(self, method: str, path: str) -> Any:
        request = urllib.request.Request(
            f"http://{HOST}:{self.port}{path}", method=method, data=b"" if method == "POST" else None
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read())

    def reset(self) -> None:
        self._call("POST", "/reset")

    def records(self) -> dict[str, Any]:
        document: dict[str, Any] = self._call("GET", "/records")
        return document

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


@dataclass
class Workers:
    """``python -m bench.dialer_worker`` processes sharing one database and one sink."""

    env: dict[str, str]
    log_dir: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[IO[bytes]] = field(default_factory=list)
    stats_paths: list[Path] = field(default_factory=list)
    worker_ids: dict[int, str] = field(default_factory=dict)
    killed: int = 0
    not_stopped_by_sigterm: int = 0

    def start(self) -> subprocess.Popen[bytes]:
        n = len(self.processes)
        log_path = self.log_dir / f"worker{n}.log"
        stats = self.log_dir / f"worker{n}.stats.json"
        profile = {"BENCH_PROFILE": str(self.log_dir / f"worker{n}.prof")} if os.environ.get("BENCH_PROFILE") else {}
        log = open(log_path, "wb")  # noqa: SIM115 - closed in stop_all()
        process = subprocess.Popen(
            [sys.executable, "-m", "bench.dialer_worker"],
            cwd=ROOT,
            env={**os.environ, **self.env, "BENCH_STATS": str(stats), **profile},
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        self.processes.append(process)
        self.logs.append(log)
        self.stats_paths.append(stats)
        deadline = time.monotonic() + 60
        while True:
            ready = [line for line in log_path.read_bytes().splitlines() if line.startswith(b"READY ")]
            if ready:
                self.worker_ids[process.pid] = ready[0].split()[2].decode()
                return process
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"worker did not start; see {log_path}")
            time.sleep(0.05)

    def alive(self) -> list[subprocess.Popen[bytes]]:
        return [p for p in self.processes if p.poll() is None]

    def busiest(self, database: Database) -> subprocess.Popen[bytes] | None:
        """The live worker holding the most claims whose call it has not saved yet (None if none
        does): killing it tests the lease and the reconciliation, killing an idle one tests nothing."""
        with database.read() as session:
            held = dict(
                session.execute(
                    select(Callback.lease_owner, func.count())
                    .join(Attempt, Attempt.callback_id == Callback.id)
                    .where(Callback.state == "dialing", Attempt.call_id.is_(None), Attempt.outcome.is_(None))
                    .group_by(Callback.lease_owner)
                ).all()
            )
        ranked = sorted(self.alive(), key=lambda p: held.get(self.worker_ids.get(p.pid), 0), reverse=True)
        if ranked and held.get(self.worker_ids.get(ranked[0].pid), 0) > 0:
            return ranked[0]
        return None

    def kill(self, victim: subprocess.Popen[bytes]) -> None:
        os.kill(victim.pid, signal.SIGKILL)  # no clean-up of any kind: the lease must cover it
        victim.wait(timeout=10)
        self.killed += 1

    def stop_all(self, grace: float = 5.0) -> list[dict[str, Any]]:
        """SIGTERM, then SIGKILL whatever has not stopped after ``grace`` seconds (a worker
        finishes its current tick first, and a dispatch tick runs while anything is due)."""
        for process in self.alive():
            process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + grace
        for process in self.processes:
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                self.not_stopped_by_sigterm += 1
        for log in self.logs:
            log.close()
        stats = []
        for path in self.stats_paths:
            if path.exists():
                stats.append(json.loads(path.read_text(encoding="utf-8")))
        return stats

    def log_problems(self) -> list[str]:
        """Tracebacks and errors the workers logged (the log level is WARNING)."""
        lines = []
        for n in range(len(self.processes)):
            text = (self.log_dir / f"worker{n}.log").read_text(encoding="utf-8", errors="replace")
            lines += [f"worker{n}: {line}" for line in text.splitlines() if "ERROR" in line or "Traceback" in line]
        return lines


def worker_env(
    url: str, instance: Path, sink_port: int, lease_seconds: int, reconcile_seconds: int | None, cps: float
) -> dict[str, str]:
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "INSTANCE_PATH": str(instance),
        "TELEPHONY_PROVIDER": "simulator",
        "SIMULATOR_CPS": f"{cps:g}",
        "DIAL_LEASE_SECONDS": str(lease_seconds),
        "PUBLIC_BASE_URL": "http://127.0.0.1:5000",
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT": "1000000/second",  # the load comes from one address
        "ALLOW_PER_PROCESS_RATE_LIMITS": "true",  # a limit nobody reaches: no shared store needed
        "BENCH_SINK_PORT": str(sink_port),
    }
    if reconcile_seconds is not None:
        env["BENCH_RECONCILE_SECONDS"] = str(reconcile_seconds)
    return env


# --- measuring --------------------------------------------------------------------------------


def _proc_stat(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def tree_cpu_seconds(pid: int) -> float:
    """CPU (user + system) of a process, its reaped children and its live children (Linux
    /proc): for the PostgreSQL postmaster that is the whole server, exited backends included."""
    tick = os.sysconf("SC_CLK_TCK")
    try:
        fields = _proc_stat(pid)
    except OSError:
        return 0.0
    total = sum(int(fields[i]) for i in (11, 12, 13, 14))
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            child = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(child[1]) == pid:
            total += int(child[11]) + int(child[12])
    return total / tick


def postmaster_pid() -> int | None:
    """The PID of the bench's PostgreSQL server, from $PGTEST_DIR/data/postmaster.pid."""
    path = Path(os.environ.get("PGTEST_DIR", "/tmp/pg-dialer")) / "data" / "postmaster.pid"
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def ideal_paced(due: list[float], cps: float) -> list[float]:
    """When each call could go at best under the calls-per-second limit alone (sorted by due)."""
    out: list[float] = []
    previous = float("-inf")
    for at in sorted(due):
        slot = max(at, previous + 1 / cps)
        out.append(slot)
        previous = slot
    return out


def dial_figures(
    due_by_phone: dict[str, float], records: list[dict[str, Any]], ended: float, cps: float = SIMULATOR_CPS
) -> dict[str, Any]:
    """Lag per callback from the sink's records. A callback not dialed by ``ended`` counts
    with the lag it had reached then (a lower bound), so the percentiles are too."""
    per_phone: Counter[str] = Counter(str(r["to"]) for r in records)
    first: dict[str, float] = {}
    for record in records:
        to = str(record["to"])
        first[to] = min(first.get(to, float("inf")), float(record["at"]))
    order = sorted(due_by_phone, key=lambda p: due_by_phone[p])
    dialed_at = [first.get(p, ended) for p in order]
    lags = sorted(at - due_by_phone[p] for p, at in zip(order, dialed_at, strict=True))
    # The wait the pacer alone would impose, per call in due order, subtracted from its lag.
    ideal = ideal_paced([due_by_phone[p] for p in order], cps)
    net = sorted(at - slot for at, slot in zip(dialed_at, ideal, strict=True))
    pacing_wait = max((slot - due_by_phone[p] for p, slot in zip(order, ideal, strict=True)), default=0.0)
    times = sorted(first[p] for p in due_by_phone if p in first)
    dialed = len(times)
    span = times[-1] - times[0] if dialed > 1 else 0.0
    return {
        "callbacks": len(due_by_phone),
        "dialed": dialed,
        "never_dialed": len(due_by_phone) - dialed,
        "double_dials": sum(1 for p, n in per_phone.items() if n > 1 and p in due_by_phone),
        "sink_requests": len(records),
        "lag_p50_ms": round(percentile(lags, 50) * 1000, 1),
        "lag_p99_ms": round(percentile(lags, 99) * 1000, 1),
        "lag_max_ms": round(lags[-1] * 1000, 1) if lags else float("nan"),
        "net_lag_p50_ms": round(percentile(net, 50) * 1000, 1),
        "net_lag_p99_ms": round(percentile(net, 99) * 1000, 1),
        "net_lag_max_ms": round(net[-1] * 1000, 1) if net else float("nan"),
        "lags_are_lower_bounds": dialed < len(due_by_phone),
        "pacing_wait_max_ms": round(pacing_wait * 1000, 2),
        "dials_per_second": round((dialed - 1) / span, 1) if span > 0 else None,
        "kept_up": bool(net) and net[-1] < 1.0,
        "peak_dials_in_one_second": max(Counter(int(t) for t in times).values(), default=0),
    }


def db_figures(database: Database) -> dict[str, Any]:
    with database.read() as session:
        states = dict(session.execute(select(Callback.state, func.count()).group_by(Callback.state)).all())
        attempts = session.scalar(select(func.count()).select_from(Attempt)) or 0
        unsaved = (
            session.scalar(
                select(func.count()).select_from(Attempt).where(Attempt.call_id.is_(None), Attempt.outcome.is_(None))
            )
            or 0
        )
        redials = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.number > 1)) or 0
        released = (
            session.scalar(select(func.count()).select_from(Attempt).where(Attempt.error.like("the worker stopped%")))
            or 0
        )
        span = session.execute(select(func.min(Attempt.requested_at), func.max(Attempt.requested_at))).one()
    seconds = (span[1] - span[0]).total_seconds() if span[0] and span[1] else 0.0
    return {
        "states": states,
        "attempts": attempts,
        "attempts_without_call_id": unsaved,
        "redial_attempts": redials,
        "released_never_placed": released,
        "claims_per_second": round((attempts - 1) / seconds, 1) if seconds > 0 else None,
    }


def stale_claim_dials(database: Database, records: list[dict[str, Any]]) -> dict[str, int]:
    """Dials of attempts that lease reconciliation had already released as "never placed"
    (its ``release`` event came before the dial reached the sink): the claim was still held
    by a live worker (a dead one dials nothing) that placed the call after its lease ran out."""
    urls = WebhookUrls("", SECRET)
    with database.read() as session:
        released = {
            attempt_id: at.timestamp()
            for attempt_id, at in session.execute(
                select(Attempt.id, func.min(CallbackEvent.at))
                .join(CallbackEvent, CallbackEvent.callback_id == Attempt.callback_id)
                .where(
                    Attempt.error.like("the worker stopped%"),
                    CallbackEvent.step == "release",
                    CallbackEvent.at >= Attempt.requested_at,
                )
                .group_by(Attempt.id)
            ).all()
        }
    late: set[str] = set()
    count = 0
    for record in records:
        try:
            attempt_id = urls.attempt_id(str(record["status_url"]).rsplit("/", 1)[1])
        except LookupError:
            continue
        if attempt_id in released and float(record["at"]) > released[attempt_id]:
            count += 1
            late.add(str(record["to"]))
    return {"dials_after_release": count, "numbers": len(late)}


def dialed_numbers(sink: Sink) -> int:
    return len({r["to"] for r in sink.records()["records"]})


def settled(database: Database, sink: Sink, n: int) -> bool:
    """Every number dialed at the sink, and no attempt left waiting for reconciliation."""
    if dialed_numbers(sink) < n:
        return False
    with database.read() as session:
        due = session.scalar(
            select(func.count()).select_from(Callback).where(Callback.state.in_(("scheduled", "retry_wait")))
        )
        unsaved = session.scalar(
            select(func.count()).select_from(Attempt).where(Attempt.call_id.is_(None), Attempt.outcome.is_(None))
        )
    return not due and not unsaved


def merge_timings(stats: list[dict[str, Any]]) -> dict[str, Any]:
    seconds: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    batches: Counter[str] = Counter()
    for s in stats:
        seconds.update(s.get("seconds", {}))
        calls.update(s.get("calls", {}))
        batches.update(s.get("claim_batch_sizes", {}))
    return {
        "seconds": {k: round(v, 2) for k, v in seconds.items()},
        "calls": dict(calls),
        "ms_per_call": {k: round(seconds[k] / calls[k] * 1000, 2) for k in seconds if calls[k]},
        "claim_batch_sizes": dict(sorted(batches.items(), key=lambda kv: int(kv[0]))),
        "worker_cpu_seconds": round(sum(s.get("cpu_seconds", 0.0) for s in stats), 2),
    }


# --- the run ----------------------------------------------------------------------------------


def run_spread(
    url: str,
    work: Path,
    sink: Sink,
    *,
    workers: int,
    n: int,
    lead: float,
    spread: float,
    kills: int = 0,
    timeout: float = 45.0,
    cps: float = SIMULATOR_CPS,
    lease: int | None = None,
    seed: int = 1,
    log: Any = print,
) -> dict[str, Any]:
    """N callbacks due over ``spread`` seconds from ``lead`` s after the insert; ``workers``
    processes; ``kills`` of them SIGKILLed at random moments, each time the one holding claims
    it has not placed yet (each replaced at once). Ends when every callback is dialed and
    settled, or ``timeout`` s after the last one fell due. A short ``lease`` (the kill variant:
    2 s) comes with a reconcile tick every 2 s; ``cps`` is the simulator's calls per second."""
    lease = lease or (2 if kills else 60)
    name = f"spread-{workers}w" + (f"-kill{kills}" if kills else "")
    if spread == 0:
        name = f"burst-{workers}w"
    if cps != SIMULATOR_CPS:
        name = f"paced-{workers}w-cps{cps:g}-lease{lease}"
    run_dir = work / name
    run_dir.mkdir(parents=True, exist_ok=True)
    database, queue_id, slot_id = fresh_database(url, run_dir)
    sink.reset()
    start = datetime.now(UTC) + timedelta(seconds=lead)
    due = [start + timedelta(seconds=spread * i / n) for i in range(n)]
    due_by_phone = insert_callbacks(database, queue_id, slot_id, due)
    pool = Workers(worker_env(url, run_dir, sink.port, lease, 2 if lease < 15 else None, cps), run_dir)
    rng = random.Random(seed)
    pg = postmaster_pid() if url.startswith("postgresql") else None
    try:
        for _ in range(workers):
            pool.start()
        log(f"  {name}: {n} callbacks due from {start:%H:%M:%S} over {spread:.0f} s, {workers} worker(s)")
        t0 = start.timestamp()
        while time.time() < t0:
            time.sleep(0.05)
        pg_cpu = tree_cpu_seconds(pg) if pg else 0.0
        load_before = os.getloadavg()[0]
        kill_at = sorted(t0 + rng.uniform(0.1, 0.85) * spread for _ in range(kills))
        kill_times: list[float] = []
        deadline = t0 + spread + timeout
        while time.time() < deadline:
            if kill_at and time.time() >= kill_at[0]:
                # At a random moment, the worker with claims in flight (else, after 5 s, any).
                victim = pool.busiest(database)
                if victim is None and time.time() > kill_at[0] + 5:
                    victim = rng.choice(pool.alive())
                if victim is not None:
                    kill_at.pop(0)
                    pool.kill(victim)
                    kill_times.append(round(time.time() - t0, 1))
                    pool.start()  # a replacement, as a supervisor would start one
                    log(f"  {name}: SIGKILLed a worker at due+{kill_times[-1]} s, started a replacement")
            if not kill_at and time.time() > t0 + spread and settled(database, sink, n):
                break
            time.sleep(0.25)
        ended = time.time()
        at_end = sink.records()["records"]  # the lag figures: what was dialed by the end
        if lease < 15:
            # A late dial (of a claim a live worker still holds, or a redial of a call already
            # placed) would show up now: wait until the sink has been quiet for 2 leases + 3 s.
            quiet_for, count, last_change = 2 * lease + 3, len(at_end), time.time()
            while time.time() - last_change < quiet_for and time.time() < ended + 60:
                time.sleep(0.5)
                now_count = len(sink.records()["records"])
                if now_count != count:
                    count, last_change = now_count, time.time()
        load_after = os.getloadavg()[0]
    finally:
        stats = pool.stop_all()
    time.sleep(0.5)  # let the server reap the backends of the workers just stopped (their CPU)
    pg_cpu = (tree_cpu_seconds(pg) - pg_cpu) if pg else 0.0
    sink_doc = sink.records()  # double dials: everything, including what came after the end
    figures = dial_figures(due_by_phone, at_end, ended, cps)
    figures["double_dials"] = dial_figures(due_by_phone, sink_doc["records"], ended, cps)["double_dials"]
    figures.update(db_figures(database))
    figures["stale_claim_dials"] = stale_claim_dials(database, sink_doc["records"])
    timings = merge_timings(stats)
    dialed = max(len({r["to"] for r in sink_doc["records"]}), 1)  # the CPU ran until the workers stopped
    figures.update(
        name=name,
        workers=workers,
        killed=pool.killed,
        not_stopped_by_sigterm_in_5s=pool.not_stopped_by_sigterm,
        killed_at_seconds_after_first_due=kill_times,
        lease_seconds=lease,
        seconds_after_last_due=round(ended - (t0 + spread), 1),
        finds=sink_doc["finds"],
        find_hits=sink_doc["find_hits"],
        timings=timings,
        cpu_ms_per_dial={
            "workers": round(timings["worker_cpu_seconds"] * 1000 / dialed, 2),
            "postgresql": round(pg_cpu * 1000 / dialed, 2) if pg else None,
        },
        load_average_1min=[round(load_before, 2), round(load_after, 2)],
        worker_errors=pool.log_problems()[:10],
    )
    database.dispose()
    log(
        f"  {name}: dialed {figures['dialed']}/{n}, lag p50 {figures['lag_p50_ms']:.0f} ms"
        f" p99 {figures['lag_p99_ms']:.0f} ms max {figures['lag_max_ms']:.0f} ms,"
        f" {figures['dials_per_second']} dials/s, double dials {figures['double_dials']}"
    )
    return figures

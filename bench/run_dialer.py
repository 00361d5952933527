"""The dialer and webhook benchmarks in one go: ``python -m bench.run_dialer``.

1. Dialer (PostgreSQL): 10,000 callbacks due over one minute, dialed by 1, then (on a
   fresh data set) 3 real worker processes through a fake provider endpoint
   (bench/dialer_bench.py); then the kill variant: 3 workers, two of them SIGKILLed at
   random moments and replaced, with DIAL_LEASE_SECONDS=2 and reconcile every 2 s.
2. Status webhooks under gunicorn with 25% of deliveries duplicated, against a bare
   one-row insert on the same server (bench/webhook_bench.py), on PostgreSQL and SQLite.

Prints figures and a table with each goal and PASS/FAIL beside it (never an assertion;
the exit status is 0 unless the bench itself broke), and saves a JSON and a text copy in
bench/results/dialer-<UTC time>.{json,txt}. About 8-9 minutes on the 2-core machine.

PostgreSQL: its own durable throwaway server (``PGTEST_DIR=/tmp/pg-dialer PGTEST_PORT=54360
PGTEST_DURABLE=1 scripts/pg-test-server.sh start``), stopped at the end; or give
DIALER_POSTGRES_URL to use a running one (its schema ``public`` is dropped!).

Knobs (environment): DIALER_CALLBACKS (10000), DIALER_SPREAD_SECONDS (60),
DIALER_LEAD_SECONDS (20), DIALER_TIMEOUT_SECONDS (45: how long after the last due time a
run may go on), DIALER_KILL_CALLBACKS (2000), DIALER_KILLS (2), DIALER_RUNS
("1w,3w,burst1w,burst3w,kill"; "burstNw": all DIALER_CALLBACKS due at the same instant in
front of N workers, which measures the claim capacity while behind; "paced" adds a
diagnostic run: 3 workers, 10 calls/s, a 6 s lease,
DIALER_PACED_CALLBACKS (300) due within 5 s), WEBHOOK_BACKENDS ("postgresql,sqlite"), WEBHOOK_ATTEMPTS_PER_ROUND (400),
WEBHOOK_ROUNDS (3), WEBHOOK_CLIENTS (16), WEBHOOK_WORKERS (2 gunicorn sync workers),
BENCH_PROFILE=1 (cProfile dumps of the workers' dispatch ticks, in the work directory).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.dialer_bench import REAL_CPS, SIMULATOR_CPS, Sink, run_spread
from bench.pg_server import start_postgres, stop_postgres
from bench.webhook_bench import run_webhooks, sqlite_url

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"

CALLBACKS = int(os.environ.get("DIALER_CALLBACKS", "10000"))
SPREAD = float(os.environ.get("DIALER_SPREAD_SECONDS", "60"))
LEAD = float(os.environ.get("DIALER_LEAD_SECONDS", "20"))
TIMEOUT = float(os.environ.get("DIALER_TIMEOUT_SECONDS", "45"))
KILL_CALLBACKS = int(os.environ.get("DIALER_KILL_CALLBACKS", "2000"))
KILLS = int(os.environ.get("DIALER_KILLS", "2"))
PACED_CALLBACKS = int(os.environ.get("DIALER_PACED_CALLBACKS", "300"))
RUNS = [r.strip() for r in os.environ.get("DIALER_RUNS", "1w,3w,burst1w,burst3w,kill").split(",") if r.strip()]
WEBHOOK_BACKENDS = [b.strip() for b in os.environ.get("WEBHOOK_BACKENDS", "postgresql,sqlite").split(",") if b.strip()]
WEBHOOK_ATTEMPTS = int(os.environ.get("WEBHOOK_ATTEMPTS_PER_ROUND", "400"))
WEBHOOK_ROUNDS = int(os.environ.get("WEBHOOK_ROUNDS", "3"))
WEBHOOK_CLIENTS = int(os.environ.get("WEBHOOK_CLIENTS", "16"))
WEBHOOK_WORKERS = int(os.environ.get("WEBHOOK_WORKERS", "2"))
CAPACITY_GOAL = 100  # claim capacity >= 100x the configured calls per second
PG_ENV = {"PGTEST_DIR": "/tmp/pg-dialer", "PGTEST_PORT": "54360", "PGTEST_DURABLE": "1"}

LINES: list[str] = []


def log(line: str = "") -> None:
    print(line, flush=True)
    LINES.append(line)


@dataclass
class Row:
    run: str
    measure: str
    figure: str
    goal: str
    verdict: str


def verdict(ok: bool | None) -> str:
    return "n/a" if ok is None else ("PASS" if ok else "FAIL")


def dialer_rows(result: dict[str, Any]) -> list[Row]:
    name = result["name"]
    bound = "≥ " if result["lags_are_lower_bounds"] else ""
    rows = []
    short_lease = result["lease_seconds"] < 15
    if name.startswith("burst"):
        rate = result["dials_per_second"] or 0.0
        strictest = max(REAL_CPS.values())
        rows.append(
            Row(
                name,
                f"claim capacity: {result['callbacks']} due at once, drained at",
                f"{rate:.0f} dials/s = {rate / strictest:.0f}× Vonage 3/s"
                f" (lag max {result['lag_max_ms'] / 1000:.1f} s)",
                "≥ 100× CPS (≥ 300/s)",
                verdict(rate >= CAPACITY_GOAL * strictest),
            )
        )
    elif not short_lease:
        rows += [
            Row(
                name,
                "lag due→provider p50 / p99 (net of pacing)",
                f"{bound}{result['net_lag_p50_ms']:.0f} / {bound}{result['net_lag_p99_ms']:.0f} ms",
                "p99 ≤ 100 ms",
                verdict(result["net_lag_p99_ms"] <= 100),
            ),
            Row(
                name,
                "lag due→provider max (net of pacing)",
                f"{bound}{result['net_lag_max_ms']:.0f} ms",
                "≤ 1000 ms",
                verdict(result["net_lag_max_ms"] <= 1000),
            ),
        ]
        rate = result["dials_per_second"] or 0.0
        strictest = max(REAL_CPS.values())
        if result["kept_up"]:
            # It kept up with the arrivals: the rate is only a lower bound of the capacity.
            figure = f"≥ {rate:.0f} dials/s (kept up: a lower bound)"
            ok = True if rate >= CAPACITY_GOAL * strictest else None
        else:
            figure = f"{rate:.1f} dials/s = {rate / strictest:.0f}× Vonage 3/s, {rate:.0f}× Twilio 1/s"
            ok = rate >= CAPACITY_GOAL * strictest
        rows.append(Row(name, "claim capacity (dials/s while behind)", figure, "≥ 100× CPS (≥ 300/s)", verdict(ok)))
        rows.append(Row(name, "claims per second (attempt rows)", f"{result['claims_per_second']}", "", ""))
    rows.append(
        Row(
            name,
            "double dials (numbers dialed > once)",
            f"{result['double_dials']}" + (f" (after {result['killed']} SIGKILLs)" if result["killed"] else ""),
            "0",
            verdict(result["double_dials"] == 0),
        )
    )
    rows.append(
        Row(
            name,
            "never dialed",
            f"{result['never_dialed']} of {result['callbacks']}",
            "0" if short_lease else "",
            verdict(result["never_dialed"] == 0) if short_lease else "",
        )
    )
    if short_lease:
        stale = result["stale_claim_dials"]
        rows.append(
            Row(
                name,
                "dials of claims reconcile had released",
                f"{stale['dials_after_release']} (released {result['released_never_placed']},"
                f" adopted via find_call {result['find_hits']})",
                "",
                "",
            )
        )
    return rows


def webhook_rows(result: dict[str, Any]) -> list[Row]:
    name = f"webhooks {result['backend']}"
    hook, bare, checks = result["hook"], result["bare"], result["checks"]
    return [
        Row(
            name,
            f"throughput vs bare insert ({result['workers']} sync workers, {result['clients']} clients)",
            f"{hook['rps']:.0f} vs {bare['rps']:.0f} req/s = {result['ratio']:.0%}",
            "≥ 75%",
            verdict(result["ratio"] >= 0.75),
        ),
        Row(
            name,
            f"latency p50 / p99 (bare: {bare['p50_ms']:.0f} / {bare['p99_ms']:.0f} ms)",
            f"{hook['p50_ms']:.0f} / {hook['p99_ms']:.0f} ms",
            "p99 ≤ 250 ms",
            verdict(hook["p99_ms"] <= 250),
        ),
        Row(
            name,
            "applying the inbox after the load (in-process)",
            f"{result['applying']['rows']} reports in {result['applying']['seconds']} s"
            f" = {result['applying']['events_per_second']:.0f}/s",
            "",
            "",
        ),
        Row(
            name,
            "exactly one effect per event",
            f"{checks['receipts']} receipts / {checks['distinct_events']} events"
            f" ({checks['receipts_unapplied']} unapplied), "
            f"{checks['callbacks_with_not_one_event']} callbacks ≠ 1 event, "
            f"{checks['attempts_without_outcome']} without outcome",
            "exactly one",
            verdict(bool(checks["exactly_one_effect"])),
        ),
    ]


def table(rows: list[Row]) -> list[str]:
    headers = ("run", "measure", "figure", "goal", "")
    widths = [
        max(len(h), *(len(getattr(r, f)) for r in rows)) for h, f in zip(headers, Row.__dataclass_fields__, strict=True)
    ]
    out = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True))]
    out.append("  ".join("-" * w for w in widths))
    for r in rows:
        out.append("  ".join(str(v).ljust(w) for v, w in zip(asdict(r).values(), widths, strict=True)))
    return out


def code_state() -> str:
    """The commit measured, and whether the app's code had uncommitted changes (a hash of
    the diff, so that two runs can be told apart): read-only git commands."""

    def git(*args: str) -> str:
        completed = subprocess.run(["git", *args], cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
        return completed.stdout

    paths = ("app", "telephony", "scheduler", "ivr_flows", "migrations")
    head = git("rev-parse", "--short", "HEAD").strip() or "unknown"
    diff = git("diff", "HEAD", "--", *paths)
    if not diff:
        return f"{head} (clean)"
    return f"{head} + uncommitted changes (diff sha256 {hashlib.sha256(diff.encode()).hexdigest()[:12]})"


STEPS = (
    ("claim_due", "one claim transaction per batch, turns included"),
    ("reserve_turns", "pacer row, per batch (older dialers)"),
    ("wait_for_turn", "pacer row, per call"),
    ("_sleep_until", "waiting for the turn"),
    ("_may_dial", "fencing before the dial"),
    ("_still_ours", "lease renewal before the dial"),
    ("place_call (HTTP)", "to the sink, in the dial pool"),
    ("_placed", "saving the call id (older dialers)"),
    ("_save_placed", "saving a batch of call ids"),
    ("seconds_until_next_due", "idle polling"),
)


def breakdown(result: dict[str, Any]) -> None:
    timings = result["timings"]
    per = timings["ms_per_call"]
    calls = timings["calls"]
    log(f"  {result['name']}: where a worker's dispatch time goes (wall ms per call, all workers):")
    for key, what in STEPS:
        if key in per:
            log(f"      {key + ' (' + what + ')':<48} {per[key]:>8.2f} ms  × {calls[key]}")
    log(f"      claim batch sizes: {timings['claim_batch_sizes']}")
    dials = max(1, calls.get("place_call (HTTP)", 0))
    log(
        f"      SQL per dial: {calls.get('SQL statements', 0) / dials:.1f} statements,"
        f" {calls.get('SQL commits', 0) / dials:.1f} commits (idle polling included)"
    )
    cpu = result["cpu_ms_per_dial"]
    log(f"      CPU per dial: workers {cpu['workers']} ms, PostgreSQL {cpu['postgresql']} ms")
    log(
        f"      workers still running 5 s after SIGTERM (then SIGKILLed): {result['not_stopped_by_sigterm_in_5s']}"
        f" of {result['workers']}"
    )


def main() -> int:
    started = time.time()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    work = Path(tempfile.mkdtemp(prefix="dialer-bench-"))
    log(f"dialer and webhook benchmarks, {stamp}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    log(f"work directory (logs, profiles): {work}")
    log(f"load average at start: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    code_at_start = code_state()
    log(f"code measured: {code_at_start}")
    own_pg = "DIALER_POSTGRES_URL" not in os.environ
    url = start_postgres(PG_ENV) if own_pg else os.environ["DIALER_POSTGRES_URL"]
    os.environ.setdefault("PGTEST_DIR", PG_ENV["PGTEST_DIR"])
    log(f"PostgreSQL: {url} ({'own durable server, fsync on' if own_pg else 'given'})")
    results: dict[str, Any] = {"stamp": stamp, "cpus": os.cpu_count(), "dialer": [], "webhooks": []}
    rows: list[Row] = []
    try:
        sink = Sink(work)
        try:
            log(f"\nDialer: SIMULATOR_CPS={SIMULATOR_CPS:.0f} (the highest the settings accept), real worker processes")
            for run in RUNS:
                if run == "paced":
                    # Diagnostic (not in the default runs): pacing binds. A scale model of Twilio
                    # (1 call/s) with the default 60 s lease, time divided by 10: 10 calls/s, a 6 s
                    # lease; 3 workers each claim up to 50 at a time, so claims wait up to 15 s.
                    result = run_spread(
                        url, work, sink, workers=3, n=PACED_CALLBACKS, lead=LEAD, spread=5, cps=10, lease=6,
                        timeout=120, log=log,
                    )  # fmt: skip
                    log(
                        f"  {result['name']}: {result['dials_per_second']} dials/s against 10 allowed;"
                        f" drained {result['seconds_after_last_due']} s after the last due time (ideal: 25 s)"
                    )
                    stale = result["stale_claim_dials"]
                    log(
                        f"  {result['name']}: reconcile released {result['released_never_placed']} attempts as never"
                        f" placed; {stale['dials_after_release']} dials of already released attempts"
                        f" ({stale['numbers']} numbers)"
                    )
                elif run == "kill":
                    result = run_spread(
                        url, work, sink, workers=3, n=KILL_CALLBACKS, lead=LEAD, spread=SPREAD, kills=KILLS,
                        timeout=max(TIMEOUT, 90.0), log=log,
                    )  # fmt: skip
                    stale = result["stale_claim_dials"]
                    log(
                        f"  {result['name']}: reconcile released {result['released_never_placed']} attempts as never"
                        f" placed, adopted calls found at the sink {result['find_hits']}/{result['finds']} lookups;"
                        f" {stale['dials_after_release']} dials of already released attempts"
                        f" ({stale['numbers']} numbers)"
                    )
                elif run.startswith("burst"):
                    workers = int(run.removeprefix("burst").rstrip("w"))
                    result = run_spread(
                        url, work, sink, workers=workers, n=CALLBACKS, lead=LEAD, spread=0.0, timeout=TIMEOUT,
                        log=log,
                    )  # fmt: skip
                    breakdown(result)
                else:
                    workers = int(run.rstrip("w"))
                    result = run_spread(
                        url, work, sink, workers=workers, n=CALLBACKS, lead=LEAD, spread=SPREAD, timeout=TIMEOUT,
                        log=log,
                    )  # fmt: skip
                    breakdown(result)
                results["dialer"].append(result)
                rows += dialer_rows(result)
        finally:
            sink.stop()
        log(f"\nStatus webhooks: gunicorn {WEBHOOK_WORKERS} sync workers, {WEBHOOK_CLIENTS} keep-alive clients")
        for backend in WEBHOOK_BACKENDS:
            backend_url = url if backend == "postgresql" else sqlite_url(work)
            result = run_webhooks(
                backend_url, work, backend=backend, attempts_per_round=WEBHOOK_ATTEMPTS, rounds=WEBHOOK_ROUNDS,
                clients=WEBHOOK_CLIENTS, workers=WEBHOOK_WORKERS, log=log,
            )  # fmt: skip
            log(f"    checks: {json.dumps(result['checks'])}")
            log(f"    SQL statements per delivery (bare insert: 1): {result['statements_per_delivery']}")
            results["webhooks"].append(result)
            rows += webhook_rows(result)
    finally:
        if own_pg:
            stop_postgres(PG_ENV)
    log("")
    for line in table(rows):
        log(line)
    elapsed = time.time() - started
    log(f"\n{elapsed / 60:.1f} minutes; load average at the end: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
    code_at_end = code_state()
    if code_at_end != code_at_start:
        log(f"WARNING: the code changed during the run (now {code_at_end}): the figures mix two versions")
    results["code"] = {"start": code_at_start, "end": code_at_end}
    results["rows"] = [asdict(r) for r in rows]
    results["seconds"] = round(elapsed, 1)
    for webhook in results["webhooks"]:
        for side in ("hook", "bare"):
            webhook[side].pop("samples", None)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"dialer-{stamp}.json").write_text(json.dumps(results, indent=2, default=str), encoding="utf-8")
    (RESULTS / f"dialer-{stamp}.txt").write_text("\n".join(LINES) + "\n", encoding="utf-8")
    log(f"saved bench/results/dialer-{stamp}.json and .txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())

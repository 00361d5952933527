"""The status-webhook benchmark: the real webhook route under gunicorn, 25% of deliveries
duplicated, against a bare endpoint that inserts one row, in the same run.

Per backend: a fresh migrated database with the bench queue (bench/dialer_bench.py),
N callbacks in ``dialing`` with one attempt each that has a call id (inserted directly),
and one gunicorn serving ``bench.bench_app:app`` (the real app plus the bench-only
``POST /bench/bare-insert``, which inserts one row with SQLAlchemy Core) with the same
sync workers for both endpoints, ``PUBLIC_BASE_URL`` set to its own address.

Each attempt gets two simulator-format status events, ``ringing`` (sequence 1) and a
terminal ``busy`` or ``no_answer`` (sequence 2), POSTed as JSON to
``/webhooks/simulator/voice/event/<token>`` and signed with ``telephony.simulator.sign``
over the public URL. Per block of 100 attempts the ringing events go first, then the
terminal ones; 25% of deliveries are sent twice, the copy 1-40 places later in the plan
(so some copies race their original, as a provider's retry after a slow answer does).
The load generator (bench/webhook_load.py) is its own process with K keep-alive clients.

Rounds alternate (bare, webhooks, webhooks, bare, ...), each webhook round with its own
attempts and each bare round with as many requests; throughput is total requests over
total seconds per side, latencies are pooled. The webhook only stores each report in the
inbox (services/call_inbox.py); once the load is over, the bench runs the worker's applier
in-process until the inbox is empty and times it (events applied per second, SQL
statements per event). Then the database must show exactly one effect per event: one
receipt per distinct event, none left unapplied, every attempt with its terminal state and
one outcome, one life-cycle event per callback, at most one text per callback, and seats
that still add up.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, insert, select, update

from bench.dialer_bench import PHONE_START, SECRET, fresh_database, percentile
from bench.server import BIN, free_port
from infra.clock import SystemClock
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent, Slot, WebhookReceipt
from infra.settings import Settings
from infra.text_models import SmsMessage
from services.call_inbox import apply_call_events
from services.dialer.urls import WebhookUrls
from telephony.simulator import sign

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
DUPLICATE_SHARE = 0.25
BLOCK = 100


def insert_dialing(database: Database, queue_id: int, slot_id: int, n: int) -> list[tuple[int, str]]:
    """N callbacks on a call (state dialing, one attempt with a call id); returns (attempt id, call id)."""
    now = datetime.now(UTC)
    callbacks = [
        {
            "ref": f"WH{i:010d}",
            "queue_id": queue_id,
            "phone": f"+44{PHONE_START + i}",
            "fields": [],
            "tags": [],
            "source": "api",
            "kind": "scheduled",
            "slot_id": slot_id,
            "state": "dialing",
            "attempts": 1,
            "next_attempt_at": None,
            "lease_owner": "bench",
            "lease_until": now + timedelta(minutes=30),
            "dial_errors": 0,
            "locale": "en",
            "sms_consent": True,
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]
    with database.engine.begin() as connection:
        connection.execute(insert(Callback.__table__), callbacks)
        connection.execute(update(Slot.__table__).where(Slot.id == slot_id).values(booked=Slot.booked + n))
        ids = connection.execute(select(Callback.id).order_by(Callback.id)).scalars().all()
        connection.execute(
            insert(Attempt.__table__),
            [
                {
                    "callback_id": callback_id,
                    "number": 1,
                    "provider": "simulator",
                    "call_id": f"SIMBENCH{callback_id:010d}",
                    "call_state": "queued",
                    "agent_first": False,
                    "requested_at": now,
                    "started_at": now,
                }
                for callback_id in ids
            ],
        )
        rows = connection.execute(select(Attempt.id, Attempt.call_id).order_by(Attempt.id)).all()
    return [(int(a), str(c)) for a, c in rows]


def terminal_state(call_id: str) -> str:
    return "busy" if int(call_id[-10:]) % 2 == 0 else "no_answer"


def webhook_plan(attempts: list[tuple[int, str]], base: str, rng: random.Random) -> tuple[list[list[Any]], int]:
    """The deliveries for these attempts (with duplicates) and the number of distinct events."""
    urls = WebhookUrls(base, SECRET)
    events: list[tuple[str, str]] = []
    for start in range(0, len(attempts), BLOCK):
        block = attempts[start : start + BLOCK]
        for sequence in (1, 2):
            for attempt_id, call_id in block:
                state = "ringing" if sequence == 1 else terminal_state(call_id)
                path = f"/webhooks/simulator/voice/event/{urls.token(attempt_id)}"
                body = json.dumps({"call_id": call_id, "state": state, "sequence": sequence, "duration": 0})
                events.append((path, body))
    keyed: list[tuple[float, list[Any]]] = []
    for i, (path, body) in enumerate(events):
        delivery = [path, body, sign(SECRET, "POST", base + path, body.encode())]
        keyed.append((float(i), delivery))
        if rng.random() < DUPLICATE_SHARE:
            keyed.append((i + rng.uniform(1, 40), delivery))
    keyed.sort(key=lambda kv: kv[0])
    return [d for _, d in keyed], len(events)


def bare_plan(count: int, first: int) -> list[list[Any]]:
    """As many bare inserts, with bodies of the same shape and size."""
    return [
        [
            "/bench/bare-insert",
            json.dumps({"call_id": f"SIMBENCH{first + i:010d}", "state": "ringing", "sequence": 1, "duration": 0}),
            None,
        ]
        for i in range(count)
    ]


class WebServer:
    """gunicorn serving bench.bench_app:app on a port chosen first (PUBLIC_BASE_URL names it)."""

    def __init__(self, port: int, env: dict[str, str], workers: int, log_path: Path) -> None:
        self.port = port
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [
                str(BIN / "gunicorn"),
                *("--workers", str(workers), "--bind", f"{HOST}:{port}", "--error-logfile", "-"),
                "bench.bench_app:app",
            ],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {log_path}")
            try:
                conn = http.client.HTTPConnection(HOST, port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not answer on {port}")

    def problems(self) -> list[str]:
        self._log.flush()
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return [line for line in text.splitlines() if "Traceback" in line or " ERROR " in line or "[ERROR]" in line]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def load(port: int, plan: list[list[Any]], clients: int, plan_path: Path) -> dict[str, Any]:
    plan_path.write_text(json.dumps(plan), encoding="utf-8")
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.webhook_load",
            "--port",
            str(port),
            "--clients",
            str(clients),
            "--plan",
            str(plan_path),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        check=True,
    )
    for line in completed.stdout.splitlines():
        if line.startswith("RESULT "):
            result: dict[str, Any] = json.loads(line[len("RESULT ") :])
            return result
    raise RuntimeError("the webhook load generator printed no RESULT line")


def effects(database: Database, queue_id: int, distinct_events: int) -> dict[str, Any]:
    """What the database shows after the run: exactly one effect per event, or not."""
    with database.read() as session:
        receipts = session.scalar(select(func.count()).select_from(WebhookReceipt)) or 0
        unapplied = (
            session.scalar(select(func.count()).select_from(WebhookReceipt).where(WebhookReceipt.applied_at.is_(None)))
            or 0
        )
        attempts = session.execute(select(Attempt.call_id, Attempt.call_state, Attempt.outcome)).all()
        per_callback = Counter(
            n
            for _, n in session.execute(
                select(CallbackEvent.callback_id, func.count()).group_by(CallbackEvent.callback_id)
            ).all()
        )
        callbacks = session.scalar(select(func.count()).select_from(Callback)) or 0
        steps = Counter(
            f"{step}->{to}"
            for step, to, n in session.execute(
                select(CallbackEvent.step, CallbackEvent.to_state, func.count()).group_by(
                    CallbackEvent.step, CallbackEvent.to_state
                )
            ).all()
            for _ in range(n)
        )
        texts = Counter(
            n
            for _, n in session.execute(
                select(SmsMessage.callback_id, func.count()).group_by(SmsMessage.callback_id)
            ).all()
        )
        booked = session.scalar(select(func.coalesce(func.sum(Slot.booked), 0)).where(Slot.queue_id == queue_id)) or 0
        holding = (
            session.scalar(
                select(func.count())
                .select_from(Callback)
                .where(Callback.slot_id.is_not(None), Callback.state != "cancelled")
            )
            or 0
        )
    wrong_state = sum(1 for call_id, state, _ in attempts if state != terminal_state(call_id))
    no_outcome = sum(1 for _, _, outcome in attempts if outcome is None)
    with_one_event = per_callback.get(1, 0)
    checks = {
        "receipts": receipts,
        "distinct_events": distinct_events,
        "receipts_unapplied": unapplied,
        "attempts": len(attempts),
        "attempts_without_outcome": no_outcome,
        "attempts_not_in_their_terminal_state": wrong_state,
        "callbacks": callbacks,
        "callbacks_with_not_one_event": callbacks - with_one_event,
        "events_by_step": dict(steps),
        "callbacks_with_more_than_one_text": sum(v for k, v in texts.items() if k > 1),
        "texts": sum(k * v for k, v in texts.items()),
        "seats_booked": int(booked),
        "callbacks_holding_a_seat": int(holding),
    }
    checks["exactly_one_effect"] = (
        receipts == distinct_events
        and unapplied == 0
        and no_outcome == 0
        and wrong_state == 0
        and checks["callbacks_with_not_one_event"] == 0
        and checks["callbacks_with_more_than_one_text"] == 0
        and booked == holding
    )
    return checks


def bench_settings(url: str, run_dir: Path, base: str) -> Settings:
    return Settings(
        database_url=url, secret_key=SECRET, instance_path=run_dir, public_base_url=base, log_level="WARNING"
    )


def statements_per_delivery(url: str, run_dir: Path, base: str, plan: list[list[Any]]) -> dict[str, int]:
    """SQL statements (savepoints included) one delivery costs, counted in-process with the
    Flask test client on the same database: a first ringing, a first terminal, a duplicate.
    (The webhook stores the report; applying it is counted by apply_inbox.)"""
    from app.factory import create_app

    app = create_app(bench_settings(url, run_dir, base))
    engine = app.extensions["db"].engine
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", count)
    client = app.test_client()
    ringing = next(d for d in plan if '"sequence": 1' in d[1])
    terminal = next(d for d in plan if '"sequence": 2' in d[1] and d[0] == ringing[0])
    counts = {}
    for label, (path, body, signature) in (("ringing", ringing), ("terminal", terminal), ("duplicate", terminal)):
        statements.clear()
        response = client.post(
            path, data=body, headers={"Content-Type": "application/json", "X-Simulator-Signature": signature}
        )
        if response.status_code != 204:
            raise RuntimeError(f"webhook answered {response.status_code}: {response.get_data(as_text=True)[:200]}")
        counts[label] = len(statements)
    event.remove(engine, "before_cursor_execute", count)
    app.extensions["db"].dispose()
    return counts


def apply_inbox(database: Database, run_dir: Path, base: str) -> dict[str, Any]:
    """What the worker's apply_call_events tick does, in-process, until the inbox is empty:
    how long applying the stored reports takes, and the SQL statements it sends per report."""
    settings = bench_settings(database.url, run_dir, base)
    statements = 0

    def count(*_args: Any) -> None:
        nonlocal statements
        statements += 1

    event.listen(database.engine, "before_cursor_execute", count)
    rows = batches = 0
    started = time.perf_counter()
    try:
        while taken := apply_call_events(database, SystemClock(), settings):
            rows += taken
            batches += 1
    finally:
        seconds = time.perf_counter() - started
        event.remove(database.engine, "before_cursor_execute", count)
    return {
        "rows": rows,
        "batches": batches,
        "seconds": round(seconds, 2),
        "events_per_second": round(rows / seconds, 1) if seconds else 0.0,
        "statements_per_event": round(statements / rows, 1) if rows else 0.0,
    }


def run_webhooks(
    url: str,
    work: Path,
    *,
    backend: str,
    attempts_per_round: int,
    rounds: int,
    clients: int,
    workers: int,
    seed: int = 2,
    log: Any = print,
) -> dict[str, Any]:
    run_dir = work / f"webhooks-{backend}"
    run_dir.mkdir(parents=True, exist_ok=True)
    database, queue_id, slot_id = fresh_database(url, run_dir)
    warm = 100
    total = warm + attempts_per_round * rounds
    attempts = insert_dialing(database, queue_id, slot_id, total)
    port = free_port()
    base = f"http://{HOST}:{port}"
    rng = random.Random(seed)
    warm_plan, distinct = webhook_plan(attempts[:warm], base, rng)
    hook_plans = []
    for r in range(rounds):
        chunk = attempts[warm + r * attempts_per_round : warm + (r + 1) * attempts_per_round]
        plan, events = webhook_plan(chunk, base, rng)
        hook_plans.append(plan)
        distinct += events
    # The first warm-up attempt's events go through the test client first (counted); in the
    # warm-up they arrive again as duplicates, so the number of distinct events is unchanged.
    statements = statements_per_delivery(url, run_dir, base, warm_plan)
    env = {
        "DATABASE_URL": url,
        "SECRET_KEY": SECRET,
        "INSTANCE_PATH": str(run_dir),
        "TELEPHONY_PROVIDER": "simulator",
        "PUBLIC_BASE_URL": base,
        "LOG_LEVEL": "WARNING",
        "API_RATE_LIMIT": "1000000/second",  # the load comes from one address
        "ALLOW_PER_PROCESS_RATE_LIMITS": "true",  # a limit nobody reaches: no shared store needed
    }
    server = WebServer(port, env, workers, run_dir / "gunicorn.log")
    hook: list[dict[str, Any]] = []
    bare: list[dict[str, Any]] = []
    load_avg = [round(x, 2) for x in os.getloadavg()]
    try:
        load(port, warm_plan, clients, run_dir / "warm.json")
        load(port, bare_plan(len(warm_plan), 0), clients, run_dir / "warm-bare.json")
        for r in range(rounds):
            hook_first = r % 2 == 1
            for side in ("hook", "bare") if hook_first else ("bare", "hook"):
                if side == "hook":
                    hook.append(load(port, hook_plans[r], clients, run_dir / f"hook{r}.json"))
                else:
                    bare.append(
                        load(port, bare_plan(len(hook_plans[r]), r * 100_000), clients, run_dir / f"bare{r}.json")
                    )
        problems = server.problems()
    finally:
        server.stop()
    load_avg.extend(round(x, 2) for x in os.getloadavg())
    applying = apply_inbox(database, run_dir, base)
    checks = effects(database, queue_id, distinct)
    database.dispose()

    def side(results: list[dict[str, Any]]) -> dict[str, Any]:
        latencies = sorted(x for r in results for x in r["latencies"])
        status: Counter[str] = Counter()
        for r in results:
            status.update(r["status"])
        seconds = sum(r["seconds"] for r in results)
        return {
            "requests": len(latencies),
            "seconds": round(seconds, 2),
            "rps": round(len(latencies) / seconds, 1) if seconds else 0.0,
            "p50_ms": round(percentile(latencies, 50) * 1000, 1),
            "p99_ms": round(percentile(latencies, 99) * 1000, 1),
            "max_ms": round(latencies[-1] * 1000, 1) if latencies else float("nan"),
            "status": dict(status),
            "rounds_rps": [r["rps"] for r in results],
            "samples": [s for r in results for s in r["samples"]][:3],
        }

    result = {
        "backend": backend,
        "workers": workers,
        "clients": clients,
        "attempts": total,
        "hook": side(hook),
        "bare": side(bare),
        "checks": checks,
        "statements_per_delivery": statements,
        "applying": applying,
        "server_errors": problems[:10],
        "load_average_before_after": load_avg,
    }
    result["ratio"] = round(result["hook"]["rps"] / result["bare"]["rps"], 3) if result["bare"]["rps"] else 0.0
    log(
        f"  webhooks {backend}: {result['hook']['rps']} req/s vs bare {result['bare']['rps']} req/s"
        f" ({result['ratio']:.0%}), p99 {result['hook']['p99_ms']} ms, one effect per event:"
        f" {checks['exactly_one_effect']}; applier: {applying['rows']} reports in {applying['seconds']} s"
        f" = {applying['events_per_second']} reports/s ({applying['statements_per_event']} statements each)"
    )
    return result


def sqlite_url(work: Path) -> str:
    return f"sqlite:///{work / 'webhooks.db'}"

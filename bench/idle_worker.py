"""A worker with nothing to do, and how fast it still reacts: ``python -m bench.idle_worker``
(``make bench-idle``; PostgreSQL too when BENCH_POSTGRES_URL is set).

Per backend: a fresh migrated database with a queue open around the clock and nothing
due, then ``flask callbacks worker`` (the phone simulator as the provider) in its own
process. After a warm-up, its CPU time (user + system, /proc) over IDLE_SECONDS (default
60) as a share of one core. Then REACTIONS times: an ASAP callback is booked (due at once)
from this process, and the time until the worker's call reaches the simulator is taken:
the lag a sleeping worker adds. Printed, never asserted.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

from bench import data
from infra.db import Database
from infra.simulator_models import SimCall
from services.booking_service import BookingRequest, book

ROOT = Path(__file__).resolve().parent.parent
IDLE_SECONDS = float(os.environ.get("IDLE_SECONDS", "60"))
WARMUP_SECONDS = 10.0
REACTIONS = int(os.environ.get("IDLE_REACTIONS", "10"))
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime


def calls(database: Database) -> int:
    with database.read() as session:
        return int(session.scalar(select(func.count()).select_from(SimCall)) or 0)


def measure(name: str, url: str, work: Path) -> None:
    instance = work / name
    instance.mkdir()
    data.reset_database(url, instance)
    database = Database(data.settings_for(url, instance))
    data.create_queues(database, {"idle": 10}, datetime.now(UTC))
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SECRET_KEY": "bench-secret",
        "INSTANCE_PATH": str(instance),
        "TELEPHONY_PROVIDER": "simulator",
        "LOG_LEVEL": "WARNING",
    }
    log = open(work / f"worker-{name}.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "callbacks", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        time.sleep(WARMUP_SECONDS)
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        before, started = cpu_seconds(worker.pid), time.monotonic()
        time.sleep(IDLE_SECONDS)
        used, elapsed = cpu_seconds(worker.pid) - before, time.monotonic() - started
        print(f"{name}: idle worker {used / elapsed:.2%} of one core over {elapsed:.0f} s (load average {load})")
        lags = []
        for n in range(REACTIONS):
            seen = calls(database)
            with database.write() as session:
                request = BookingRequest(queue="idle", phone=f"+4474009{n:05d}", kind="asap", source="api")
                book(session, request, datetime.now(UTC), "bench")
            booked = time.monotonic()
            while calls(database) == seen and time.monotonic() - booked < 10:
                time.sleep(0.002)
            lags.append((time.monotonic() - booked) * 1000)
            time.sleep(1.0)  # asleep again before the next one
        print(
            f"{name}: booked due now -> call placed: median {statistics.median(lags):.0f} ms,"
            f" max {max(lags):.0f} ms over {REACTIONS} bookings"
        )
    finally:
        worker.terminate()
        worker.wait(timeout=60)
        log.close()
        database.dispose()


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="callbacks-idle-") as tmp:
        work = Path(tmp)
        measure("sqlite", f"sqlite:///{work / 'idle.db'}", work)
        postgres = os.environ.get("BENCH_POSTGRES_URL")
        if postgres:
            measure("postgresql", postgres, work)
        else:
            print("postgresql: skipped (BENCH_POSTGRES_URL is not set; make bench-idle sets it)")


if __name__ == "__main__":
    main()

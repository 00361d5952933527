"""The scale-out topology, for real: two web servers (gunicorn, two processes each, on two
ports, as on two machines) and two workers, sharing PostgreSQL and Redis, under booking
and dialing load on the simulator. It checks what must hold across every process: one
per-address allowance, no overbooked slot, no callback dialed twice, each worker's own
/metrics, and the daily job run once for the cluster."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import pytest
import requests
from sqlalchemy import func, select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, JobRun, Queue, Slot
from infra.settings import Settings
from infra.simulator_models import SimCall
from services.accounts import new_api_key
from tests.integration.helpers import phone
from tests.integration.test_worker_processes import ALL_DAY, wait_until

ROOT = Path(__file__).resolve().parents[2]
WEB_PROCESSES_EACH = 2
SCARCE_SEATS = 3
ASAP_BOOKINGS = 40
RACERS = 30  # bookings racing for the scarce slot's seats
ADDRESS_LIMIT = 12  # per minute, from one address, over every web process together

pytestmark = pytest.mark.postgres_only


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Cluster:
    """The processes of the topology, their logs in tmp_path; all killed at teardown."""

    def __init__(self, settings: Settings, redis_url: str, tmp_path: Path) -> None:
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "INSTANCE_PATH": str(tmp_path),
            "TELEPHONY_PROVIDER": "simulator",
            "RATE_LIMIT_STORAGE_URI": redis_url,
            "API_RATE_LIMIT": f"{ADDRESS_LIMIT}/minute",
            "SIMULATOR_CPS": "200",
            "DIAL_LEASE_SECONDS": "10",
            "LOG_LEVEL": "WARNING",
        }
        for name in ("PROMETHEUS_MULTIPROC_DIR", "ALLOW_PER_PROCESS_RATE_LIMITS", "WORKER_METRICS_PORT"):
            self.env.pop(name, None)
        self.processes: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.web_ports: list[int] = []
        self.metrics_ports: list[int] = []

    def _start(self, name: str, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        log = open(self.tmp_path / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self.logs.append(log)
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def start_web(self) -> str:
        """A web "machine": gunicorn with two processes sharing a metrics directory of its own."""
        port = _free_port()
        metrics_dir = self.tmp_path / f"web{port}-metrics"
        metrics_dir.mkdir()
        env = {**self.env, "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
        command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--no-control-socket"]
        command += ["--workers", str(WEB_PROCESSES_EACH), "--bind", f"127.0.0.1:{port}", "wsgi:app"]
        self._start(f"web{port}", command, env)
        base = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(f"{base}/healthz"), 60, f"gunicorn on {port}")
        self.web_ports.append(port)
        return base

    def start_worker(self) -> str:
        """A worker "machine" with no web process: its own /metrics."""
        port = _free_port()
        env = {**self.env, "WORKER_METRICS_PORT": str(port), "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.web_ports[0]}"}
        self._start(f"worker{port}", [sys.executable, "-m", "flask", "--app", "wsgi", "callbacks", "worker"], env)
        url = f"http://127.0.0.1:{port}/metrics"
        wait_until(lambda: _answers(url), 30, f"the worker's metrics on {port}")
        self.metrics_ports.append(port)
        return url

    def stop(self) -> list[int | None]:
        for process in self.processes:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = []
        for process in self.processes:
            try:
                codes.append(process.wait(timeout=30))
            except subprocess.TimeoutExpired:
                process.kill()
                codes.append(process.wait(timeout=10))
        for log in self.logs:
            log.close()
        return codes


def _answers(url: str) -> bool:
    """Whether ``url`` answers 200 yet: a refused connection, or one accepted by a server still
    loading the app that does not answer in time (a loaded CI machine), is "not yet"."""
    try:
        return requests.get(url, timeout=2).status_code == 200
    except (requests.ConnectionError, requests.Timeout):
        return False


@pytest.fixture
def cluster(settings: Settings, empty_redis: str, tmp_path: Path) -> Iterator[Cluster]:
    running = Cluster(settings, empty_redis, tmp_path)
    yield running
    running.stop()


def _metric(body: str, name: str) -> float:
    return sum(float(line.rsplit(" ", 1)[1]) for line in body.splitlines() if line.startswith(name))


def test_the_limits_metrics_and_jobs_hold_across_two_web_servers_and_two_workers(
    cluster: Cluster, db: Database, clock: FixedClock, make_queue
) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime.now(UTC))  # the processes run on the real clock
    make_queue(weekly_hours=ALL_DAY, estimated_wait_seconds=0, max_concurrent_calls=500)
    scarce_hours = [{**day, "capacity": SCARCE_SEATS} for day in ALL_DAY]
    make_queue(key="scarce", name="Scarce", weekly_hours=scarce_hours, estimated_wait_seconds=0)
    with db.write() as session:
        key, _ = new_api_key(session, "load", "test", clock.now(), role="client")
    auth = {"Authorization": f"Bearer {key}"}

    webs = [cluster.start_web(), cluster.start_web()]
    metrics_urls = [cluster.start_worker(), cluster.start_worker()]

    # One address, every web process: one allowance of ADDRESS_LIMIT a minute between them.
    codes = [requests.get(f"{webs[n % 2]}/api/v1/queues/support", timeout=10).status_code for n in range(30)]
    assert codes.count(200) == ADDRESS_LIMIT and codes[:ADDRESS_LIMIT] == [200] * ADDRESS_LIMIT
    assert set(codes[ADDRESS_LIMIT:]) == {429}

    # Booking load (a CRM's key: not held to the per-address limit), over both servers at once.
    def scarce_slots(n: int) -> list[dict[str, Any]]:
        answer = requests.get(f"{webs[n % 2]}/api/v1/queues/scarce/slots", headers=auth, timeout=10)
        assert answer.status_code == 200
        return list(answer.json()["slots"])

    before = [scarce_slots(n) for n in range(8)]  # every web process keeps its slot list
    first_slot = before[0][0]
    assert all(answer == before[0] for answer in before)

    def post(n: int, body: dict[str, Any]) -> int:
        answer = requests.post(f"{webs[n % 2]}/api/v1/callbacks", json=body, headers=auth, timeout=30)
        return answer.status_code

    with ThreadPoolExecutor(max_workers=16) as pool:
        scarce = list(
            pool.map(
                lambda n: post(
                    n,
                    {
                        "queue": "scarce",
                        "phone": phone(1000 + n),
                        "kind": "scheduled",
                        "slot_start": first_slot["start"],
                    },
                ),
                range(RACERS),
            )
        )
        asap = list(
            pool.map(lambda n: post(n, {"queue": "support", "phone": phone(n), "kind": "asap"}), range(ASAP_BOOKINGS))
        )
    assert scarce.count(201) == SCARCE_SEATS and set(scarce) == {201, 409}
    # The kept slot lists of every process on both machines: the booked-out slot is gone from each.
    after = [scarce_slots(n) for n in range(8)]
    assert all(answer == before[0][1:] for answer in after)
    assert asap == [201] * ASAP_BOOKINGS

    # Both workers dial every due callback, each exactly once.
    wait_until(lambda: _count(db, select(func.count()).select_from(SimCall)) >= ASAP_BOOKINGS, 60, "every dial")
    time.sleep(2)  # more dispatch passes: nothing is dialed again
    with db.read() as session:
        per_number = session.execute(select(SimCall.to, func.count()).group_by(SimCall.to)).all()
        overbooked = session.scalar(select(func.count()).select_from(Slot).where(Slot.booked > Slot.capacity))
        scarce_booked = session.scalar(
            select(func.sum(Slot.booked)).join(Queue, Queue.id == Slot.queue_id).where(Queue.key == "scarce")
        )
        live_scarce = session.scalar(
            select(func.count())
            .select_from(Callback)
            .join(Queue, Queue.id == Callback.queue_id)
            .where(Queue.key == "scarce")
        )
    assert len(per_number) == ASAP_BOOKINGS and {n for _, n in per_number} == {1}
    assert overbooked == 0 and scarce_booked == live_scarce == SCARCE_SEATS

    # Each worker's own /metrics counts its own dials; together, every dial.
    bodies = [requests.get(url, timeout=5).text for url in metrics_urls]
    dials = [_metric(body, 'dispatch_lag_seconds_count{provider="simulator"}') for body in bodies]
    assert sum(dials) == ASAP_BOOKINGS

    # The daily and hourly jobs: run once for the cluster, however many workers ask.
    done = select(func.count()).select_from(JobRun).where(JobRun.last_finished_at.is_not(None))
    wait_until(lambda: _count(db, done) == 3, 30, "the periodic jobs to finish")
    with db.read() as session:
        runs = {row.name: row.runs for row in session.scalars(select(JobRun))}
    assert runs == {"anonymise": 1, "extend_slots": 1, "forget_expired": 1}

    codes_at_stop = cluster.stop()
    assert codes_at_stop == [0, 0, 0, 0], "every process stops cleanly on SIGTERM"


def _count(db: Database, statement: Any) -> int:
    with db.read() as session:
        return int(session.scalar(statement) or 0)

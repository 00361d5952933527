"""Real worker processes: one killed with SIGKILL mid-dial is reconciled without a
second dial, three workers sharing a database dial every due callback once, and two
workers starting together run each daily and hourly job once between them."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, JobRun, WorkerHeartbeat
from infra.settings import Settings
from infra.simulator_models import SimCall
from tests.integration.helpers import book

ROOT = Path(__file__).resolve().parents[2]
ALL_DAY = [
    {"weekday": d, "opens": "00:00", "closes": "00:00", "slot_minutes": 60, "capacity": 500}
    for d in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
]


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def start_worker(settings: Settings, tmp_path: Path) -> Iterator[Callable[..., subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    logs: list[IO[bytes]] = []

    def start(**env: str) -> subprocess.Popen[bytes]:
        environment = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "INSTANCE_PATH": str(tmp_path),
            "TELEPHONY_PROVIDER": "simulator",
            "DIAL_LEASE_SECONDS": "2",
            "SIMULATOR_CPS": "500",
            "LOG_LEVEL": "WARNING",
            **env,
        }
        log = open(tmp_path / f"worker{len(started)}.log", "wb")  # noqa: SIM115 - closed at teardown
        logs.append(log)
        process = subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "wsgi", "callbacks", "worker"],
            cwd=ROOT,
            env=environment,
            stdout=subprocess.DEVNULL,
            stderr=log,
        )
        started.append(process)
        return process

    yield start
    for process in started:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
    for log in logs:
        log.close()


@pytest.fixture
def live_queue(make_queue, clock: FixedClock) -> str:  # type: ignore[no-untyped-def]
    clock.set(datetime.now(UTC))  # the worker processes run on the real clock
    return str(make_queue(weekly_hours=ALL_DAY, estimated_wait_seconds=0, max_concurrent_calls=500))


def count(db: Database, statement) -> int:  # type: ignore[no-untyped-def]
    with db.read() as session:
        return int(session.scalar(statement) or 0)


def test_a_worker_killed_mid_dial_is_reconciled_and_never_dials_twice(
    client: FlaskClient,
    live_queue: str,
    db: Database,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    ref = book(client, 1).get_json()["ref"]
    doomed = start_worker(SIMULATOR_LATENCY_MS="5000")  # the call is placed, the API's answer lags
    wait_until(lambda: count(db, select(func.count()).select_from(SimCall)) == 1, 30, "the call to be placed")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=10)
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        attempt = session.scalars(select(Attempt)).one()
    assert callback.state == "dialing" and attempt.call_id is None  # died before saving the call id

    start_worker()  # a survivor: reconciles once the lease (2 s) has run out
    wait_until(
        lambda: count(db, select(func.count()).select_from(Attempt).where(Attempt.call_id.is_not(None))) == 1,
        30,
        "the attempt to be reconciled with the provider's call",
    )
    time.sleep(3)  # several more ticks: still one call, still one attempt
    assert count(db, select(func.count()).select_from(SimCall)) == 1
    assert count(db, select(func.count()).select_from(Attempt)) == 1
    with db.read() as session:
        sim = session.scalars(select(SimCall)).one()
        attempt = session.scalars(select(Attempt)).one()
        state, attempts = session.execute(select(Callback.state, Callback.attempts).where(Callback.ref == ref)).one()
    assert attempt.call_id == sim.call_id and state == "dialing"
    assert attempts == 1  # the placed call counts, though its worker never saved it (issue 16, finding 8)


@pytest.mark.postgres_only
def test_three_workers_dial_every_due_callback_exactly_once(
    client: FlaskClient,
    live_queue: str,
    db: Database,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    for n in range(90):
        assert book(client, n).status_code == 201
    workers = [start_worker() for _ in range(3)]
    wait_until(lambda: count(db, select(func.count()).select_from(SimCall)) >= 90, 60, "90 calls")
    time.sleep(2)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(timeout=20) == 0  # a clean stop on SIGTERM
    with db.read() as session:
        per_number = session.execute(select(SimCall.to, func.count()).group_by(SimCall.to)).all()
    assert len(per_number) == 90 and {n for _, n in per_number} == {1}
    # One attempt per call placed. A worker that fell behind its 2-second lease does not
    # dial (fencing); its claim is released later and shows as a failed, never-placed attempt.
    assert count(db, select(func.count()).select_from(Attempt).where(Attempt.call_id.is_not(None))) == 90
    assert (
        count(
            db,
            select(func.count())
            .select_from(Attempt)
            .where(
                Attempt.call_id.is_(None), Attempt.outcome.is_distinct_from("failed"), Attempt.call_state != "requested"
            ),
        )
        == 0
    )


def test_sigterm_under_a_backlog_stops_the_worker_and_hands_back_what_it_did_not_dial(
    client: FlaskClient,
    live_queue: str,
    db: Database,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    for n in range(40):
        assert book(client, n).status_code == 201
    # 2 calls a second: the worker claims all 40 at once, their turns spread over 20 s.
    worker = start_worker(SIMULATOR_CPS="2", DIAL_LEASE_SECONDS="60")
    wait_until(lambda: count(db, select(func.count()).select_from(SimCall)) >= 2, 30, "the first calls")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=10) == 0  # it does not sit out the other 19 s of turns
    calls = count(db, select(func.count()).select_from(SimCall))
    assert 2 <= calls < 40
    with db.read() as session:
        callbacks = session.execute(select(Callback.state, Callback.lease_owner, Callback.attempts)).all()
        attempts = session.execute(select(Attempt.call_id, Attempt.callback_id)).all()
    dialed = [c for c in callbacks if c.state == "dialing"]
    handed_back = [c for c in callbacks if c.state == "retry_wait"]
    assert len(dialed) == calls and all(c.attempts == 1 for c in dialed)
    assert len(handed_back) == 40 - calls and all(c.lease_owner is None for c in handed_back)
    # Every attempt left is a call that went out; those never dialed left no attempt row.
    assert len(attempts) == calls and all(call_id is not None for call_id, _ in attempts)


def test_two_workers_starting_together_run_each_periodic_job_once_between_them(
    live_queue: str,
    db: Database,
    tmp_path: Path,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    workers = [start_worker(LOG_LEVEL="INFO") for _ in range(2)]
    wait_until(lambda: count(db, select(func.count()).select_from(WorkerHeartbeat)) == 2, 30, "both workers to beat")
    finished = select(func.count()).select_from(JobRun).where(JobRun.last_finished_at.is_not(None))
    wait_until(lambda: count(db, finished) == 3, 30, "the three periodic jobs to finish")
    # Each worker asks at its start, beside its first heartbeat: give the slower one's
    # claims a moment to be made (and refused) before stopping both.
    time.sleep(1)
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(timeout=20) == 0
    with db.read() as session:
        rows = {row.name: row.runs for row in session.scalars(select(JobRun))}
    assert rows == {"anonymise": 1, "extend_slots": 1, "forget_expired": 1}
    logs = [(tmp_path / f"worker{n}.log").read_text(encoding="utf-8") for n in range(2)]
    assert sum("periodic job anonymise finished" in log for log in logs) == 1


def test_three_workers_together_never_ring_more_than_the_free_agents(
    client: FlaskClient,
    live_queue: str,
    db: Database,
    clock: FixedClock,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    """Pacing by live agent figures holds across worker processes: with 5 agents free and
    nobody answering, three workers together leave exactly 5 calls ringing; 3 more free
    agents let exactly 3 more out."""
    from services.accounts import new_api_key

    with db.write() as session:
        key, _ = new_api_key(session, "ACD", "admin@example.com", clock.now())
    auth = {"Authorization": f"Bearer {key}"}

    def free(available: int, signed_in: int = 10) -> None:
        clock.set(datetime.now(UTC))  # the figures are measured now, as the workers see it
        figures = {"signed_in": signed_in, "available": available, "average_handle_seconds": 300}
        assert client.put(f"/api/v1/queues/{live_queue}/agents", json=figures, headers=auth).status_code == 200

    free(40, signed_in=40)  # booked while 40 agents are free: all 30 callbacks due at once
    for n in range(30):
        assert book(client, n).status_code == 201
    free(5)
    workers = [start_worker(DIAL_LEASE_SECONDS="60") for _ in range(3)]
    calls = select(func.count()).select_from(SimCall)
    wait_until(lambda: count(db, calls) >= 5, 60, "5 calls")
    time.sleep(3)  # several claim passes of every worker
    assert count(db, calls) == 5
    free(8)  # 8 free, 5 ringing: 3 more
    wait_until(lambda: count(db, calls) >= 8, 60, "8 calls")
    time.sleep(3)
    assert count(db, calls) == 8
    for worker in workers:
        worker.send_signal(signal.SIGTERM)
    for worker in workers:
        assert worker.wait(timeout=20) == 0


def test_a_demo_worker_runs_the_simulators_agents_and_reports_them(
    live_queue: str,
    db: Database,
    start_worker,  # type: ignore[no-untyped-def]
) -> None:
    from infra.models import AgentFigureReport

    worker = start_worker(DEMO_MODE="true", SIMULATOR_AGENTS="2", SIMULATOR_HANDLE_SECONDS="30")

    def reported() -> list[tuple[int, int, str]]:
        with db.read() as session:
            return [(r.signed_in, r.available, r.source) for r in session.scalars(select(AgentFigureReport))]

    wait_until(lambda: reported() == [(2, 2, "simulator")], 30, "the simulated agents' figures")
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=20) == 0

"""Restarts under load: real gunicorn and worker processes get SIGTERM mid-run, several
times, and are started again; the simulated customers answer every callback. In the end
each callback is in exactly one terminal state, was dialed at most once, and nothing
was lost."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.clock import FixedClock, SystemClock
from infra.db import Database
from infra.models import Callback, CallbackEvent
from infra.settings import Settings
from infra.simulator_models import SimCall
from scheduler.lifecycle import TERMINAL_STATES
from telephony.simulator_driver import SimulatorDriver, SimulatorError
from tests.integration.helpers import book, dials, phone, slots
from tests.integration.test_worker_processes import ALL_DAY, count, wait_until

ROOT = Path(__file__).resolve().parents[2]
ASAP = 12  # callbacks due now when the processes start
PER_RESTART = 6  # more booked over HTTP before each restart, so that a SIGTERM finds dials to do
LATER = 4  # callbacks booked for a later slot, cancelled over HTTP while the processes restart
TOTAL = ASAP + 3 * PER_RESTART + LATER
SHUTDOWN_SECONDS = 8


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Processes:
    """Starts gunicorn and workers on one database and port; logs go to files in tmp_path."""

    def __init__(self, settings: Settings, tmp_path: Path) -> None:
        self.port = free_port()
        self.tmp_path = tmp_path
        self.env = {
            **os.environ,
            "DATABASE_URL": settings.database_url,
            "SECRET_KEY": settings.secret_key,
            "INSTANCE_PATH": str(tmp_path),
            "TELEPHONY_PROVIDER": "simulator",
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{self.port}",
            "API_RATE_LIMIT": "100000/second",
            "DIAL_LEASE_SECONDS": "10",
            "SIMULATOR_CPS": "4",  # 6 calls take 1.5 s: a SIGTERM finds turns not yet come
            "WORKER_SHUTDOWN_SECONDS": str(SHUTDOWN_SECONDS),
            "LOG_LEVEL": "INFO",
            "LOG_FORMAT": "json",
        }
        self.started: list[subprocess.Popen[bytes]] = []
        self.logs: list[IO[bytes]] = []
        self.worker_logs: dict[int, Path] = {}

    def _start(self, name: str, command: list[str]) -> tuple[subprocess.Popen[bytes], Path]:
        path = self.tmp_path / f"{name}{len(self.started)}.log"
        log = open(path, "wb")  # noqa: SIM115 - closed in stop_all
        self.logs.append(log)
        process = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=log)
        self.started.append(process)
        return process, path

    def web(self) -> subprocess.Popen[bytes]:
        gunicorn = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--no-control-socket"]
        process, _ = self._start("web", [*gunicorn, "--workers", "1", "--bind", f"127.0.0.1:{self.port}", "wsgi:app"])
        wait_until(self.web_is_up, 30, "gunicorn to answer")
        return process

    def worker(self, wait: bool = True) -> subprocess.Popen[bytes]:
        """A worker; with ``wait``, once it has started its ticks (and handles SIGTERM)."""
        process, log = self._start("worker", [sys.executable, "-m", "flask", "--app", "wsgi", "callbacks", "worker"])
        self.worker_logs[process.pid] = log
        if wait:
            self.wait_started(process)
        return process

    def wait_started(self, worker: subprocess.Popen[bytes]) -> None:
        log = self.worker_logs[worker.pid]
        wait_until(lambda: "worker started" in log.read_text(encoding="utf-8"), 60, "the worker to start")

    def web_is_up(self) -> bool:
        try:
            return request("GET", self.port, "/healthz")[0] == 200
        except OSError:
            return False

    def stop_all(self) -> None:
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=10)
        for log in self.logs:
            log.close()

    def lines(self) -> list[dict[str, object]]:
        found = []
        for path in sorted(self.tmp_path.glob("*.log")):
            for line in path.read_text(encoding="utf-8").splitlines():
                if line.startswith("{"):
                    found.append(json.loads(line))
        return found


def request(
    method: str, port: int, path: str, body: bytes | None = None, headers: dict[str, str] | None = None
) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def stop(*processes_and_bounds: tuple[subprocess.Popen[bytes], float]) -> None:
    """SIGTERM to each at once, then a clean exit (0) of each within its bound in seconds."""
    started = time.monotonic()
    for process, _ in processes_and_bounds:
        process.send_signal(signal.SIGTERM)
    for process, within in processes_and_bounds:
        assert process.wait(timeout=within + 5) == 0
        assert time.monotonic() - started < within + 5


@pytest.fixture
def processes(settings: Settings, tmp_path: Path) -> Iterator[Processes]:
    started = Processes(settings, tmp_path)
    yield started
    started.stop_all()


@pytest.fixture
def live_queue(make_queue, clock: FixedClock) -> str:  # type: ignore[no-untyped-def]
    clock.set(datetime.now(UTC))  # the processes run on the real clock
    return str(make_queue(weekly_hours=ALL_DAY, estimated_wait_seconds=0, max_concurrent_calls=500))


class Customers:
    """The simulated people: answer every callback, press 1, talk to the agent, hang up.
    Each action is a webhook to the real gunicorn; while it is down (restarting) the
    request is retried, as a provider retries its webhooks."""

    def __init__(self, db: Database, secret: str, port: int) -> None:
        self.port = port
        self.failures: list[str] = []
        self.driver = SimulatorDriver(db, secret, self.deliver, SystemClock())
        self.db = db
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def deliver(self, method: str, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        path = url.split(f":{self.port}", 1)[1]
        deadline = time.monotonic() + 30
        while True:
            try:
                status, answer = request(method, self.port, path, body, headers)
            except OSError:  # refused or reset while gunicorn restarts: try again
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
                continue
            if status >= 500:
                self.failures.append(f"{status} from {path}: {answer[:200]!r}")
            return status, answer

    def run(self) -> None:
        while not self.done.is_set():
            with self.db.read() as session:
                calls = session.execute(select(SimCall.call_id, SimCall.state).where(SimCall.direction == "out")).all()
            for call_id, state in calls:
                try:
                    if state == "ringing":
                        self.driver.answer(call_id)
                    elif state == "answered":
                        self.driver.press(call_id, "1")
                    elif state == "with_agent":
                        self.driver.hang_up(call_id)
                except SimulatorError as error:
                    if str(error).startswith("the webhook"):  # our app refused a provider's request
                        self.failures.append(str(error))
            time.sleep(0.05)


def terminal(db: Database) -> int:
    states = [s.value for s in TERMINAL_STATES]
    return count(db, select(func.count()).select_from(Callback).where(Callback.state.in_(states)))


def test_sigterm_and_restarts_of_web_and_workers_lose_nothing_and_dial_nothing_twice(
    client: FlaskClient,
    live_queue: str,
    db: Database,
    settings: Settings,
    processes: Processes,
) -> None:
    for n in range(ASAP):
        assert book(client, n).status_code == 201
    later_start = slots(client)[2]["start"]  # an hour or more away: not dialed during the test
    later = [book(client, 100 + n, slot_start=later_start).get_json()["ref"] for n in range(LATER)]

    customers = Customers(db, settings.secret_key, processes.port)
    worker = processes.worker(wait=False)
    web = processes.web()
    processes.wait_started(worker)
    customers.thread.start()
    try:
        for restart in range(3):
            before = count(db, select(func.count()).select_from(SimCall))
            for n in range(PER_RESTART):
                body = json.dumps({"queue": "support", "phone": phone(1000 + restart * 100 + n), "kind": "asap"})
                status, answer = request(
                    "POST", processes.port, "/api/v1/callbacks", body.encode(), {"Content-Type": "application/json"}
                )
                assert status == 201, answer
            wait_until(lambda b=before: count(db, select(func.count()).select_from(SimCall)) >= b + 2, 60, "dials")
            # Cancel a later callback over HTTP while the worker is busy, then stop both, as a
            # deployment does: the next worker is starting while the old one stops.
            status, _ = request("DELETE", processes.port, f"/api/v1/callbacks/{later[restart]}")
            assert status == 200
            following = processes.worker(wait=False)
            stop((worker, SHUTDOWN_SECONDS), (web, 20))  # 20: gunicorn's graceful_timeout
            web, worker = processes.web(), following
            processes.wait_started(worker)
        status, _ = request("DELETE", processes.port, f"/api/v1/callbacks/{later[3]}")
        assert status == 200
        wait_until(lambda: terminal(db) == TOTAL, 60, "every callback to end")
    finally:
        customers.done.set()
        customers.thread.join(timeout=10)
    stop((worker, SHUTDOWN_SECONDS), (web, 20))

    with db.read() as session:
        callbacks = session.execute(select(Callback.id, Callback.ref, Callback.phone, Callback.state)).all()
        calls_per_number, placed = dials(session)
        endings = dict(
            session.execute(
                select(CallbackEvent.callback_id, func.count())
                .where(CallbackEvent.to_state.in_([s.value for s in TERMINAL_STATES]))
                .group_by(CallbackEvent.callback_id)
            ).all()
        )
    assert len(callbacks) == TOTAL
    later_set = set(later)
    for callback_id, ref, number, state in callbacks:
        assert endings.get(callback_id) == 1, (ref, state)  # one terminal step, never two
        if ref in later_set:
            assert state == "cancelled" and number not in calls_per_number
        else:
            assert state == "completed", (ref, state)
            assert calls_per_number.get(number) == 1 and placed.get(callback_id) == 1, ref  # dialed once
    assert customers.failures == []

    # The logs: one line per request with its id, and the callbacks followed by reference.
    lines = processes.lines()
    access = [line for line in lines if line["logger"] == "app.access"]
    assert access and all(line.get("request_id") for line in access)
    first = next(ref for _, ref, _, state in callbacks if state == "completed")
    about_first = {str(line["message"]) for line in lines if line.get("callback") == first}
    assert any("dial placed" in m for m in about_first) and any("complete" in m for m in about_first)
    assert not any("+447400" in str(line) and "*" not in str(line) for line in lines)


def test_a_worker_stuck_in_a_provider_request_still_exits_within_its_shutdown_bound(
    client: FlaskClient, live_queue: str, db: Database, processes: Processes
) -> None:
    assert book(client, 1).status_code == 201
    processes.env.update(SIMULATOR_LATENCY_MS="60000", WORKER_SHUTDOWN_SECONDS="2")  # the call's answer never comes
    worker = processes.worker()
    wait_until(lambda: count(db, select(func.count()).select_from(SimCall)) == 1, 30, "the call to be placed")
    started = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=15) == 1  # not the 60 s the provider takes
    assert time.monotonic() - started < 6
    messages = [str(line["message"]) for line in processes.lines()]
    assert any(m.startswith("still stopping after 2 s") for m in messages)
    with db.read() as session:  # left on its lease, for another worker to reconcile (never redialed blind)
        assert session.scalars(select(Callback.state)).one() == "dialing"


def test_sigterm_does_not_wait_for_a_far_turn_and_hands_back_its_claims(
    client: FlaskClient, live_queue: str, db: Database, processes: Processes
) -> None:
    for n in range(3):
        assert book(client, n).status_code == 201
    # One call every 10 s: the worker claims all three, turns at 0, 10 and 20 s.
    processes.env.update(SIMULATOR_CPS="0.1", DIAL_LEASE_SECONDS="60")
    worker = processes.worker()
    wait_until(lambda: count(db, select(func.count()).select_from(SimCall)) == 1, 30, "the first call")
    time.sleep(0.5)
    stop((worker, 3))  # not the 10 s until the next turn
    with db.read() as session:
        states = sorted(session.scalars(select(Callback.state)))
        leases = session.scalars(select(Callback.lease_owner).where(Callback.state == "retry_wait")).all()
    assert states == ["dialing", "retry_wait", "retry_wait"] and leases == [None, None]
    assert count(db, select(func.count()).select_from(SimCall)) == 1

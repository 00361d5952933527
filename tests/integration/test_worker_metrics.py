"""A worker on a machine with no web process serves its own /metrics (WORKER_METRICS_PORT):
its counters, behind the same bearer token as the web's, without the database figures
(the web processes serve those, once for the cluster)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import requests
from flask.testing import FlaskClient

from infra.clock import FixedClock
from infra.settings import Settings
from tests.integration.helpers import book
from tests.integration.test_worker_processes import ALL_DAY, wait_until

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_worker_serves_its_own_counters_behind_the_token(
    settings: Settings, client: FlaskClient, clock: FixedClock, make_queue, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    clock.set(datetime.now(UTC))  # the worker process runs on the real clock
    make_queue(weekly_hours=ALL_DAY, estimated_wait_seconds=0, max_concurrent_calls=50)
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "SECRET_KEY": settings.secret_key,
        "INSTANCE_PATH": str(tmp_path),
        "TELEPHONY_PROVIDER": "simulator",
        "SIMULATOR_CPS": "500",
        "LOG_LEVEL": "WARNING",
        "WORKER_METRICS_PORT": str(port),
        "METRICS_BEARER_TOKEN": "scrape-me",
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    log = open(tmp_path / "worker.log", "wb")  # noqa: SIM115 - closed below
    worker = subprocess.Popen(
        [sys.executable, "-m", "flask", "--app", "wsgi", "callbacks", "worker"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}/metrics"
    auth = {"Authorization": "Bearer scrape-me"}
    try:
        assert book(client, 1).status_code == 201

        def scraped_a_dial() -> bool:
            try:
                body = requests.get(url, headers=auth, timeout=2).text
            except requests.ConnectionError:
                return False
            return 'dispatch_lag_seconds_count{provider="simulator"} 1.0' in body

        wait_until(scraped_a_dial, 30, "the worker's /metrics to count its dial")
        body = requests.get(url, headers=auth, timeout=2).text
        assert "process_cpu_seconds_total" in body  # this process's own figures
        assert "callbacks_due_undialed" not in body and "metrics_database_up" not in body
        refused = requests.get(url, timeout=2)
        assert refused.status_code == 401 and refused.json()["type"] == "unauthorized"
        assert requests.get(f"http://127.0.0.1:{port}/", headers=auth, timeout=2).status_code == 404
        # Liveness, no token: healthy once its first heartbeat is written (every tick starts
        # at once; on a busy machine the first dial may come before it).
        healthz = f"http://127.0.0.1:{port}/healthz"
        wait_until(lambda: requests.get(healthz, timeout=2).status_code == 200, 30, "the worker's /healthz 200")
        assert requests.get(healthz, timeout=2).json() == {"status": "ok"}
    finally:
        worker.terminate()
        worker.wait(timeout=30)
        log.close()
    assert worker.returncode == 0, (tmp_path / "worker.log").read_text()


def test_the_workers_healthz_fails_once_its_heartbeat_is_old(settings: Settings, app) -> None:  # type: ignore[no-untyped-def]
    from app.worker import Worker

    worker = Worker(app.extensions["db"], app.extensions["clock"], settings, app.extensions["providers"])
    try:
        assert not worker.alive()  # no heartbeat written yet
        worker.heartbeat()
        assert worker.alive()
        worker._last_beat = time.monotonic() - settings.worker_heartbeat_max_age_seconds - 1
        assert not worker.alive()
    finally:
        worker.dialer.close()
        worker.events.close()

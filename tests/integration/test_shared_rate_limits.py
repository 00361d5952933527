"""The per-address limit holds across web processes when they share Redis; a single
process with memory:// keeps its own counts; several processes with memory:// are refused."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from app.factory import create_app
from infra.clock import FixedClock
from infra.settings import Settings, SettingsError, check_web_processes

ROOT = Path(__file__).resolve().parents[2]


def _apps(settings: Settings, clock: FixedClock, n: int) -> list[Flask]:
    return [create_app(settings, clock) for _ in range(n)]


def _codes(apps: list[Flask], requests: int) -> list[int]:
    clients = [app.test_client() for app in apps]
    return [clients[i % len(clients)].get("/api/v1/queues/support").status_code for i in range(requests)]


def test_two_apps_sharing_redis_hold_one_allowance_per_address(
    settings: Settings, clock: FixedClock, demo_queue: str, empty_redis: str
) -> None:
    shared = settings.with_overrides(api_rate_limit="3/minute", rate_limit_storage_uri=empty_redis)
    apps = _apps(shared, clock, 2)
    try:
        codes = _codes(apps, 8)  # alternating between the two "processes"
    finally:
        for app in apps:
            app.extensions["db"].dispose()
    assert codes.count(200) == 3 and codes[:3] == [200, 200, 200] and set(codes[3:]) == {429}


def test_without_a_shared_store_each_process_counts_alone(
    settings: Settings, clock: FixedClock, demo_queue: str
) -> None:
    """What memory:// does with several processes, and why it is refused (below)."""
    apps = _apps(settings.with_overrides(api_rate_limit="3/minute"), clock, 2)
    try:
        codes = _codes(apps, 8)
    finally:
        for app in apps:
            app.extensions["db"].dispose()
    assert codes.count(200) == 6


def test_several_web_processes_need_a_shared_store_or_an_explicit_allowance(tmp_path: Path) -> None:
    base = Settings(database_url="sqlite://", secret_key="k", instance_path=tmp_path)
    check_web_processes(base, 1)
    with pytest.raises(SettingsError, match="RATE_LIMIT_STORAGE_URI=redis://"):
        check_web_processes(base, 2)
    check_web_processes(base.with_overrides(rate_limit_storage_uri="redis://127.0.0.1:6379/0"), 4)
    check_web_processes(base.with_overrides(allow_per_process_rate_limits=True), 4)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_gunicorn_refuses_two_workers_counting_in_memory(tmp_path: Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "SECRET_KEY": "k",
        "INSTANCE_PATH": str(tmp_path),
        "RATE_LIMIT_STORAGE_URI": "memory://",
    }
    env.pop("ALLOW_PER_PROCESS_RATE_LIMITS", None)
    command = [sys.executable, "-m", "gunicorn", "--config", "gunicorn.conf.py", "--no-control-socket"]
    done = subprocess.run(
        [*command, "--workers", "2", "--bind", f"127.0.0.1:{_free_port()}", "wsgi:app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        timeout=60,
    )
    assert done.returncode != 0
    assert b"RATE_LIMIT_STORAGE_URI=redis://" in done.stderr

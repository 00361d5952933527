"""deploy/nginx/callbacks.conf, for real: deploy/verify/nginx.sh starts nginx with the
recipe (its name, certificate and ports substituted) terminating TLS in front of gunicorn
and a worker, and runs deploy/verify/smoke.py through https — the booking race, every
callback dialed once, a Twilio signature over the public https URL (with its port) taken
and one over another URL refused, and the per-address limit. ``make test`` installs nginx
(scripts/ensure-nginx.sh) and sets REQUIRE_NGINX=1, so that its absence fails the run."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _nginx() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")


def test_the_nginx_recipe_passes_the_deployment_checks_through_https() -> None:
    nginx = _nginx()
    if nginx is None:
        if os.environ.get("REQUIRE_NGINX") == "1":
            pytest.fail("REQUIRE_NGINX=1 but nginx is not installed (scripts/ensure-nginx.sh)")
        pytest.skip("nginx is not installed")
    https, http, app = _free_ports(3)
    env = {
        key: value
        for key, value in os.environ.items()
        # The script's app gets only the settings it sets itself.
        if not key.startswith(("TEST_", "DATABASE_", "RATE_LIMIT_", "PROMETHEUS_", "WORKER_METRICS_"))
    }
    env |= {
        "HTTPS_PORT": str(https),
        "HTTP_PORT": str(http),
        "APP_PORT": str(app),
        "VENV": str(Path(sys.executable).parent.parent),
        "PATH": f"{Path(nginx).parent}:{env.get('PATH', '')}",
    }
    result = subprocess.run(
        [str(ROOT / "deploy" / "verify" / "nginx.sh")], env=env, capture_output=True, text=True, timeout=300
    )
    out = result.stdout + result.stderr
    assert result.returncode == 0, out[-4000:]
    for line in (
        "ok  racers for the scarce slot: {'201': 3, '409': 9}",
        "ok  dialed once each: {'numbers': 40, 'dialed twice': 0, 'overbooked slots': 0, 'scarce seats': 3}",
        "ok  twilio signature over https: {'public URL': 200, 'inside URL': 403}",
        "ok  per-address limit, every web process together: {'200': 10, '429': 20}",
    ):
        assert line in result.stdout, out[-4000:]

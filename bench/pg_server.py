"""The benches' own durable throwaway PostgreSQL (scripts/pg-test-server.sh), each bench
with its folder and port (``PGTEST_DIR``, ``PGTEST_PORT``, ``PGTEST_DURABLE`` in ``env``)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "pg-test-server.sh"


def start_postgres(env: dict[str, str]) -> str:
    """Start it (or find it running); its URL."""
    completed = subprocess.run(
        [str(SCRIPT), "start"], env={**os.environ, **env}, stdout=subprocess.PIPE, text=True, check=True
    )
    return completed.stdout.strip().splitlines()[-1]


def stop_postgres(env: dict[str, str]) -> None:
    subprocess.run([str(SCRIPT), "stop"], env={**os.environ, **env}, check=False)

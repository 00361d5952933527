"""Health checks for orchestrators and load balancers, and the worker's heartbeat.

``/healthz`` (in app/__init__.py) says the process answers; ``/readyz`` says this
deployment can do its work: the database answers, its schema is the code's (Alembic
head), and a worker beat recently (a web tier without a worker books callbacks nobody
dials). Each check reports on its own, so a 503 names what failed.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Callable
from datetime import datetime, timedelta
from functools import cache, partial
from typing import Any

from alembic.script import ScriptDirectory
from flask import Blueprint, Response, jsonify
from sqlalchemy import delete, func, select, text
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError

from infra import context
from infra.db import Database
from infra.migrate import MIGRATIONS, alembic_config
from infra.models import WorkerHeartbeat

log = logging.getLogger(__name__)

health = Blueprint("health", __name__)

# A worker's row outlives it this long (a restart's new pid makes a new row), then the
# beats of the living delete it.
FORGET_AFTER = timedelta(hours=1)


def worker_id() -> str:
    """This process, as the heartbeat table names it."""
    return f"{socket.gethostname()}:{os.getpid()}"


def beat(db: Database, now: datetime, worker: str | None = None) -> None:
    """Upsert this worker's heartbeat (``started_at`` kept from its first beat) and forget
    the rows of workers silent for longer than FORGET_AFTER."""
    values = {"worker_id": worker or worker_id(), "beat_at": now, "started_at": now}
    upsert = postgresql_insert(WorkerHeartbeat) if not db.is_sqlite else sqlite_insert(WorkerHeartbeat)
    with db.write() as session:
        session.execute(
            upsert.values(values).on_conflict_do_update(index_elements=["worker_id"], set_={"beat_at": now})
        )
        session.execute(delete(WorkerHeartbeat).where(WorkerHeartbeat.beat_at < now - FORGET_AFTER))


@cache
def script_heads() -> frozenset[str]:
    """The migrations' head revision(s) this code was shipped with (read once per process)."""
    return frozenset(ScriptDirectory.from_config(alembic_config(f"sqlite:///{MIGRATIONS}")).get_heads())


def _check_database(db: Database) -> dict[str, Any]:
    with db.read() as session:
        session.execute(text("SELECT 1"))
    return {"ok": True}


def _check_migrations(db: Database) -> dict[str, Any]:
    with db.read() as session:
        current = set(session.scalars(text("SELECT version_num FROM alembic_version")))
    heads = script_heads()
    return {"ok": current == heads, "current": sorted(current), "head": sorted(heads)}


def _check_worker(db: Database, now: datetime, max_age: int) -> dict[str, Any]:
    with db.read() as session:
        last = session.scalar(select(func.max(WorkerHeartbeat.beat_at)))
    if last is None:
        return {"ok": False, "last_beat": None, "age_seconds": None, "max_age_seconds": max_age}
    age = (now - last).total_seconds()
    return {
        "ok": age <= max_age,
        "last_beat": last.isoformat(),
        "age_seconds": round(age, 3),
        "max_age_seconds": max_age,
    }


def readiness(db: Database, now: datetime, max_age: int) -> dict[str, Any]:
    """Every check's result; ``failed`` lists the names of those that did not pass."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        checks["database"] = _check_database(db)
    except SQLAlchemyError as error:
        log.warning("readiness: database unreachable: %s", error)
        checks["database"] = {"ok": False, "error": type(error).__name__}
    later: list[tuple[str, Callable[[], dict[str, Any]]]] = [
        ("migrations", partial(_check_migrations, db)),
        ("worker", partial(_check_worker, db, now, max_age)),
    ]
    for name, check in later:
        if not checks["database"]["ok"]:
            checks[name] = {"ok": False, "error": "database unreachable"}
            continue
        try:
            checks[name] = check()
        except SQLAlchemyError as error:  # a table missing: the schema is behind
            log.warning("readiness: %s check failed: %s", name, error)
            checks[name] = {"ok": False, "error": type(error).__name__}
    failed = [name for name, result in checks.items() if not result["ok"]]
    return {"status": "not_ready" if failed else "ready", "failed": failed, "checks": checks}


@health.get("/readyz")
def readyz() -> Response:
    settings = context.settings()
    report = readiness(context.db(), context.now(), settings.worker_heartbeat_max_age_seconds)
    response = jsonify(report)
    response.status_code = 503 if report["failed"] else 200
    response.headers["Cache-Control"] = "no-store"
    return response

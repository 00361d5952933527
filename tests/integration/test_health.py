"""/healthz and /readyz: ready only with the database up, the schema at head and a worker beating."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, text

from app import health
from app.worker import Worker
from infra.clock import FixedClock
from infra.db import Database
from infra.models import WorkerHeartbeat


def test_healthz_answers_without_looking_at_anything(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_readyz_is_not_ready_before_any_worker_beat(client: FlaskClient) -> None:
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "not_ready"
    assert body["failed"] == ["worker"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["migrations"]["ok"] is True
    assert body["checks"]["worker"] == {"ok": False, "last_beat": None, "age_seconds": None, "max_age_seconds": 30}


def test_readyz_is_ready_with_a_fresh_heartbeat(client: FlaskClient, db: Database, clock: FixedClock) -> None:
    health.beat(db, clock.now(), worker="host-a:1")
    clock.advance(seconds=29)
    response = client.get("/readyz")
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    assert body["status"] == "ready" and body["failed"] == []
    assert body["checks"]["worker"]["age_seconds"] == 29
    assert body["checks"]["migrations"]["current"] == body["checks"]["migrations"]["head"]


def test_readyz_fails_when_the_heartbeat_goes_stale(client: FlaskClient, db: Database, clock: FixedClock) -> None:
    health.beat(db, clock.now(), worker="host-a:1")
    clock.advance(seconds=31)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["failed"] == ["worker"]
    assert response.get_json()["checks"]["worker"]["age_seconds"] == 31


def test_readyz_fails_when_the_migrations_are_behind(client: FlaskClient, db: Database, clock: FixedClock) -> None:
    health.beat(db, clock.now(), worker="host-a:1")
    (head,) = health.script_heads()
    with db.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '0016_staffing'"))
    try:
        response = client.get("/readyz")
    finally:  # PostgreSQL's schema is shared by the session's tests (only tables are truncated)
        with db.write() as session:
            session.execute(text("UPDATE alembic_version SET version_num = :head"), {"head": head})
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"]["current"] == ["0016_staffing"]
    assert body["checks"]["migrations"]["head"] == sorted(health.script_heads())


def test_readyz_fails_when_the_database_is_unreachable(app: Flask, client: FlaskClient, db: Database) -> None:
    # Nothing listens on port 1: the connection is refused at once.
    closed = "postgresql+psycopg://nobody:secret@127.0.0.1:1/callbacks"
    broken = Database(app.extensions["settings"].with_overrides(database_url=closed))
    app.extensions["db"] = broken
    try:
        response = client.get("/readyz")
    finally:
        app.extensions["db"] = db
        broken.dispose()
    assert response.status_code == 503
    body = response.get_json()
    assert body["failed"] == ["database", "migrations", "worker"]
    assert body["checks"]["database"]["ok"] is False


def test_the_max_heartbeat_age_is_a_setting(settings, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    from app.factory import create_app

    app = create_app(settings.with_overrides(worker_heartbeat_max_age_seconds=120), clock=clock)
    try:
        health.beat(app.extensions["db"], clock.now(), worker="host-a:1")
        clock.advance(seconds=100)
        response = app.test_client().get("/readyz")
        assert response.status_code == 200, response.get_json()
    finally:
        app.extensions["db"].dispose()


def test_a_worker_tick_upserts_its_heartbeat_and_forgets_long_gone_workers(
    app: Flask, db: Database, clock: FixedClock
) -> None:
    ext = app.extensions
    started = clock.now()
    health.beat(db, started - health.FORGET_AFTER - health.FORGET_AFTER, worker="gone:1")
    worker = Worker(db, clock, ext["settings"], ext["providers"])
    worker.run(once=True)
    clock.advance(seconds=5)
    worker.heartbeat()
    with db.read() as session:
        rows = list(session.scalars(select(WorkerHeartbeat)))
    assert [r.worker_id for r in rows] == [health.worker_id()]
    assert rows[0].started_at == started
    assert rows[0].beat_at == clock.now()
    assert app.test_client().get("/readyz").status_code == 200

"""Fixtures: a fresh database per test, on SQLite and on PostgreSQL.

Integration tests that take ``app``/``client``/``db`` run once per backend (the input
fuzzers, marked ``strictest_backend``, once: on PostgreSQL when there is one). The
schema comes from the Alembic migrations (migrated once per session per backend);
between tests SQLite gets a fresh copy of the migrated file and PostgreSQL has its
tables truncated. PostgreSQL comes from ``TEST_DATABASE_URL`` (``make test`` starts
one); with ``REQUIRE_POSTGRES=1`` its absence fails the run instead of skipping.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import create_engine, text

from app.factory import create_app
from app.simulator_page import in_process_deliver
from infra.clock import FixedClock
from infra.db import Database
from infra.migrate import upgrade
from infra.schema import metadata
from infra.settings import Settings
from services.dialer.dialer import Dialer
from services.queue_documents import import_queue, parse_queue_document
from telephony.simulator_driver import SimulatorDriver

DEMO_QUEUE = Path(__file__).resolve().parent.parent / "app" / "demo_queue.json"
# Monday 4 January 2027, 10:00 in London (GMT): the demo queue is open.
MONDAY_10AM = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def demo_document(**changes: object) -> dict[str, object]:
    document: dict[str, object] = json.loads(DEMO_QUEUE.read_text(encoding="utf-8"))
    document.update(changes)
    return document


def _settings(url: str, instance: Path) -> Settings:
    # No per-IP limit by default (tests make many requests a second from one address);
    # tests/integration/test_api_protection.py sets one.
    # Demo mode on: tests drive the phone simulator's pages (tests/integration/test_demo_access.py
    # proves who may use them, and that they are absent without it).
    return Settings(
        database_url=url,
        secret_key="test-secret",
        instance_path=instance,
        api_rate_limit="100000/second",
        demo_mode=True,
        # Event receivers run on loopback (tests/integration/event_receiver.py, the stand-in
        # CRM): let them through, as make run does (tests/integration/test_event_targets.py
        # checks the rule without it).
        event_targets_allowed=("127.0.0.1", "localhost", "::1"),
    )


@pytest.fixture(scope="session")
def postgres_url() -> str | None:
    url = os.environ.get("TEST_DATABASE_URL")
    if not url and os.environ.get("REQUIRE_POSTGRES") == "1":
        pytest.fail("REQUIRE_POSTGRES=1 but TEST_DATABASE_URL is not set")
    return url


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A Redis for the shared rate-limit counts (``make test`` starts one: TEST_REDIS_URL);
    each test that takes it starts from an empty database. Absent: skipped, but with
    ``REQUIRE_POSTGRES=1`` (make test, CI) the run fails instead."""
    url = os.environ.get("TEST_REDIS_URL")
    if not url:
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but TEST_REDIS_URL is not set (make test starts a Redis)")
        pytest.skip("no Redis: set TEST_REDIS_URL (make test does)")
    return url


@pytest.fixture
def empty_redis(redis_url: str) -> str:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    client.close()
    return redis_url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "template.db"
    database = Database(_settings(f"sqlite:///{path}", folder))
    upgrade(database.engine)
    database.dispose()
    return path


@pytest.fixture(scope="session")
def migrated_postgres(postgres_url: str | None) -> str | None:
    if postgres_url is None:
        return None
    engine = create_engine(postgres_url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    database = Database(_settings(postgres_url, Path("/tmp")))
    upgrade(database.engine)
    database.dispose()
    return postgres_url


def _truncate(url: str) -> None:
    engine = create_engine(url)
    tables = ", ".join(t.name for t in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path, migrated_postgres: str | None
) -> str:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        if request.node.get_closest_marker("postgres_only"):
            pytest.skip("PostgreSQL-only test")
        if request.node.get_closest_marker("strictest_backend") and migrated_postgres is not None:
            pytest.skip("fuzzed once, on PostgreSQL (the stricter backend)")
        path = tmp_path / "callbacks.db"
        shutil.copyfile(sqlite_template, path)
        return f"sqlite:///{path}"
    if migrated_postgres is None:
        pytest.skip("no PostgreSQL: set TEST_DATABASE_URL (make test does)")
    _truncate(migrated_postgres)
    return migrated_postgres


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(MONDAY_10AM)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return _settings(database_url, tmp_path)


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[Flask]:
    application = create_app(settings, clock=clock)
    application.config["TESTING"] = True
    yield application
    application.extensions["db"].dispose()


@pytest.fixture
def db(app: Flask) -> Database:
    database: Database = app.extensions["db"]
    return database


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def demo_queue(db: Database, clock: FixedClock) -> str:
    """The demo queue 'support' (Europe/London, Mon-Fri 09:00-17:00, 15-minute slots, 2 seats)."""
    with db.write() as session:
        import_queue(session, parse_queue_document(demo_document()), clock.now())
    return "support"


@pytest.fixture
def make_queue(db: Database, clock: FixedClock):  # type: ignore[no-untyped-def]
    def make(**changes: object) -> str:
        if changes.get("key", "support") != "support":
            changes.setdefault("inbound_numbers", [])  # the demo queue's number answers one queue only
        with db.write() as session:
            queue, _ = import_queue(session, parse_queue_document(demo_document(**changes)), clock.now())
            return queue.key

    return make


@pytest.fixture
def dialer(app: Flask, db: Database, clock: FixedClock) -> Dialer:
    """The dialer as a worker runs it, on the app's providers (the simulator) and clock."""
    return Dialer(db, app.extensions["providers"], clock, app.extensions["settings"], worker_id="test-worker")


@pytest.fixture
def phone_sim(app: Flask, db: Database, clock: FixedClock) -> SimulatorDriver:
    """The customer's phone: answers, keys and texts, delivered to the app's webhooks in process."""
    return SimulatorDriver(db, app.extensions["settings"].secret_key, in_process_deliver(app), clock)

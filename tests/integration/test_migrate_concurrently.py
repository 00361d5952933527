"""`init-db` started on several machines at once (a deploy step on each) migrates a
PostgreSQL database once: each migration waits for the advisory lock of the one before
it, then finds the schema at head (app/migrate.py)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from app.migrate import MIGRATION_LOCK_KEY, current_revision, upgrade

RACERS = 3


@pytest.fixture
def empty_postgres(postgres_url: str | None) -> Iterator[str]:
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set TEST_DATABASE_URL (make test does)")
    url = make_url(postgres_url).set(database="callbacks_migrate_race")
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS callbacks_migrate_race"))
        connection.execute(text("CREATE DATABASE callbacks_migrate_race"))
    yield url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text("DROP DATABASE IF EXISTS callbacks_migrate_race WITH (FORCE)"))
    admin.dispose()


def _waiting_for_the_lock(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(
            text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :key AND NOT granted"),
            {"key": MIGRATION_LOCK_KEY},
        ).scalar_one()


def test_migrations_started_together_on_an_empty_database_run_one_after_another(empty_postgres: str) -> None:
    watcher = create_engine(empty_postgres)
    engines = [create_engine(empty_postgres) for _ in range(RACERS)]
    errors: list[BaseException] = []

    def migrate(engine: Engine) -> None:
        try:
            upgrade(engine)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)

    # Holding the lock, start every migration: each must wait for it rather than begin.
    with watcher.connect() as holder:
        holder.execute(text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY})
        threads = [threading.Thread(target=migrate, args=(engine,)) for engine in engines]
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 30
        while _waiting_for_the_lock(watcher) < RACERS and time.monotonic() < deadline:
            time.sleep(0.05)
        assert _waiting_for_the_lock(watcher) == RACERS
        holder.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY})
        holder.commit()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    revision = current_revision(watcher)
    assert revision is not None
    upgrade(watcher)  # at head already: nothing to do, and no error
    assert current_revision(watcher) == revision
    for engine in [watcher, *engines]:
        engine.dispose()

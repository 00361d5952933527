"""`init-db` on PostgreSQL (infra/migrate.py): started on several machines at once (a deploy
step on each) it migrates once, each migration waiting for the advisory lock of the one
before it and then finding the schema at head; and it refuses a database that does not
store UTF-8, before creating anything."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, create_engine, make_url, text

from app.factory import create_app
from infra.migrate import MIGRATION_LOCK_KEY, current_revision, upgrade
from infra.settings import Settings

RACERS = 3


def _new_database(postgres_url: str | None, name: str, options: str = "") -> Iterator[str]:
    if postgres_url is None:
        pytest.skip("no PostgreSQL: set TEST_DATABASE_URL (make test does)")
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name}"))
        connection.execute(text(f"CREATE DATABASE {name} {options}"))
    yield make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
    admin.dispose()


@pytest.fixture
def empty_postgres(postgres_url: str | None) -> Iterator[str]:
    yield from _new_database(postgres_url, "callbacks_migrate_race")


@pytest.fixture
def sql_ascii_postgres(postgres_url: str | None) -> Iterator[str]:
    # What initdb makes under a C or POSIX locale unless told --encoding=UTF8.
    options = "ENCODING 'SQL_ASCII' LC_COLLATE 'C' LC_CTYPE 'C' TEMPLATE template0"
    yield from _new_database(postgres_url, "callbacks_sql_ascii", options)


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


def test_init_db_refuses_a_database_that_does_not_store_utf8_and_says_how_to_make_one(
    sql_ascii_postgres: str, tmp_path: Path
) -> None:
    app = create_app(Settings(database_url=sql_ascii_postgres, secret_key="test-secret", instance_path=tmp_path))
    result = app.test_cli_runner().invoke(args=["callbacks", "init-db"])
    assert result.exit_code == 1
    assert "the database's encoding is SQL_ASCII, not UTF8" in result.output
    assert "ENCODING 'UTF8'" in result.output
    # Nothing half-made (asked through psycopg: SQLAlchemy cannot connect to it at all).
    url = make_url(sql_ascii_postgres)
    with psycopg.connect(host=url.host, port=url.port, user=url.username, dbname=url.database) as connection:
        tables = connection.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert tables == (0,)

"""Operations: an online SQLite backup taken while the app writes, restored by copying it
back; `init-db` run twice, and on a database one migration behind; the latest migration
down one step and up again with data in it (whatever the latest migration is)."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from app.factory import create_app
from infra.clock import FixedClock
from infra.db import Database
from infra.migrate import alembic_config
from infra.models import Callback
from infra.settings import Settings
from services.booking_service import BookingRequest, book
from tests.integration.helpers import phone


def _cli(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["callbacks", *args])


def _book(db: Database, clock: FixedClock, n: int) -> None:
    with db.write() as session:
        book(session, BookingRequest(queue="support", phone=phone(n), kind="asap", source="api"), clock.now(), "test")


def _count(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(Callback)) or 0)


def _config(db: Database):  # type: ignore[no-untyped-def]
    return alembic_config(db.engine.url.render_as_string(hide_password=False))


def _version(db: Database) -> str:
    with db.engine.connect() as connection:
        return str(connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one())


def _step(db: Database, action: str, revision: str) -> None:
    config = _config(db)
    with db.engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def test_backup_while_the_app_writes_then_restore(
    app: Flask, db: Database, clock: FixedClock, demo_queue: str, settings: Settings, tmp_path: Path
) -> None:
    if not settings.is_sqlite:
        result = _cli(app, "backup", str(tmp_path / "copy.db"))
        assert result.exit_code == 2 and "pg_dump" in result.output
        return
    for n in range(20):
        _book(db, clock, n)
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        n = 100
        while not stop.is_set() and n < 400:
            _book(db, clock, n)
            written.append(n)
            n += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    try:
        result = _cli(app, "backup", str(tmp_path / "copy.db"))
    finally:
        stop.set()
        writer.join()
    assert result.exit_code == 0, result.output
    assert "backup written" in result.output
    copy = sqlite3.connect(tmp_path / "copy.db")
    try:
        assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        in_copy = copy.execute("SELECT count(*) FROM callback").fetchone()[0]
    finally:
        copy.close()
    assert 20 <= in_copy <= 20 + len(written)

    # Restore: stop the app, copy the backup over the database, start again.
    live = Path(db.engine.url.database or "")
    db.dispose()
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    shutil.copyfile(tmp_path / "copy.db", live)
    restored = create_app(settings, clock=clock)
    try:
        assert _count(restored.extensions["db"]) == in_copy
        assert restored.test_client().get("/api/v1/queues/support").status_code == 200
    finally:
        restored.extensions["db"].dispose()


def test_backup_refuses_to_overwrite_the_database(app: Flask, db: Database, settings: Settings) -> None:
    if not settings.is_sqlite:
        pytest.skip("SQLite only")
    result = _cli(app, "backup", db.engine.url.database or "")
    assert result.exit_code == 2 and "must not overwrite" in result.output


def test_init_db_twice_and_on_an_older_schema(app: Flask, db: Database, clock: FixedClock, demo_queue: str) -> None:
    script = ScriptDirectory.from_config(_config(db))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    assert isinstance(previous, str)
    _book(db, clock, 1)
    _step(db, "downgrade", previous)
    assert _version(db) == previous
    for _ in range(2):
        result = _cli(app, "init-db")
        assert result.exit_code == 0, result.output
        assert _version(db) == head
    assert _count(db) == 1


def test_the_latest_migration_goes_down_one_step_and_up_again_with_data(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    refs = [
        client.post("/api/v1/callbacks", json={"queue": "support", "phone": phone(n), "kind": "asap"}).get_json()["ref"]
        for n in range(3)
    ]
    client.delete(f"/api/v1/callbacks/{refs[0]}")
    script = ScriptDirectory.from_config(_config(db))
    head = script.get_current_head()
    assert head is not None
    previous = script.get_revision(head).down_revision
    result = _cli(app, "downgrade-db")  # the documented way back
    assert result.exit_code == 0, result.output
    assert _version(db) == previous and f"revision {previous}" in result.output
    _step(db, "upgrade", "head")
    assert _version(db) == head
    assert [client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] for ref in refs] == [
        "cancelled",
        "scheduled",
        "scheduled",
    ]

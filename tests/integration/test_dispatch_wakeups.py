"""The dispatch loop sleeps until a callback falls due, and is woken by one booked meanwhile
(infra/wakeups.py): PostgreSQL's NOTIFY from the callback trigger, SQLite's data_version.
The loop's safety net is set to a minute here, so a call placed before that was a wake-up."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text

from app import worker as worker_module
from app.worker import Worker
from infra.clock import FixedClock
from infra.db import Database
from infra.simulator_models import SimCall
from infra.wakeups import PostgresWakeups, SqliteWakeups, wakeups_for
from tests.integration.helpers import book
from tests.integration.test_worker_processes import wait_until


def _calls(db: Database) -> int:
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(SimCall)) or 0)


def test_a_sleeping_dispatch_loop_is_woken_by_a_booking_due_now(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str, monkeypatch: Any
) -> None:
    monkeypatch.setattr(worker_module, "MAX_SLEEP_SECONDS", 60.0)
    worker = Worker(db, clock, app.extensions["settings"], app.extensions["providers"])
    worker.dispatch_window = 50.0
    loop = threading.Thread(target=worker.dispatch_loop)
    loop.start()
    try:
        time.sleep(1.0)  # nothing is due: the loop is asleep
        assert _calls(db) == 0
        assert book(client, 1).status_code == 201  # ASAP: due now
        wait_until(lambda: _calls(db) == 1, 30, "the call of the booking due now")
    finally:
        worker.dialer.stopping.set()
        worker.wakeups().wake()
        loop.join(timeout=30)
        worker.wakeups().close()
        worker.dialer.close()
    assert not loop.is_alive()


def test_sqlite_wakes_on_another_connection_s_commit_only(db: Database, demo_queue: str) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's data_version")
    wakeups = wakeups_for(db)
    assert isinstance(wakeups, SqliteWakeups)
    try:
        assert wakeups.wait(0.2) is False  # nothing changed
        with db.read() as session:
            session.execute(text("SELECT count(*) FROM callback"))
        assert wakeups.wait(0.2) is False  # a read is no change
        with db.write() as session:
            session.execute(text("UPDATE queue SET name = name || '!'"))
        assert wakeups.wait(10) is True
        wakeups.wake()
        assert wakeups.wait(10) is True  # the worker stopping
    finally:
        wakeups.close()


@pytest.mark.postgres_only
def test_postgresql_notifies_a_due_callback_at_commit_and_not_a_rolled_back_one(
    client: FlaskClient, db: Database, demo_queue: str
) -> None:
    wakeups = wakeups_for(db)
    assert isinstance(wakeups, PostgresWakeups)
    try:
        wait_until(wakeups.listening.is_set, 30, "the listener")
        wakeups.wait(0.5)  # the wake-up every new listener gives once
        assert wakeups.wait(0.5) is False

        class RolledBack(Exception):
            pass

        with pytest.raises(RolledBack), db.write() as session:
            session.execute(text("UPDATE callback SET next_attempt_at = next_attempt_at"))  # no rows yet
            assert book(client, 1).status_code == 201  # committed: notified
            raise RolledBack
        assert wakeups.wait(30) is True
        with pytest.raises(RolledBack), db.write() as session:
            session.execute(text("UPDATE callback SET next_attempt_at = next_attempt_at + interval '1 second'"))
            raise RolledBack
        assert wakeups.wait(1.0) is False  # rolled back: never notified
        with db.write() as session:
            session.execute(text("UPDATE callback SET name = 'renamed'"))  # not its due time or state
        assert wakeups.wait(1.0) is False
        with db.write() as session:  # moved to a day later: the worker learns it when it next looks
            session.execute(text("UPDATE callback SET next_attempt_at = next_attempt_at + interval '1 day'"))
        assert wakeups.wait(1.0) is False
        with db.write() as session:  # due again now ("dial now")
            session.execute(text("UPDATE callback SET next_attempt_at = updated_at"))
        assert wakeups.wait(30) is True
    finally:
        wakeups.close()

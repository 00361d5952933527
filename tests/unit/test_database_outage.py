"""The database-outage rules: which errors mean "the database is away" (infra.db.is_unavailable)
and how the worker logs an outage once and backs off (scheduler/outage.py)."""

from __future__ import annotations

import sqlite3

import psycopg
import psycopg.errors
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import exc

from infra.db import describe, is_unavailable
from scheduler import outage
from scheduler.outage import MAX_DELAY, Outage, failed, may_try, retry_delay, succeeded


def wrapped(
    kind: type[exc.DBAPIError], original: BaseException, connection_invalidated: bool = False
) -> exc.DBAPIError:
    return kind("SELECT 1", {}, original, connection_invalidated=connection_invalidated)


def sqlite_error(kind: type[sqlite3.Error], message: str, name: str | None) -> sqlite3.Error:
    error = kind(message)
    if name is not None:
        error.sqlite_errorname = name  # as sqlite3 sets it (3.11+)
    return error


@pytest.mark.parametrize(
    "error",
    [
        wrapped(exc.OperationalError, psycopg.OperationalError("connection failed: Connection refused")),
        wrapped(exc.OperationalError, psycopg.errors.AdminShutdown("terminating connection")),
        wrapped(exc.OperationalError, psycopg.errors.CannotConnectNow("the database system is starting up")),
        wrapped(exc.OperationalError, psycopg.errors.TooManyConnections("too many clients")),
        wrapped(exc.OperationalError, psycopg.errors.DiskFull("could not extend file")),
        wrapped(exc.InterfaceError, psycopg.InterfaceError("the connection is closed")),
        wrapped(exc.DatabaseError, psycopg.DatabaseError("server closed the connection"), connection_invalidated=True),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "database is locked", "SQLITE_BUSY")),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "database is locked", None)),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "x", "SQLITE_BUSY_SNAPSHOT")),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "unable to open database file", None)),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "disk I/O error", "SQLITE_IOERR_WRITE")),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "database or disk is full", None)),
        exc.TimeoutError("QueuePool limit of size 10 overflow 10 reached, connection timed out, timeout 30.00"),
        exc.DisconnectionError("connection invalidated"),
    ],
    ids=lambda e: f"{type(e).__name__}:{type(getattr(e, 'orig', e)).__name__}:{getattr(e, 'orig', e)}"[:70],
)
def test_errors_that_mean_the_database_is_away(error: BaseException) -> None:
    assert is_unavailable(error)


@pytest.mark.parametrize(
    "error",
    [
        wrapped(exc.IntegrityError, psycopg.errors.UniqueViolation("duplicate key")),
        wrapped(exc.IntegrityError, sqlite3.IntegrityError("UNIQUE constraint failed: callback.ref")),
        wrapped(exc.ProgrammingError, psycopg.errors.UndefinedTable("relation does not exist")),
        wrapped(exc.DataError, psycopg.errors.NumericValueOutOfRange("integer out of range")),
        wrapped(exc.OperationalError, psycopg.errors.DeadlockDetected("deadlock detected")),
        wrapped(exc.OperationalError, psycopg.errors.SerializationFailure("could not serialize")),
        wrapped(exc.OperationalError, psycopg.errors.QueryCanceled("canceling statement due to statement timeout")),
        wrapped(exc.OperationalError, psycopg.errors.LockNotAvailable("could not obtain lock")),
        wrapped(
            exc.OperationalError, sqlite_error(sqlite3.OperationalError, "no such table: callback", "SQLITE_ERROR")
        ),
        wrapped(exc.OperationalError, sqlite_error(sqlite3.OperationalError, "no such column: x", None)),
        wrapped(exc.InterfaceError, sqlite3.InterfaceError("bad parameter or other API misuse")),
        exc.NoResultFound("No row was found when one was required"),
        exc.ArgumentError("bad argument"),
        ValueError("not a database error"),
    ],
    ids=lambda e: f"{type(e).__name__}:{type(getattr(e, 'orig', e)).__name__}"[:70],
)
def test_bugs_and_bad_data_are_not_an_outage(error: BaseException) -> None:
    assert not is_unavailable(error)


def test_describe_is_the_class_and_the_first_line_only() -> None:
    error = wrapped(
        exc.OperationalError, psycopg.OperationalError("connection failed: refused\n\tIs the server running?")
    )
    line = describe(error)
    assert line.startswith("OperationalError: (psycopg.OperationalError) connection failed: refused")
    assert "\n" not in line and "SELECT" not in line and "sqlalche.me" not in line
    assert len(describe(exc.TimeoutError("x" * 1000))) < 330


def test_an_outage_is_reported_once_and_its_end_once() -> None:
    state = Outage()
    assert may_try(state, 0.0)
    state, report = failed(state, 10.0)
    assert report and state.active and state.retry_at == 10.5
    assert not may_try(state, 10.2)
    state, report = failed(state, 10.2)  # a tick that began before: no new try counted
    assert not report and state.failures == 1
    for now in (10.5, 11.5, 13.5, 17.5, 22.5, 27.5):  # each try at retry_at fails again
        assert may_try(state, now)
        state, report = failed(state, now)
        assert not report
    assert [retry_delay(n) for n in range(1, 8)] == [0.5, 1.0, 2.0, 4.0, 5.0, 5.0, 5.0]
    assert state.failures == 7 and state.retry_at == 32.5
    state, lasted = succeeded(state, 32.5)
    assert lasted == 22.5 and state == Outage()
    state, lasted = succeeded(state, 33.0)  # no outage: nothing to say
    assert lasted is None
    state, report = failed(state, 40.0)  # a new outage is reported again
    assert report


@given(st.lists(st.tuples(st.booleans(), st.floats(min_value=0, max_value=30)), max_size=60))
def test_the_wait_between_tries_is_short_and_only_the_start_is_reported(steps: list[tuple[bool, float]]) -> None:
    state, now, reports, outages = Outage(), 0.0, 0, 0
    for ok, gap in steps:
        now += gap
        if not may_try(state, now):
            assert state.retry_at <= now + MAX_DELAY  # not retry_at - now: that subtraction rounds up
            continue
        was_active = state.active
        if ok:
            state, _ = succeeded(state, now)
            assert not state.active
        else:
            state, report = failed(state, now)
            reports += report
            outages += not was_active
            assert state.retry_at <= now + MAX_DELAY  # not retry_at - now: that subtraction rounds up
    assert reports == outages
    assert retry_delay(0) == 0.0 and retry_delay(10**6) == outage.MAX_DELAY

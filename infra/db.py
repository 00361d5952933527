"""Engines and sessions. The session's life cycle lives here, outside the code that touches data.

``db.write()`` is a transaction that will write: on SQLite it starts with
``BEGIN IMMEDIATE``, because a deferred transaction that later upgrades to a write
fails with "database is locked" whatever the busy timeout; taking the write lock up
front makes concurrent writers queue politely instead. ``db.read()`` never takes it.
On PostgreSQL both are ordinary READ COMMITTED transactions.

``is_unavailable(error)`` tells a database that cannot be reached or cannot serve now (the
API answers 503 ``database_unavailable``, the worker waits and retries) from a bug in a
statement or in the data (500, with its traceback in the log).
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, Table, create_engine, event, exc, make_url
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.pool import NullPool

from infra.settings import Settings

# How long a new PostgreSQL connection may take (seconds) unless the URL says otherwise: a
# database host that drops packets fails a request quickly (503) instead of holding it
# past gunicorn's timeout.
PG_CONNECT_TIMEOUT = 5

# PostgreSQL SQLSTATEs (or their classes) that mean the server cannot serve us now:
# connection exceptions (08), insufficient resources (53: too many connections, disk
# full, out of memory), operator intervention that ends sessions (57P: shutting down,
# starting up, session killed) and system errors (58: I/O). Not deadlocks, serialization
# failures, lock timeouts or cancelled statements (40, 55P03, 57014): those are ours.
_PG_UNAVAILABLE = ("08", "53", "57P", "58")
# SQLite: still busy when the busy timeout ran out ("database is locked"), the file cannot
# be opened, an I/O error, a full disk. Not "no such table" and the like (SQLITE_ERROR).
_SQLITE_UNAVAILABLE = ("SQLITE_BUSY", "SQLITE_CANTOPEN", "SQLITE_IOERR", "SQLITE_FULL")
_SQLITE_UNAVAILABLE_TEXT = ("database is locked", "unable to open database file", "disk i/o error", "disk is full")


def upsert_into(session: Session, target: Table | type[DeclarativeBase]) -> Any:
    """An INSERT into ``target`` (a table or a model) in the session's dialect, so that it
    takes ``on_conflict_do_nothing`` / ``on_conflict_do_update`` on SQLite and PostgreSQL alike."""
    dialect = session.get_bind().dialect.name
    return (postgresql_insert if dialect == "postgresql" else sqlite_insert)(target)


def is_unavailable(error: BaseException) -> bool:
    """Whether ``error`` (raised by SQLAlchemy) means the database is away, overloaded or
    locked, so that the same request may succeed a little later; False for integrity,
    programming and data errors, which are bugs or bad input."""
    if isinstance(error, exc.TimeoutError | exc.DisconnectionError):  # the pool is exhausted, or gave up
        return True
    if not isinstance(error, exc.DBAPIError):
        return False
    if error.connection_invalidated:  # the driver said the connection is gone
        return True
    original = error.orig
    if isinstance(original, sqlite3.Error):
        if not isinstance(error, exc.OperationalError):
            return False
        name = getattr(original, "sqlite_errorname", None)
        if name:
            return str(name).startswith(_SQLITE_UNAVAILABLE)
        return any(text in str(original).lower() for text in _SQLITE_UNAVAILABLE_TEXT)
    if isinstance(error, exc.InterfaceError):  # psycopg: the connection is closed or lost
        return True
    if not isinstance(error, exc.OperationalError):
        return False
    sqlstate = getattr(original, "sqlstate", None)
    # No SQLSTATE: the client failed to connect or lost the server (refused, reset, timeout).
    return sqlstate is None or str(sqlstate).startswith(_PG_UNAVAILABLE)


def describe(error: BaseException, limit: int = 300) -> str:
    """``error`` for a one-line log: its class and the first line of its message (no SQL,
    no parameters, no "background on this error" link)."""
    lines = str(error).strip().splitlines()
    first = lines[0].strip() if lines else ""
    if len(first) > limit:
        first = first[: limit - 1] + "…"
    return f"{type(error).__name__}: {first}" if first else type(error).__name__


def _postgresql_connect_args(url: str) -> dict[str, Any]:
    return {} if "connect_timeout" in make_url(url).query else {"connect_timeout": PG_CONNECT_TIMEOUT}


def sqlite_path(url: str) -> Path | None:
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def _create_private(path: Path) -> None:
    """Make the database file, if it is new, readable by its owner alone (0600, whatever the
    umask): it holds customers' numbers. SQLite gives its -wal and -shm files the same mode."""
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return  # an existing database keeps the mode its owner gave it
    os.fchmod(descriptor, 0o600)  # the umask could only have narrowed it; be exact
    os.close(descriptor)


def _make_sqlite_engine(settings: Settings, immediate: bool) -> Engine:
    path = sqlite_path(settings.database_url)
    if path is not None:
        _create_private(path)
    engine = create_engine(
        settings.database_url,
        connect_args={"timeout": settings.sqlite_busy_timeout_ms / 1000, "check_same_thread": False},
        poolclass=NullPool if path is None else None,
    )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so that we say how a transaction begins.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout = {settings.sqlite_busy_timeout_ms}")
        cursor.execute("PRAGMA journal_mode = WAL")  # readers never wait for the writer
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


class Database:
    def __init__(self, settings: Settings) -> None:
        self.url = settings.database_url
        self.is_sqlite = settings.is_sqlite
        if self.is_sqlite:
            self.engine = _make_sqlite_engine(settings, immediate=True)
            self.read_engine = _make_sqlite_engine(settings, immediate=False)
        else:
            self.engine = create_engine(
                settings.database_url,
                pool_size=settings.db_pool_size,
                max_overflow=settings.db_pool_size,
                pool_pre_ping=True,  # a connection the server dropped (a restart) is replaced, not used
                connect_args=_postgresql_connect_args(settings.database_url),
            )
            self.read_engine = self.engine
        self._writer = sessionmaker(self.engine, expire_on_commit=False)
        self._reader = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that commits on success and rolls back on any exception."""
        with self._writer() as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        with self._reader() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()
        if self.read_engine is not self.engine:
            self.read_engine.dispose()

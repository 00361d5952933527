"""Engines and sessions. The session's life cycle lives here, outside the code that touches data.

``db.write()`` is a transaction that will write: on SQLite it starts with
``BEGIN IMMEDIATE``, because a deferred transaction that later upgrades to a write
fails with "database is locked" whatever the busy timeout; taking the write lock up
front makes concurrent writers queue politely instead. ``db.read()`` never takes it.
On PostgreSQL both are ordinary READ COMMITTED transactions.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import NullPool

from app.settings import Settings


def _sqlite_path(url: str) -> Path | None:
    path = url.split("///", 1)[1] if "///" in url else ""
    return Path(path) if path and path != ":memory:" else None


def _make_sqlite_engine(settings: Settings, immediate: bool) -> Engine:
    path = _sqlite_path(settings.database_url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
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
                pool_pre_ping=True,
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

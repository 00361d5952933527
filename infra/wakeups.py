"""Waking the dialer when a callback may have fallen due, instead of asking the database
every 50 ms: the worker's dispatch loop sleeps until the next due time it knows of, or
until ``wait`` says something changed.

- PostgreSQL: a trigger NOTIFYs ``callback_due`` when a callback becomes or stays due
  (migrations/versions/0040_callback_due_notify.py), delivered at its transaction's
  commit; a thread LISTENs on a connection of its own. While it is not connected (the
  database restarting) the loop falls back to polling every ``POLL_SECONDS``, and on
  reconnecting it wakes the loop once for whatever it missed.
- SQLite: no notifications between processes, so a bounded poll of ``PRAGMA data_version``
  (it changes when another connection commits; it reads no table) every ``POLL_SECONDS``:
  the loop wakes only when the database changed.
- Anything else (an in-memory database): a plain sleep of at most ``POLL_SECONDS``.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from typing import Protocol

import psycopg
from sqlalchemy import make_url

from infra.db import Database, sqlite_path

log = logging.getLogger(__name__)

CHANNEL = "callback_due"
POLL_SECONDS = 0.05  # SQLite's poll, and PostgreSQL's while its listener is away
RECONNECT_SECONDS = 1.0


class Wakeups(Protocol):
    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True when woken (something may have changed)."""

    def wake(self) -> None:
        """Wake the waiting loop now (the worker stopping)."""

    def close(self) -> None: ...


class PollingWakeups:
    def __init__(self) -> None:
        self._woken = threading.Event()

    def wait(self, timeout: float) -> bool:
        woken = self._woken.wait(min(timeout, POLL_SECONDS))
        self._woken.clear()
        return woken

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        self.wake()


class SqliteWakeups:
    """Polls ``PRAGMA data_version`` on a connection of its own (the version is per connection)."""

    def __init__(self, path: str) -> None:
        self._connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._version = self._data_version()
        self._woken = threading.Event()

    def _data_version(self) -> int:
        return int(self._connection.execute("PRAGMA data_version").fetchone()[0])

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            if self._woken.wait(min(POLL_SECONDS, left)):
                self._woken.clear()
                return True
            version = self._data_version()
            if version != self._version:
                self._version = version
                return True

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        self.wake()
        self._connection.close()


class PostgresWakeups:
    """LISTENs on ``callback_due`` in a thread of its own, with a connection of its own."""

    def __init__(self, url: str) -> None:
        self._conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._woken = threading.Event()
        self._closing = threading.Event()
        self.listening = threading.Event()
        self._thread = threading.Thread(target=self._listen, name="callback-due-listener", daemon=True)
        self._thread.start()

    def _listen(self) -> None:
        while not self._closing.is_set():
            try:
                with psycopg.connect(self._conninfo, autocommit=True, connect_timeout=5) as connection:
                    connection.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    self._woken.set()  # whatever fell due while no one listened: look now
                    while not self._closing.is_set():
                        for _notice in connection.notifies(timeout=1.0, stop_after=1):
                            self._woken.set()
            except psycopg.Error as error:
                if self.listening.is_set():
                    log.warning("not listening for due callbacks (polling meanwhile): %s", error)
                self.listening.clear()
                self._closing.wait(RECONNECT_SECONDS)
        self.listening.clear()

    def wait(self, timeout: float) -> bool:
        if not self.listening.is_set():
            timeout = min(timeout, POLL_SECONDS)
        woken = self._woken.wait(timeout)
        self._woken.clear()
        return woken

    def wake(self) -> None:
        self._woken.set()

    def close(self) -> None:
        self._closing.set()
        self.wake()
        self._thread.join(timeout=5)


def wakeups_for(db: Database) -> Wakeups:
    if not db.is_sqlite:
        return PostgresWakeups(db.url)
    path = sqlite_path(db.url)
    return SqliteWakeups(str(path)) if path is not None else PollingWakeups()

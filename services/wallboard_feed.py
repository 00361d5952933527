"""The wallboard's live feed in one web process: one background thread watches the
cluster's change stamp (services/wallboard.py, one small query per POLL_SECONDS) for every
open stream of the process, builds a new snapshot when it moved (or REFRESH_SECONDS
passed: the ECBT and ages drift with time alone), and wakes the streams through one
condition. No stream queries the database itself; with no stream open the thread stops.

Nothing here decides correctness: a process that restarts builds its snapshot afresh from
the database, which every process and worker share.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import weakref
from datetime import timedelta

from infra.clock import Clock
from infra.db import Database
from services.wallboard import Stamp, change_stamp, rows

log = logging.getLogger(__name__)

POLL_SECONDS = 1.0
REFRESH_SECONDS = 15.0


def snapshot_json(db: Database, clock: Clock, max_age: timedelta) -> str:
    """The wallboard now, as the JSON every stream and the snapshot endpoint send."""
    now = clock.now()
    with db.read() as session:
        board = rows(session, now, max_age)
    return json.dumps({"at": now.isoformat(), "queues": [r.as_json() for r in board]}, separators=(",", ":"))


_feeds: weakref.WeakSet[Feed] = weakref.WeakSet()


def stop_all() -> None:
    """The process is stopping (gunicorn.conf.py, on SIGTERM): every open stream ends now,
    and its browser reconnects to another process, rather than holding the shutdown up."""
    for feed in list(_feeds):
        feed.stop()


class Feed:
    def __init__(
        self,
        db: Database,
        clock: Clock,
        max_age: timedelta,
        poll_seconds: float = POLL_SECONDS,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        self.db, self.clock, self.max_age = db, clock, max_age
        self.poll_seconds, self.refresh_seconds = poll_seconds, refresh_seconds
        self._changed = threading.Condition()
        self._watchers = 0
        self._running = False
        self.version = 0  # bumped with every new snapshot
        self.snapshot = ""
        self.polls = 0  # change-stamp queries made (for tests and curiosity)
        self.stopping = False
        _feeds.add(self)

    def stop(self) -> None:
        with self._changed:
            self.stopping = True
            self._changed.notify_all()

    def join(self) -> None:
        """A stream opens: start the poller unless it runs."""
        with self._changed:
            self._watchers += 1
            if not self._running:
                self._running = True
                threading.Thread(target=self._poll, name="wallboard-feed", daemon=True).start()

    def leave(self) -> None:
        with self._changed:
            self._watchers -= 1

    def after(self, version: int, timeout: float) -> tuple[int, str] | None:
        """The snapshot newer than ``version``, waiting up to ``timeout`` seconds for one
        (None: none came, or the feed is stopping)."""
        with self._changed:
            newer = self._changed.wait_for(lambda: self.version > version or self.stopping, timeout)
            if newer and not self.stopping:
                return self.version, self.snapshot
        return None

    def _poll(self) -> None:
        stamp: Stamp | None = None
        built = 0.0
        while True:
            with self._changed:
                if self._watchers <= 0:
                    self._running = False
                    return
            try:
                with self.db.read() as session:
                    now_stamp = change_stamp(session)
                self.polls += 1
                if now_stamp != stamp or time.monotonic() - built >= self.refresh_seconds:
                    snapshot = snapshot_json(self.db, self.clock, self.max_age)
                    stamp, built = now_stamp, time.monotonic()
                    with self._changed:
                        self.version += 1
                        self.snapshot = snapshot
                        self._changed.notify_all()
            except Exception as error:  # the database away: keep the streams open, try again
                log.warning("wallboard feed: %s; retrying", type(error).__name__)
            time.sleep(self.poll_seconds)

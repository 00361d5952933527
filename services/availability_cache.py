"""The API's slot list, kept per process as the bytes it sends, with its ETag.

The widget asks for a queue's slots on every page view of a customer's site, so the answer
is made once and sent again while it holds. It holds while the queue's
``availability_version`` (the sum of its stripes) is the one it was made at (database triggers bump it in the
transaction that changes a seat, a capacity, a slot row, or the queue's zone, lead time,
horizon or reserve: migrations/versions/0039_availability_versions.py), and while time has
not moved a slot out of the range's start or into its end (``scheduler.booking.
same_slots_shown``). Each request pays one indexed read of the version; with N web
processes on several machines each keeps its own answers, and all read the one version
in the shared database, so none answers from before a change another has committed.

The version is read before the slots, so on PostgreSQL (each statement its own snapshot)
an answer can only be newer than the version it is kept under, never older.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Connection, bindparam, func, or_, select

from infra.availability_models import AvailabilityVersion
from infra.db import Database
from infra.models import Queue, Slot
from scheduler.booking import BookingPolicy, availability_range, same_slots_shown
from scheduler.errors import QueueNotFound
from services.availability import bookable_rows_of_days
from services.queues import QUEUE_KEY, booking_policy
from services.slot_sync import rows_needed_until

MAX_ANSWERS = 512  # per process: queues × ranges asked (a range is a first day and a number of days)

# The one read of every request: the queue's version, with what the range is worked out from.
QUEUE_AND_VERSION = select(
    Queue.id,
    Queue.timezone,
    Queue.lead_minutes,
    Queue.horizon_days,
    Queue.asap_reserve_percent,
    Queue.slots_until,
    func.coalesce(
        select(func.sum(AvailabilityVersion.version)).where(AvailabilityVersion.queue_id == Queue.id).scalar_subquery(),
        0,
    ),
).where(Queue.key == bindparam("key"))
_BOOKABLE = (Slot.queue_id == bindparam("queue_id"), Slot.active.is_(True), Slot.booked < Slot.capacity - Slot.reserved)
_FIRST_AFTER = select(func.min(Slot.starts_at)).where(*_BOOKABLE, Slot.starts_at >= bindparam("end"))
# The second read, when the answer is made: the range's bookable slots and the first one after it.
SLOTS_AND_NEXT = (
    select(Slot.starts_at, Slot.ends_at, Slot.capacity - Slot.reserved - Slot.booked)
    .where(
        *_BOOKABLE,
        Slot.starts_at >= bindparam("start"),
        or_(
            Slot.starts_at < bindparam("end"),
            Slot.starts_at
            == select(func.min(Slot.starts_at)).where(*_BOOKABLE, Slot.starts_at >= bindparam("end")).scalar_subquery(),
        ),
    )
    .order_by(Slot.starts_at)
)


@dataclass(frozen=True)
class SlotList:
    """One answer: its bytes and ETag, and what tells whether it still holds."""

    body: bytes
    etag: str
    version: int
    policy: BookingPolicy
    window: tuple[datetime, datetime] | None
    first_start: datetime | None
    next_start: datetime | None

    def holds(self, version: int, policy: BookingPolicy, wanted: tuple[datetime, datetime] | None) -> bool:
        """Whether it is still the answer for the range ``wanted``, worked out from ``policy`` now."""
        if version != self.version or policy != self.policy:
            return False
        return same_slots_shown(self.window, self.first_start, self.next_start, wanted)


def _body(key: str, timezone: str, rows: Sequence[Any], dumps: Any) -> bytes:
    zone = ZoneInfo(timezone)
    slots = [
        {"start": s.astimezone(zone).isoformat(), "end": e.astimezone(zone).isoformat(), "seats_left": n}
        for s, e, n in rows
    ]
    return f"{dumps({'queue': key, 'timezone': timezone, 'slots': slots})}\n".encode()


class SlotLists:
    """The answers of one process (least recently used dropped beyond MAX_ANSWERS)."""

    def __init__(self, max_answers: int = MAX_ANSWERS) -> None:
        self._answers: OrderedDict[tuple[str, date | None, int], SlotList] = OrderedDict()
        self._lock = threading.Lock()
        self.max_answers = max_answers
        self.made = 0  # answers made (not found kept): for the tests and the bench

    def answer(self, db: Database, key: str, now: datetime, first_day: date | None, days: int, dumps: Any) -> SlotList:
        """The slot list of ``key`` for local days ``first_day``.. +``days``, as ``dumps`` (the
        app's JSON) writes it: the kept one if it still holds, else made now."""
        if not QUEUE_KEY.match(key):
            raise QueueNotFound(f"no queue {key!r}", {"queue": key})
        asked = (key, first_day, days)
        with db.read_engine.begin() as connection:  # Core: no ORM session on the hot path
            found = connection.execute(QUEUE_AND_VERSION, {"key": key}).first()
            if found is None:
                raise QueueNotFound(f"no queue {key!r}", {"queue": key})
            queue_id, timezone, lead, horizon, reserve, slots_until, version = found
            policy = BookingPolicy(timezone, lead, horizon, reserve)
            window = availability_range(policy, now, first_day, days)
            if slots_until is not None and slots_until >= rows_needed_until(timezone, horizon, now):
                with self._lock:
                    kept = self._answers.get(asked)
                    if kept is not None:
                        self._answers.move_to_end(asked)
                if kept is not None and kept.holds(version, policy, window):
                    return kept
                made = self._made(connection, key, queue_id, version, policy, window, dumps)
                self._keep(asked, made)
                return made
        # No worker has made the rows up to the horizon yet: made now (a write), not kept.
        queue, rows = bookable_rows_of_days(db, key, now, first_day, days)
        body = _body(queue.key, queue.timezone, rows, dumps)
        return SlotList(body, _etag(body), -1, booking_policy(queue), None, None, None)

    def _keep(self, asked: tuple[str, date | None, int], made: SlotList) -> None:
        with self._lock:
            self.made += 1
            self._answers[asked] = made
            self._answers.move_to_end(asked)
            while len(self._answers) > self.max_answers:
                self._answers.popitem(last=False)

    @staticmethod
    def _made(
        connection: Connection,
        key: str,
        queue_id: int,
        version: int,
        policy: BookingPolicy,
        window: tuple[datetime, datetime] | None,
        dumps: Any,
    ) -> SlotList:
        rows: list[Any] = []
        next_start = None
        if window is not None:
            found = connection.execute(SLOTS_AND_NEXT, {"queue_id": queue_id, "start": window[0], "end": window[1]})
            rows = list(found)
            if rows and rows[-1][0] >= window[1]:
                next_start = rows.pop()[0]
        body = _body(key, policy.timezone, rows, dumps)
        first = rows[0][0] if rows else None
        return SlotList(body, _etag(body), version, policy, window, first, next_start)


def _etag(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()[:32]

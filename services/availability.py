"""Which slots can be booked: one query, used by the API's slot list and the IVR alike.

Only slot rows are read (availability never scans callbacks): active slots of the
queue, in a range of starts, with a seat left outside the ASAP reserve.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.db import Database
from infra.models import Queue, Slot
from scheduler.booking import availability_range, bookable_window
from services.queues import booking_policy, get_queue
from services.slot_sync import ensure_slots, slots_are_current


def bookable_rows(
    session: Session, queue: Queue, window: tuple[datetime, datetime] | None, limit: int | None = None
) -> list[Any]:
    """(starts_at, ends_at, seats_left) of the bookable slots starting in ``window``, in order."""
    if window is None:
        return []
    query = (
        select(Slot.starts_at, Slot.ends_at, Slot.capacity - Slot.reserved - Slot.booked)
        .where(
            Slot.queue_id == queue.id,
            Slot.starts_at >= window[0],
            Slot.starts_at < window[1],
            Slot.active.is_(True),
            Slot.booked < Slot.capacity - Slot.reserved,
        )
        .order_by(Slot.starts_at)
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.execute(query))


def bookable_rows_of_days(
    db: Database, key: str, now: datetime, first_day: date | None, days: int
) -> tuple[Queue, list[Any]]:
    """(the queue, the bookable slots of its local days ``first_day``..+``days``): read in a
    read transaction; on the rare day no worker has made the slot rows yet, made first in
    a write one. The API's slot list and the booking page use it."""
    rows: list[Any] | None = None
    with db.read() as session:
        queue = get_queue(session, key)
        window = availability_range(booking_policy(queue), now, first_day, days)
        if slots_are_current(queue, now):
            rows = bookable_rows(session, queue, window)
    if rows is None:  # rare: once a day per queue when no worker has made the rows yet
        with db.write() as session:
            queue = get_queue(session, key)
            ensure_slots(session, queue, now)
            rows = bookable_rows(session, queue, window)
    return queue, rows


def next_bookable_starts(session: Session, queue: Queue, now: datetime, limit: int) -> list[datetime]:
    """The next ``limit`` slot starts a caller may book now (lead time to horizon). Makes
    the slot rows first when no worker has yet (needs a write transaction then)."""
    if not slots_are_current(queue, now):
        ensure_slots(session, queue, now)
    rows = bookable_rows(session, queue, bookable_window(booking_policy(queue), now), limit)
    return [row[0] for row in rows]

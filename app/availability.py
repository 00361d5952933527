"""Which slots can be booked: one query, used by the API's slot list and the IVR alike.

Only slot rows are read (availability never scans callbacks): active slots of the
queue, in a range of starts, with a seat left outside the ASAP reserve.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.models import Queue, Slot
from app.queues import booking_policy
from app.slot_sync import ensure_slots, slots_are_current
from scheduler.booking import bookable_window


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


def next_bookable_starts(session: Session, queue: Queue, now: datetime, limit: int) -> list[datetime]:
    """The next ``limit`` slot starts a caller may book now (lead time to horizon). Makes
    the slot rows first when no worker has yet (needs a write transaction then)."""
    if not slots_are_current(queue, now):
        ensure_slots(session, queue, now)
    rows = bookable_rows(session, queue, bookable_window(booking_policy(queue), now), limit)
    return [row[0] for row in rows]

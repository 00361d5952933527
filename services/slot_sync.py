"""Slot rows follow the calendar: made ahead for the booking horizon, re-planned on change.

Availability reads only slot rows, so they must exist before anyone asks. Each queue
remembers the last local date it has rows for (``slots_until``); the worker extends it
every hour, and any request that finds it short extends it first (so a deployment
without a running worker still offers slots).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from infra.models import Queue, Slot
from scheduler.booking import local_midnight
from scheduler.calendar import local_date, slots_between
from scheduler.slot_plan import ExistingSlot, plan_slots
from services.queues import queue_calendar

# One day beyond the horizon, so that a booking horizon counted in the customer's
# zone never looks past the rows.
MARGIN_DAYS = 1


def needed_until(queue: Queue, now: datetime) -> date:
    return rows_needed_until(queue.timezone, queue.horizon_days, now)


def rows_needed_until(timezone: str, horizon_days: int, now: datetime) -> date:
    """The last local date a queue in ``timezone`` booking ``horizon_days`` ahead needs slot rows for now."""
    return local_date(now, timezone) + timedelta(days=horizon_days + MARGIN_DAYS)


def slots_are_current(queue: Queue, now: datetime) -> bool:
    return queue.slots_until is not None and queue.slots_until >= needed_until(queue, now)


def sync_slots(session: Session, queue: Queue, now: datetime, *, first_day: date | None = None) -> int:
    """Make the queue's slot rows from ``first_day`` (default: today, local) through the
    horizon match its calendar. Past slots are never touched. Returns rows changed."""
    # Two processes syncing one queue would both insert the same rows: take turns.
    session.execute(select(Queue.id).where(Queue.id == queue.id).with_for_update())
    today = local_date(now, queue.timezone)
    first = max(first_day or today, today)
    last = needed_until(queue, now)
    calendar = queue_calendar(queue)
    desired = slots_between(calendar, first, last)
    window_start = local_midnight(first, calendar.zone)
    window_end = local_midnight(last + timedelta(days=1), calendar.zone)
    rows = session.execute(
        select(
            Slot.id,
            Slot.starts_at,
            Slot.ends_at,
            Slot.capacity,
            Slot.reserved,
            Slot.booked,
            Slot.active,
            Slot.capacity_override,
        ).where(Slot.queue_id == queue.id, Slot.starts_at >= window_start, Slot.starts_at < window_end)
    ).all()
    plan = plan_slots(desired, [ExistingSlot(*row) for row in rows], queue.asap_reserve_percent)
    if plan.inserts:
        session.execute(
            insert(Slot),
            [
                {
                    "queue_id": queue.id,
                    "starts_at": s.starts_at,
                    "ends_at": s.ends_at,
                    "capacity": s.capacity,
                    "reserved": s.reserved,
                    "booked": 0,
                    "active": True,
                }
                for s in plan.inserts
            ],
        )
    for u in plan.updates:
        # Capacity never drops below what is booked, even if a booking landed since we read.
        session.execute(
            update(Slot)
            .where(Slot.id == u.id)
            .values(ends_at=u.ends_at, capacity=u.capacity, reserved=u.reserved, active=u.active)
            .where(Slot.booked <= u.capacity)
        )
    queue.slots_until = last
    session.flush()
    return len(plan.inserts) + len(plan.updates)


def ensure_slots(session: Session, queue: Queue, now: datetime) -> None:
    """Extend the queue's slot rows to the horizon if they fall short (once a day at most)."""
    if slots_are_current(queue, now):
        return
    session.refresh(queue, with_for_update=True)
    if not slots_are_current(queue, now):
        first = queue.slots_until + timedelta(days=1) if queue.slots_until else None
        sync_slots(session, queue, now, first_day=first)

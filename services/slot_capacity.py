"""A supervisor changes slots' capacity from the console's grid: one cell, a range of
cells, a week copied to the following weeks, or a pattern (scheduler/bulk_capacity.py
says which slots each covers).

Each change is one transaction and one audit entry. The new capacity is kept on the slot
(``capacity_override``) so that re-planning from the weekly template does not undo it; it
takes effect at once (availability reads slot rows). The slots are read locked (``FOR
UPDATE`` on PostgreSQL; SQLite's writer holds the database) and every UPDATE is
conditional, ``WHERE booked <= :capacity``: a booking taken meanwhile by another process
makes the whole change fail (rolled back, the cells named), never booked > capacity.
Past slots are never changed.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infra.audit import audit
from infra.models import Queue, Slot
from scheduler.booking import local_midnight
from scheduler.bulk_capacity import (
    MAX_WEEKS,
    Change,
    GridSlot,
    Pattern,
    below_booked,
    copy_targets,
    pattern_targets,
    plan_changes,
    summarise,
)
from scheduler.errors import SlotNotFound, ValidationFailed


def _locked_slots(session: Session, queue: Queue, first_day: date, last_day: date) -> list[GridSlot]:
    zone = ZoneInfo(queue.timezone)
    rows = session.execute(
        select(Slot.id, Slot.starts_at, Slot.capacity, Slot.booked)
        .where(
            Slot.queue_id == queue.id,
            Slot.active.is_(True),
            Slot.starts_at >= local_midnight(first_day, zone),
            Slot.starts_at < local_midnight(last_day + timedelta(days=1), zone),
        )
        .order_by(Slot.starts_at)
        .with_for_update()
    ).all()
    return [GridSlot(*row) for row in rows]


def _apply(
    session: Session,
    queue: Queue,
    slots: list[GridSlot],
    targets: dict[int, int],
    now: datetime,
    actor: str,
    how: str,
    asked: dict[str, object] | None = None,
) -> int:
    zone = ZoneInfo(queue.timezone)
    changes = plan_changes(slots, targets, zone, now, queue.asap_reserve_percent)
    groups: dict[tuple[int, int], list[Change]] = defaultdict(list)
    for change in changes:
        groups[(change.capacity, change.reserved)].append(change)
    for (capacity, reserved), group in groups.items():
        ids = [c.slot.id for c in group]
        done = session.execute(
            update(Slot)
            .where(Slot.id.in_(ids), Slot.booked <= capacity)
            .values(capacity=capacity, reserved=reserved, capacity_override=capacity)
            .execution_options(synchronize_session=False)
        )
        if done.rowcount != len(ids):  # type: ignore[attr-defined]
            # A booking landed after the read: say which cells, and roll the whole change back.
            booked = {i: b for i, b in session.execute(select(Slot.id, Slot.booked).where(Slot.id.in_(ids)))}
            short = [
                GridSlot(c.slot.id, c.slot.starts_at, c.slot.capacity, booked[c.slot.id])
                for c in group
                if booked[c.slot.id] > capacity
            ]
            raise below_booked(short, {s.id: capacity for s in short}, zone)
    target, before, after = summarise(changes, zone, how)
    after.update(asked or {})  # what the supervisor asked for: the pattern, the week copied
    audit(session, actor, "slot.capacity", f"{queue.key} {target}", now, before, after)
    return len(changes)


def change_slot_capacity(session: Session, queue: Queue, slot_id: int, capacity: int, now: datetime, actor: str) -> int:
    """One cell: the one-slot case of the bulk change."""
    row = session.scalars(select(Slot.starts_at).where(Slot.id == slot_id, Slot.queue_id == queue.id)).one_or_none()
    if row is None:
        raise SlotNotFound("no such slot in this queue", {"slot": slot_id})
    day = row.astimezone(ZoneInfo(queue.timezone)).date()
    slots = [s for s in _locked_slots(session, queue, day, day) if s.id == slot_id]
    if not slots:
        raise SlotNotFound("no such slot in this queue", {"slot": slot_id})
    return _apply(session, queue, slots, {slot_id: capacity}, now, actor, "cell")


def set_seats(
    session: Session, queue: Queue, pattern: Pattern, seats: int, now: datetime, actor: str, how: str = "range"
) -> int:
    """Every slot the pattern covers gets ``seats``; the number of slots changed."""
    slots = _locked_slots(session, queue, pattern.first_day, pattern.last_day)
    targets = pattern_targets(slots, ZoneInfo(queue.timezone), pattern, seats)
    return _apply(session, queue, slots, targets, now, actor, how, pattern.asked())


def copy_week(session: Session, queue: Queue, monday: date, weeks: int, now: datetime, actor: str) -> int:
    """The capacities of the week from ``monday`` copied to the ``weeks`` weeks after it."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise ValidationFailed(f"copy to 1 to {MAX_WEEKS} weeks", {"weeks": f"1 to {MAX_WEEKS}"})
    slots = _locked_slots(session, queue, monday, monday + timedelta(days=7 * (weeks + 1) - 1))
    zone = ZoneInfo(queue.timezone)
    boundary = local_midnight(monday + timedelta(days=7), zone)
    week = [s for s in slots if s.starts_at < boundary]
    later = [s for s in slots if s.starts_at >= boundary]
    asked = {"week": monday.isoformat(), "weeks": weeks}
    return _apply(session, queue, later, copy_targets(week, later, zone), now, actor, "copy", asked)

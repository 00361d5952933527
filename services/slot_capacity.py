"""A supervisor changes one slot's capacity (the console's capacity grid).

The new capacity is kept on the slot (``capacity_override``) so that re-planning from
the weekly template does not undo it; it takes effect at once (availability reads slot
rows) and never goes below the seats booked, checked again in the UPDATE itself so that a
booking landing meanwhile cannot be squeezed out. Written to the audit log.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infra.audit import audit
from infra.models import Queue, Slot
from scheduler.errors import CapacityBelowBooked, SlotInThePast, SlotNotFound
from scheduler.slot_plan import new_capacity


def change_slot_capacity(
    session: Session, queue: Queue, slot_id: int, capacity: int, now: datetime, actor: str
) -> Slot:
    slot = session.scalars(
        select(Slot).where(Slot.id == slot_id, Slot.queue_id == queue.id).with_for_update()
    ).one_or_none()
    if slot is None:
        raise SlotNotFound("no such slot in this queue", {"slot": slot_id})
    if slot.starts_at <= now:
        raise SlotInThePast("this slot has begun: its capacity no longer changes", {"slot": slot_id})
    before = {"capacity": slot.capacity, "booked": slot.booked}
    capacity, reserved = new_capacity(slot.booked, capacity, queue.asap_reserve_percent)
    changed = session.execute(
        update(Slot)
        .where(Slot.id == slot.id, Slot.booked <= capacity)
        .values(capacity=capacity, reserved=reserved, capacity_override=capacity)
    )
    if changed.rowcount != 1:  # type: ignore[attr-defined]
        session.refresh(slot)
        raise CapacityBelowBooked(
            f"{slot.booked} seats are booked now: the capacity cannot go below that", {"capacity": slot.booked}
        )
    session.refresh(slot)
    audit(
        session,
        actor,
        "slot.capacity",
        f"{queue.key} {slot.starts_at.isoformat()}",
        now,
        before,
        {"capacity": capacity, "booked": slot.booked},
    )
    return slot

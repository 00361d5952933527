"""The shell around scheduler/offer_limits.py: whether a queue takes a new callback now,
from its switches, its callbacks waiting and, for an ASAP request, its estimated callback
time. The booking refuses one (``callbacks_withheld``, 409) and the IVR makes no offer
(the caller holds, told why); a duplicate of a live callback is not a new one."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from infra.models import Callback, Queue
from scheduler.errors import CallbacksWithheld
from scheduler.lifecycle import DUE_STATES
from scheduler.offer_limits import OfferLimits, Withheld, withheld
from services import centre_switches

REASONS: dict[Withheld, str] = {
    "paused": "callback requests are not being taken now",
    "too_many_pending": "too many callbacks are waiting in this queue now",
    "wait_too_long": "the wait for a callback is too long now",
}


def limits_of(session: Session, queue: Queue) -> OfferLimits:
    """The queue's limits; taking new callbacks needs its switch and the centre's on."""
    taking = queue.register_enabled and centre_switches.current(session).register_enabled
    return OfferLimits(taking, queue.max_pending, queue.max_ecbt_seconds)


def pending(session: Session, queue: Queue) -> int:
    """The queue's callbacks waiting to be dialled (booked, or waiting for a retry)."""
    count = session.scalar(
        select(func.count()).select_from(Callback).where(Callback.queue_id == queue.id, Callback.state.in_(DUE_STATES))
    )
    return int(count or 0)


def withheld_now(session: Session, queue: Queue, ecbt_seconds: int | None) -> Withheld | None:
    limits = limits_of(session, queue)
    if limits == OfferLimits():
        return None  # no limits: no count
    return withheld(limits, pending(session, queue) if limits.max_pending is not None else 0, ecbt_seconds)


def check_taking(session: Session, queue: Queue, now: datetime, ecbt_at: datetime | None) -> None:
    """Raise CallbacksWithheld when the queue takes no new callback now."""
    ecbt = max(int((ecbt_at - now).total_seconds()), 0) if ecbt_at is not None else None
    reason = withheld_now(session, queue, ecbt)
    if reason is not None:
        raise CallbacksWithheld(f"{REASONS[reason]}; please call us, or try again later", {"reason": reason})

"""The shell around scheduler/ecbt.py: the figures an ASAP booking's estimated callback
time needs, read from the database. The queue's staffing (the live agent figures when
fresh, else its static ones) and the due times of its callbacks waiting to be dialled."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.models import Callback, Queue
from infra.settings import Settings
from scheduler.agents import Staffing, line_wait_seconds
from scheduler.ecbt import Promise, asap_wait_seconds, promise
from scheduler.lifecycle import DUE_STATES
from services.agent_figures import queue_staffing

# The callbacks looked at: those due within this horizon, at most this many (beyond
# them the estimate is hours away and an hour's more or less changes nothing said).
HORIZON = timedelta(hours=8)
MAX_AHEAD = 5_000
DEFAULT_MAX_AGE = timedelta(seconds=Settings.agent_figures_max_age_seconds)  # the setting's default


def asap_promise(
    session: Session,
    queue: Queue,
    now: datetime,
    caller_wait_seconds: int | None,
    agent_figures_max_age: timedelta = DEFAULT_MAX_AGE,
) -> Promise:
    """When an ASAP callback booked now rings, and the range its customer is told. The
    callbacks ahead are counted while the queue's live agent figures are fresh.

    ``caller_wait_seconds``: the caller's own wait in the line as the IVR told it (the
    provider's queue position, or our EWT); None for a booking from the web, a text or
    the API, which takes the EWT of the line now: from the live agent figures when fresh,
    else the queue's ``estimated_wait_seconds``."""
    staffing = queue_staffing(session, queue, now, agent_figures_max_age)
    return asap_promise_with(session, queue, now, caller_wait_seconds, staffing)


def asap_promise_with(
    session: Session, queue: Queue, now: datetime, caller_wait_seconds: int | None, staffing: Staffing
) -> Promise:
    """``asap_promise`` with the queue's ``staffing`` already read (services/agent_figures.py)."""
    if not staffing.live:
        # No live figures: the wait the IVR said, or the supervisor's own estimate of the
        # whole wait (``estimated_wait_seconds``), callbacks and all, as the queue sets it.
        wait = queue.estimated_wait_seconds if caller_wait_seconds is None else caller_wait_seconds
        return promise(now, max(wait, 0))
    if caller_wait_seconds is None:
        caller_wait_seconds = line_wait_seconds(queue.callers_waiting, staffing)
    due = _due_times(session, queue, now)
    return promise(now, asap_wait_seconds(max(caller_wait_seconds, 0), due, now, staffing, queue.over_dial_ratio))


def opening_promise(session: Session, queue: Queue, opening: datetime) -> Promise:
    """An ASAP callback booked while the queue is closed (``collect_off_hours``): its place
    at the opening, behind the callbacks due by then, with the queue's static staffing (the
    live figures of the night say nothing of the morning's)."""
    staffing = Staffing(queue.agents, None, queue.average_handle_seconds, live=False)
    return promise(opening, asap_wait_seconds(0, _due_times(session, queue, opening), opening, staffing))


def _due_times(session: Session, queue: Queue, now: datetime) -> list[datetime]:
    """The due times, in order, of the queue's callbacks waiting to be dialled by now + HORIZON."""
    return [
        instant
        for instant in session.scalars(
            select(Callback.next_attempt_at)
            .where(
                Callback.queue_id == queue.id,
                Callback.state.in_(DUE_STATES),
                Callback.next_attempt_at <= now + HORIZON,
            )
            .order_by(Callback.next_attempt_at)
            .limit(MAX_AHEAD)
        )
        if instant is not None
    ]

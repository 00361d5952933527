"""Claiming due callbacks: one transaction of a fixed number of statements, whatever the
batch, that keeps each queue's concurrent-call limit and one call per number across every
worker, writes the claims' history and attempt rows, and reserves their turns at the
providers' pace (scheduler/dialing.py holds the rules)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import BindParameter, Row, Table, bindparam, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased

from infra.db import Database
from infra.models import AgentFigureReport, Attempt, Callback, CallbackEvent, DialPacer, Queue
from infra.settings import Settings
from scheduler.agents import reported_in_time
from scheduler.dialing import ON_CALL_RETRY, agent_allowance, choose_claims, claim_budget, pace
from scheduler.lifecycle import DUE_STATES, ON_CALL_STATES, State
from services.centre_switches import dialling_on
from services.dialer import reservations
from services.inbound_presence import on_the_line
from services.transitions import step_event
from telephony.registry import Providers

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Claim:
    callback_id: int
    attempt_id: int
    phone: str
    providers: list[str]
    caller_id: str
    agent_target: str | None  # agent-first: the number dialled first
    lease_until: datetime  # the lease this worker wrote when it claimed
    turn: datetime  # when the primary provider's pacer lets this call go
    due_at: datetime | None = None  # when it fell due (the dispatch lag is measured from it)
    ref: str = ""  # the callback's public reference, for the logs
    # Its place in line, for an ACD that ranks by age (TaskRouter's VirtualStartTime): an ASAP
    # callback keeps its caller's, when they booked it; a scheduled one's is its due time.
    in_line_since: datetime | None = None


@dataclass(frozen=True)
class Claimer:
    """Who claims (the worker, its lease) and with what (the providers, the settings)."""

    worker_id: str
    lease: timedelta
    providers: Providers
    settings: Settings


def on_call_states() -> BindParameter[list[str]]:
    """``state IN ('dialing', 'connected')`` rendered as literals in the partial index's
    order: SQLite uses uq_callback_phone_on_call only when the query repeats its predicate."""
    return bindparam("on_call", list(ON_CALL_STATES), expanding=True, literal_execute=True)


# Built once: the claim runs several times a second in every worker. One statement finds
# the due callbacks and all the claim needs about them: their queue's dialing settings,
# whether the number is on a call, the last attempt.
_LAST_ATTEMPT = select(func.coalesce(func.max(Attempt.number), 0)).where(Attempt.callback_id == Callback.id)
_OTHER = aliased(Callback)
_ON_A_CALLBACK = select(_OTHER.id).where(_OTHER.phone == Callback.phone, _OTHER.state.in_(on_call_states())).exists()
# On a call already: another callback's, or an inbound call with us (in the IVR, holding,
# with an agent: services/inbound_presence.py). Never rung then; postponed.
_NUMBER_ON_CALL = or_(_ON_A_CALLBACK, on_the_line(Callback.phone, bindparam("now")))
DUE_FOR_CLAIM = (
    select(
        Callback.id,
        Callback.ref,
        Callback.queue_id,
        Callback.phone,
        Callback.state,
        Callback.next_attempt_at,
        Callback.kind,
        Callback.created_at,
        _LAST_ATTEMPT.scalar_subquery().label("last_number"),
        _NUMBER_ON_CALL.label("number_on_call"),
        Queue.max_concurrent_calls,
        Queue.over_dial_ratio,
        AgentFigureReport.available.label("agents_available"),
        AgentFigureReport.signed_in.label("agents_signed_in"),
        AgentFigureReport.average_handle_seconds.label("agents_handle_seconds"),
        AgentFigureReport.reported_at.label("agents_reported_at"),
        Queue.primary_provider,
        Queue.secondary_provider,
        Queue.dial_mode,
        Queue.caller_id,
        Queue.agent_target,
        Queue.taskrouter_workspace_sid,
        Queue.taskrouter_workflow_sid,
    )
    .join(Queue, Queue.id == Callback.queue_id)
    .outerjoin(AgentFigureReport, AgentFigureReport.queue_id == Queue.id)  # live agents, if reported
    .where(Callback.state.in_(DUE_STATES), Callback.next_attempt_at <= bindparam("now"))
    .where(Queue.process_enabled.is_(True))  # a queue's dialling switched off: its callbacks wait
    .where(dialling_on())  # and so do every queue's, while the centre's switch is off
    .order_by(Callback.next_attempt_at, Callback.id)
    .limit(bindparam("limit"))
    .with_for_update(of=Callback, skip_locked=True)
)
# The queues of a batch, locked in id order: claimers of one queue take turns, so that its
# concurrent-call limit holds across workers (no-op on SQLite, whose writers take turns).
LOCK_QUEUES = (
    select(Queue.id).where(Queue.id.in_(bindparam("queue_ids", expanding=True))).order_by(Queue.id).with_for_update()
)
# Our calls waiting for an agent, by queue: dialled or answered, and no agent on the line
# yet (ringing, in the menu, or put through and holding for one). Each takes the next agent
# who frees, so the pacing counts them against the agents expected free.
AWAITING_AGENT_BY_QUEUE = (
    select(Callback.queue_id, func.count())
    .join(Attempt, (Attempt.callback_id == Callback.id) & Attempt.outcome.is_(None))
    .where(
        Callback.queue_id.in_(bindparam("queue_ids", expanding=True)),
        Callback.state.in_(on_call_states()),
        Attempt.agent_answered_at.is_(None),
    )
    .group_by(Callback.queue_id)
)
CALLS_BY_QUEUE = (
    select(Callback.queue_id, func.count())
    .where(Callback.queue_id.in_(bindparam("queue_ids", expanding=True)), Callback.state.in_(on_call_states()))
    .group_by(Callback.queue_id)
)
_CALLBACK_EVENT = cast(Table, CallbackEvent.__table__)
_ATTEMPT = cast(Table, Attempt.__table__)
PACER_NEXT_AT = select(DialPacer.next_at).where(DialPacer.provider == bindparam("provider"))


def claim_due(db: Database, claimer: Claimer, now: datetime, limit: int) -> list[Claim]:
    """Claim up to ``limit`` due callbacks (fewer when the provider's pace could not dial
    them within half a lease): lock the due rows (SKIP LOCKED: workers share), keep each
    queue's concurrent-call limit and one call per number, then move them to ``dialing``
    with a lease, write their history and attempt rows, and reserve their turns."""
    try:
        with db.write() as session:
            next_at = session.scalar(PACER_NEXT_AT, {"provider": claimer.providers.default})
            budget = budget_now(claimer, limit, next_at, now)
            if budget <= 0:
                return []
            rows = session.execute(DUE_FOR_CLAIM, {"now": now, "limit": budget}).all()
            if not rows:
                return []
            queue_ids = sorted({row.queue_id for row in rows})
            session.execute(LOCK_QUEUES, {"queue_ids": queue_ids})
            # Counted after the lock: it sees the calls every earlier claimer committed.
            calls = {qid: n for qid, n in session.execute(CALLS_BY_QUEUE, {"queue_ids": queue_ids})}
            chosen, postponed = choose_claims(rows, calls, agent_allowances(session, claimer, rows, now))
            if postponed:
                session.execute(
                    update(Callback).where(Callback.id.in_(postponed)).values(next_attempt_at=now + ON_CALL_RETRY),
                    execution_options={"synchronize_session": False},
                )
            return _write_claims(session, claimer, chosen, now) if chosen else []
    except IntegrityError:
        # Another worker put one of these numbers on a call after we looked: nothing was
        # written; the next pass sees it and postpones that callback.
        log.info("a claim raced another worker for a number on a call: claiming again")
        return []


def agent_allowances(session: Session, claimer: Claimer, rows: Sequence[Row[Any]], now: datetime) -> dict[int, int]:
    """For each queue with fresh live agent figures, how many more calls its agents
    allow now (scheduler/dialing.py: agent_allowance); a queue without them is held by
    ``max_concurrent_calls`` alone, as before. The figures come with the due rows; the
    calls waiting for an agent are counted only for queues that have them."""
    max_age = claimer.settings.agent_figures_max_age
    live = {row.queue_id: row for row in rows if reported_in_time(row.agents_reported_at, now, max_age)}
    if not live:
        return {}
    awaiting = {qid: n for qid, n in session.execute(AWAITING_AGENT_BY_QUEUE, {"queue_ids": sorted(live)})}
    return {
        queue_id: agent_allowance(
            row.agents_available,
            awaiting.get(queue_id, 0),
            row.over_dial_ratio,
            signed_in=row.agents_signed_in,
            average_handle_seconds=row.agents_handle_seconds,
        )
        for queue_id, row in live.items()
    }


def budget_now(claimer: Claimer, limit: int, next_at: datetime | None, now: datetime) -> int:
    """How many callbacks a claim takes now, behind the turns ``next_at`` says are held."""
    cps = claimer.providers.calls_per_second(claimer.providers.default, claimer.settings)
    return claim_budget(limit, claimer.lease, next_at, now, cps)


def _write_claims(session: Session, claimer: Claimer, rows: list[Row[Any]], now: datetime) -> list[Claim]:
    lease_until = now + claimer.lease
    connection = session.connection()
    session.execute(
        update(Callback)
        .where(Callback.id.in_([row.id for row in rows]))
        .values(state=State.DIALING.value, lease_owner=claimer.worker_id, lease_until=lease_until, updated_at=now),
        execution_options={"synchronize_session": False},
    )
    events = []
    for row in rows:
        event = step_event("start_dial", row.state, now, claimer.worker_id, reason="due")
        assert event is not None  # a due callback is never dialing already
        events.append(event | {"callback_id": row.id})
    connection.execute(insert(_CALLBACK_EVENT), events)
    routes = {row.id: claimer.providers.route(row.primary_provider, row.secondary_provider) for row in rows}
    agent_targets = {row.id: _agent_first_target(claimer, row, routes[row.id][0]) for row in rows}
    inserted = connection.execute(
        insert(_ATTEMPT).returning(_ATTEMPT.c.callback_id, _ATTEMPT.c.id),
        [
            {
                "callback_id": row.id,
                "number": row.last_number + 1,
                "provider": routes[row.id][0],
                "call_state": "requested",
                "requested_at": now,
                "agent_first": agent_targets[row.id] is not None,
            }
            for row in rows
        ],
    )
    attempt_of = {callback_id: attempt_id for callback_id, attempt_id in inserted}  # one per callback
    wanted: dict[str, int] = {}
    for row in rows:
        wanted[routes[row.id][0]] = wanted.get(routes[row.id][0], 0) + 1
    turns = {
        provider: reserve(session, claimer.settings, claimer.providers, provider, n, now)
        for provider, n in wanted.items()
    }
    claims = []
    for row in rows:
        claims.append(
            Claim(
                callback_id=row.id,
                attempt_id=attempt_of[row.id],
                phone=row.phone,
                providers=routes[row.id],
                caller_id=row.caller_id or claimer.settings.caller_id,
                agent_target=agent_targets[row.id],
                lease_until=lease_until,
                turn=turns[routes[row.id][0]].pop(0),
                due_at=row.next_attempt_at,
                ref=row.ref,
                in_line_since=row.created_at if row.kind == "asap" else row.next_attempt_at,
            )
        )
    return claims


def _agent_first_target(claimer: Claimer, row: Row[Any], provider: str) -> str | None:
    """Agent-first reserves an agent through the queue's TaskRouter workflow, or rings the
    queue's agent (or the first provider's stand-in agent) first; with none of them, and
    customer-first, the customer is rung first."""
    if row.dial_mode != "agent_first":
        return None
    if row.taskrouter_workflow_sid and row.taskrouter_workspace_sid:
        return reservations.target(row.taskrouter_workspace_sid, row.taskrouter_workflow_sid)
    return cast(str | None, row.agent_target or claimer.providers.get(provider).default_agent_target)


def reserve(
    session: Session, settings: Settings, providers: Providers, provider: str, count: int, now: datetime
) -> list[datetime]:
    """Pace calls to the provider's calls-per-second across every worker: one shared row
    holds the next free instant; a batch reserves its turns in one go."""
    cps = providers.calls_per_second(provider, settings)
    row = session.get(DialPacer, provider, with_for_update=True)
    following = row.next_at if row else None
    turns: list[datetime] = []
    for _ in range(count):
        turn, following = pace(following, now, cps)
        turns.append(turn)
    assert following is not None
    if row is None:
        session.add(DialPacer(provider=provider, next_at=following))
    else:
        row.next_at = following
    return turns

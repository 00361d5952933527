"""Leases that ran out: a worker died or stalled with a callback on a call. Before any
redial the provider is asked what became of the call (by its id, or by number and time
when the worker died before saving the id), and its answer is applied like a report."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy import select, update

from infra.clock import Clock
from infra.db import Database
from infra.models import Attempt, Callback
from infra.settings import Settings
from scheduler.dialing import CALL_WATCH, PROVIDER_API_GRACE
from scheduler.lifecycle import ON_CALL_STATES
from scheduler.retry import Outcome
from services.dialer import reservations
from services.dialer.call_reports import (
    adopt_call_id,
    attempt_finished,
    clear_lease,
    finish_attempt,
    record_call_event,
)
from services.dialer.claims import Claimer
from services.transitions import apply_step
from telephony.base import TERMINAL_CALL_STATES, CallState, ProviderError
from telephony.registry import Providers

log = logging.getLogger(__name__)


def reconcile(
    db: Database, providers: Providers, clock: Clock, settings: Settings, claimer: Claimer, limit: int = 50
) -> int:
    """Callbacks whose lease ran out: ask the provider before any redial."""
    now = clock.now()
    stale: list[tuple[int, int, str, str | None, datetime, str, str | None, str | None]] = []
    with db.write() as session:
        ids = session.scalars(
            select(Callback.id)
            .where(Callback.state.in_(ON_CALL_STATES), Callback.lease_until < now)
            .order_by(Callback.lease_until)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for callback_id in ids:
            stale_callback = session.get_one(Callback, callback_id)
            phone = stale_callback.phone
            log.info(
                "callback %s: lease ran out in state %s: asking the provider",
                stale_callback.ref,
                stale_callback.state,
                extra={"callback": stale_callback.ref},
            )
            attempt = session.scalars(
                select(Attempt).where(Attempt.callback_id == callback_id).order_by(Attempt.number.desc()).limit(1)
            ).first()
            # Take the case (and the lease) so that other workers, and a late owner, leave it alone.
            session.execute(
                update(Callback)
                .where(Callback.id == callback_id)
                .values(lease_until=now + claimer.lease, lease_owner=claimer.worker_id)
            )
            if attempt is not None:
                workspace = stale_callback.queue.taskrouter_workspace_sid
                stale.append(
                    (callback_id, attempt.id, attempt.provider, attempt.call_id, attempt.requested_at, phone,
                     attempt.task_sid, workspace)
                )  # fmt: skip
    handled = 0
    for callback_id, attempt_id, provider, call_id, requested_at, phone, task_sid, workspace in stale:
        handled += 1
        try:
            adapter = providers.get(provider)
            if call_id is None and task_sid is not None:
                # A TaskRouter reservation: no call until a worker is reserved and rung.
                if reservations.task_still_open(providers, provider, workspace, task_sid):
                    _watch_longer(db, callback_id, now)
                else:
                    _nobody_took_it(db, settings, callback_id, attempt_id, clock.now())
                continue
            if call_id is None:
                # The worker died before saving the call id: did the provider place it?
                event = adapter.find_call(phone, requested_at - timedelta(seconds=5))
                if event is None:
                    _never_placed(db, claimer.lease, callback_id, attempt_id, now)
                    continue
            else:
                event = adapter.fetch_call(call_id)
        except (ProviderError, LookupError) as error:
            log.warning("cannot reconcile attempt %s: %s", attempt_id, error)
            continue
        with db.write() as session:
            attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
            if attempt.call_id is None:
                adopt_call_id(session, attempt, event.call_id)
                attempt.call_state = event.state.value
            if event.state in TERMINAL_CALL_STATES:
                record_call_event(session, attempt_id, event, clock.now(), settings, actor="reconcile")
            else:
                session.execute(update(Callback).where(Callback.id == callback_id).values(lease_until=now + CALL_WATCH))
    return handled


def _watch_longer(db: Database, callback_id: int, now: datetime) -> None:
    with db.write() as session:
        session.execute(update(Callback).where(Callback.id == callback_id).values(lease_until=now + CALL_WATCH))


def _nobody_took_it(db: Database, settings: Settings, callback_id: int, attempt_id: int, now: datetime) -> None:
    """A TaskRouter task closed (TaskRouter's timeout) with no call to any worker: the
    attempt ends as agent_unavailable, retried soon by the policy."""
    with db.write() as session:
        attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
        session.get_one(Callback, callback_id, with_for_update=True)
        if attempt.outcome is not None or attempt.call_id is not None:
            return  # news came meanwhile
        attempt.call_state = CallState.NO_ANSWER.value
        attempt.error = "no agent took the TaskRouter task before it timed out"
        finish_attempt(session, attempt, now, settings, "reconcile")


def _never_placed(db: Database, lease: timedelta, callback_id: int, attempt_id: int, now: datetime) -> None:
    with db.write() as session:
        attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
        # requested_at is when the owner last renewed its lease, right before it dialed:
        # give the provider's API its full timeout beyond the lease before giving up on it.
        if attempt.requested_at > now - lease - PROVIDER_API_GRACE or attempt.call_id is not None:
            return  # the provider may still report: wait a little longer
        callback = session.get_one(Callback, callback_id, with_for_update=True)
        attempt.call_state = CallState.FAILED.value
        attempt.outcome = Outcome.FAILED.value
        attempt.error = "the worker stopped before the provider took the call"
        attempt_finished(session, callback, attempt, now)
        clear_lease(callback)
        apply_step(session, callback, "release", now, "reconcile", reason="lease expired, call never placed")
        callback.next_attempt_at = now

"""Applying call-progress reports: the one way a report changes an attempt, whether it
came through the inbox of webhooks (services/call_inbox.py) or from reconciliation; and
what an attempt's end decides (done, retry, rebook into the next free slot, give up),
by the rules of scheduler/retry.py and scheduler/outcomes.py."""

from __future__ import annotations

import logging
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session, joinedload

from events import outbox
from events import types as event_types
from infra import metrics
from infra.db import upsert_into
from infra.models import Attempt, Callback, Slot, WebhookReceipt
from infra.settings import Settings
from scheduler.dial_window import customer_zone
from scheduler.dialing import CALL_STATE_RANK
from scheduler.lifecycle import ON_CALL_STATES, State
from scheduler.machine import closes_callback
from scheduler.outcomes import CallFacts, classify
from scheduler.retry import Complete, GiveUp, Rebook, Retry, decide, first_dialable_slot
from services.dialer.machines import MachineRedirect, plan_redirect
from services.links import short_booking_url
from services.queues import queue_calendar, retry_policy
from services.seats import release_seat, take_seat
from services.transitions import apply_step
from sms import texts
from sms.outbox import queue_text
from sms.reminders import sync_reminders
from telephony.base import TERMINAL_CALL_STATES, AnsweredBy, CallEvent, CallState, call_event_to_json

log = logging.getLogger(__name__)


def adopt_call_id(session: Session, attempt: Attempt, call_id: str) -> None:
    """An attempt whose worker died before saving the provider's call id gets it from a
    report or from reconciliation: the call was placed, so it counts in the callback's
    attempts as saving the placed dial would have counted it (once: only while the id is missing).
    A TaskRouter attempt was counted when its task was made (Twilio placed the call itself)."""
    attempt.call_id = call_id
    if attempt.task_sid is not None:
        return
    session.execute(
        update(Callback).where(Callback.id == attempt.callback_id).values(attempts=Callback.attempts + 1),
        execution_options={"synchronize_session": "fetch"},
    )


def clear_lease(callback: Callback) -> None:
    callback.lease_owner = None
    callback.lease_until = None


def take_receipt(session: Session, attempt_id: int, event: CallEvent, now: datetime) -> bool:
    """Claim the right to apply a report we got outside the inbox (reconciliation asks the
    provider); False when a report with its key was applied already (do nothing).

    One INSERT … ON CONFLICT DO UPDATE … WHERE applied_at IS NULL: a new key is stored as
    applied; a key waiting in the inbox (or given up there) is taken over and marked applied,
    so the applier skips it; an applied key returns no row. On PostgreSQL the upsert waits
    for an applier that holds the row and then sees it applied."""
    statement = upsert_into(session, WebhookReceipt).values(
        provider=event.provider,
        dedupe_key=event.dedupe_key[:200],
        received_at=now,
        attempt_id=attempt_id,
        event=call_event_to_json(event),
        applied_at=now,
        tries=0,
    )
    taken = session.execute(
        statement.on_conflict_do_update(
            index_elements=["provider", "dedupe_key"],
            set_={"applied_at": statement.excluded.applied_at},
            where=WebhookReceipt.applied_at.is_(None),
        ).returning(WebhookReceipt.id)
    ).first()
    return taken is not None


def record_call_event(
    session: Session, attempt_id: int, event: CallEvent, now: datetime, settings: Settings, actor: str = "provider"
) -> None:
    """Apply a report fetched from the provider (reconciliation) at once, unless a report
    with its key was applied before. Webhooks go through the inbox (services/call_inbox.py)."""
    if event.dedupe_key and not take_receipt(session, attempt_id, event, now):
        return
    apply_call_event(session, attempt_id, event, now, settings, actor)


def apply_call_event(
    session: Session,
    attempt_id: int,
    event: CallEvent,
    now: datetime,
    settings: Settings,
    actor: str = "provider",
    heard_at: datetime | None = None,
    machine_redirects: list[MachineRedirect] | None = None,
) -> None:
    """Apply one call-progress report: the one way a report is applied, whether it came
    through the inbox (services/call_inbox.py) or from reconciliation. Late, doubled and
    out-of-order reports are safe: a finished attempt never changes outcome, and a report
    older than one already seen only fills in missing details. Deduplication is the
    caller's (one receipt per key). ``heard_at``, when we received the report, dates what
    the provider did not date itself; ``now`` dates the decisions. Given a
    ``machine_redirects`` list, a machine verdict on a live call appends the redirect it
    calls for (services/dialer/machines.py), for the caller to make once it committed."""
    heard_at = heard_at or now
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    locked: Callback | None = None
    if event.state in TERMINAL_CALL_STATES and attempt.outcome is None:
        # Lock the callback and load what the decision needs (queue, slot) in one query. Held
        # in a variable: the session keeps unmodified objects only weakly, and a discarded
        # result would be loaded again (without its queue and slot) by finish_attempt.
        locked = session.scalars(
            select(Callback)
            .where(Callback.id == attempt.callback_id)
            .options(joinedload(Callback.queue, innerjoin=True), joinedload(Callback.slot))
            .with_for_update(of=Callback)
        ).one()
    if attempt.call_id is None:
        adopt_call_id(session, attempt, event.call_id)  # the worker died before saving it
    _merge_details(attempt, event, heard_at)
    if attempt.outcome is not None:
        return
    if event.state in TERMINAL_CALL_STATES:
        attempt.call_state = event.state.value
        finish_attempt(session, attempt, now, settings, actor)
        del locked
        return
    older = event.sequence is not None and attempt.last_sequence is not None and event.sequence < attempt.last_sequence
    if not older and CALL_STATE_RANK.get(event.state.value, 0) >= CALL_STATE_RANK.get(attempt.call_state, 0):
        attempt.call_state = event.state.value
    if event.sequence is not None:
        attempt.last_sequence = max(event.sequence, attempt.last_sequence or 0)
    if machine_redirects is not None and (redirect := plan_redirect(attempt, event, now)) is not None:
        machine_redirects.append(redirect)


def _merge_details(attempt: Attempt, event: CallEvent, now: datetime) -> None:
    attempt.started_at = attempt.started_at or event.started_at or now
    if event.state is CallState.ANSWERED or event.answered_at:
        attempt.answered_at = attempt.answered_at or event.answered_at or now
    if event.answered_by is not None and event.answered_by is not AnsweredBy.UNKNOWN:
        attempt.answered_by = event.answered_by.value
    if event.state in TERMINAL_CALL_STATES:
        attempt.ended_at = attempt.ended_at or event.ended_at or now
    if event.duration_seconds is not None:
        attempt.duration_seconds = event.duration_seconds
        if event.duration_seconds > 0 and attempt.answered_at is None:
            attempt.answered_at = attempt.ended_at or now  # completed arrived before answered
    if event.billable_seconds is not None:
        attempt.billable_seconds = event.billable_seconds
    if event.recording_url:
        attempt.recording_url = event.recording_url


def finish_attempt(session: Session, attempt: Attempt, now: datetime, settings: Settings, actor: str) -> None:
    callback = session.get_one(Callback, attempt.callback_id)  # locked by the caller
    facts = CallFacts(
        final_state=attempt.call_state,
        answered=attempt.answered_at is not None,
        answered_by=attempt.answered_by,
        menu_choice=attempt.menu_choice,
        agent_answered=attempt.agent_answered_at is not None,
        agent_first=attempt.agent_first,
        customer_leg_state=attempt.customer_leg_state,
    )
    outcome = classify(facts)
    was = attempt.outcome
    attempt.outcome = outcome.value if outcome else attempt.menu_choice
    if was is None and attempt.outcome is not None:
        attempt_finished(session, callback, attempt, now)
        log.info(
            "callback %s: attempt %d ended: %s (call %s)",
            callback.ref,
            attempt.number,
            attempt.outcome or attempt.call_state,
            attempt.call_state,
            extra={"callback": callback.ref, "attempt": attempt.id, "provider": attempt.provider},
        )
    if outcome is None or callback.state not in ON_CALL_STATES:
        return  # settled in the call (cancelled / another time), or no longer ours to move
    clear_lease(callback)
    queue = callback.queue
    slot = callback.slot
    decision = decide(
        outcome,
        callback.attempts,
        now,
        slot.ends_at if slot else now,
        retry_policy(queue),
        queue_calendar(queue),
        customer_zone(callback.phone, queue.timezone),
        closed_by_message=closes_callback(outcome, attempt.machine_handling, queue.after_message),
    )
    payload: dict[str, object] = {"attempt": attempt.number, "outcome": outcome.value}
    if isinstance(decision, Complete):
        if callback.state == State.DIALING.value:
            apply_step(session, callback, "connect", now, actor, reason="agent answered", payload=payload)
        apply_step(session, callback, "complete", now, actor, reason="talked to an agent", payload=payload)
        callback.next_attempt_at = None
    elif isinstance(decision, Retry):
        apply_step(session, callback, "retry", now, actor, reason=outcome.value, payload=payload)
        callback.next_attempt_at = decision.at
    elif isinstance(decision, Rebook):
        _rebook(session, callback, decision.not_before, now, settings, actor, payload)
    else:
        _give_up(session, callback, decision, now, settings, actor, payload)


def attempt_finished(session: Session, callback: Callback, attempt: Attempt, now: datetime) -> None:
    """An attempt got its outcome (once: the outcome is set once): its
    ``callback.attempt_finished`` event (the call detail record is read when it is sent)
    and its count in the attempts metric."""
    metrics.count_attempt_end(attempt.provider, attempt.outcome)
    outbox.emit_for(
        session, event_types.ATTEMPT_FINISHED, callback, now, attempt_id=attempt.id, outcome=attempt.outcome
    )


def _rebook(
    session: Session,
    callback: Callback,
    not_before: datetime,
    now: datetime,
    settings: Settings,
    actor: str,
    payload: dict[str, object],
) -> None:
    """No retry fits the booked slot: take a seat in the next slot we may ring them in."""
    queue = callback.queue
    candidates = session.execute(
        select(Slot.id, Slot.starts_at)
        .where(
            Slot.queue_id == queue.id, Slot.starts_at >= not_before, Slot.active.is_(True), Slot.booked < Slot.capacity
        )
        .order_by(Slot.starts_at)
        .limit(200)
    ).all()
    calendar = queue_calendar(queue)
    zone = customer_zone(callback.phone, queue.timezone)
    quiet = retry_policy(queue).quiet
    by_start = {start: slot_id for slot_id, start in candidates}
    remaining = [start for _, start in candidates]
    while remaining:
        start = first_dialable_slot(remaining, calendar, zone, quiet)
        if start is None:
            break
        if take_seat(session, by_start[start], use_reserve=True):
            release_seat(session, callback.slot_id)
            old_start = callback.slot.starts_at.isoformat() if callback.slot else None
            callback.slot = session.get_one(Slot, by_start[start])
            apply_step(
                session,
                callback,
                "retry",
                now,
                actor,
                reason="rebooked into the next free slot",
                payload={**payload, "from_slot_start": old_start, "to_slot_start": start.isoformat()},
            )
            callback.next_attempt_at = start
            language = callback_language(callback)
            when = texts.format_when(start, queue.timezone, language)
            queue_callback_text(
                session, callback, "rebooked", now, texts.render(texts.REBOOKED, language, name=queue.name, when=when)
            )
            sync_reminders(session, callback, now)  # the old time's reminders stop, the new one's are planned
            return
        remaining = remaining[remaining.index(start) + 1 :]
    _give_up(session, callback, GiveUp("no free slot to try again in"), now, settings, actor, payload)


def _give_up(
    session: Session,
    callback: Callback,
    decision: GiveUp,
    now: datetime,
    settings: Settings,
    actor: str,
    payload: dict[str, object],
) -> None:
    apply_step(session, callback, "give_up", now, actor, reason=decision.reason, payload=payload)
    callback.next_attempt_at = None
    link = short_booking_url(session, settings, now, callback.queue.key, callback.phone)
    body = texts.render(texts.UNREACHABLE, callback_language(callback), name=callback.queue.name, link=link)
    queue_callback_text(session, callback, "unreachable", now, body)


def callback_language(callback: Callback) -> str:
    """Texts about a callback are in its language: the one it was booked in, else the queue's."""
    return callback.locale or callback.queue.language


def queue_callback_text(session: Session, callback: Callback, kind: str, now: datetime, body: str) -> None:
    queue_text(session, callback.phone, kind, now, body, callback_id=callback.id)

"""The dialer: claim due callbacks with a lease, place the calls, and act on what the
provider reports. The rules (retry policy, outcomes, life cycle) live in scheduler/;
this module loads, saves and talks to providers.

A claim and its attempt row are committed before the provider is asked to call, and
the attempt's id travels in the webhook URLs, so a worker that dies at any point
leaves a row that is reconciled (never a lost or doubled dial).
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from itsdangerous import BadSignature, Signer
from sqlalchemy import case, func, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from app.clock import Clock
from app.db import Database
from app.links import booking_url
from app.models import Attempt, Callback, DialPacer, Queue, Slot, SmsMessage, WebhookReceipt
from app.providers import Providers
from app.queues import queue_calendar, retry_policy
from app.settings import Settings
from app.transitions import apply_step
from ivr_flows import callback_script
from scheduler.dial_window import customer_zone
from scheduler.lifecycle import State
from scheduler.outcomes import CANCEL, CONNECT, RESCHEDULE, SILENT, CallFacts, classify
from scheduler.phone import mask_phone
from scheduler.retry import Complete, GiveUp, Outcome, Rebook, Retry, decide, first_dialable_slot
from telephony.base import (
    TERMINAL_CALL_STATES,
    AnsweredBy,
    CallEvent,
    CallState,
    DialResult,
    GatherResult,
    OutboundCall,
    ProviderError,
    call_event_to_json,
)
from telephony.script import VoiceScript

log = logging.getLogger(__name__)

CtxFactory = Callable[[Attempt], callback_script.CallContext]

DUE_STATES = (State.SCHEDULED.value, State.RETRY_WAIT.value)
ON_CALL_STATES = (State.DIALING.value, State.CONNECTED.value)
CALL_WATCH = timedelta(minutes=5)  # how long a placed call goes without news before we ask the provider
MAX_BACKOFF = timedelta(minutes=10)
SMS_CLAIM_TIMEOUT = timedelta(minutes=5)
PROVIDER_API_GRACE = timedelta(seconds=30)  # longer than any provider API call we make (10 s timeouts)
STATE_RANK = {s: i for i, s in enumerate(["requested", "queued", "ringing", "answered"])}


def dial_backoff(errors: int) -> timedelta:
    """Provider API failures: 15 s, 30 s, 1 min … up to 10 minutes."""
    return min(timedelta(seconds=15 * 2 ** max(0, errors - 1)), MAX_BACKOFF)


def pace(next_at: datetime | None, now: datetime, calls_per_second: float) -> tuple[datetime, datetime]:
    """(when this call may go, when the next one may): one call per 1/cps seconds."""
    slot = max(next_at or now, now)
    return slot, slot + timedelta(seconds=1 / calls_per_second)


@dataclass(frozen=True)
class Claim:
    callback_id: int
    attempt_id: int
    phone: str
    providers: list[str]
    caller_id: str
    agent_target: str | None  # agent-first: the number dialled first


class WebhookUrls:
    """Our webhook URLs, with the attempt id signed into them (Vonage's signature does not
    cover the URL, so the id must not be forgeable on its own)."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base = base_url
        self.signer = Signer(secret, salt="attempt-webhook")

    def token(self, attempt_id: int) -> str:
        return self.signer.sign(str(attempt_id)).decode()

    def attempt_id(self, token: str) -> int:
        try:
            return int(self.signer.unsign(token))
        except (BadSignature, ValueError):
            raise LookupError("unknown attempt") from None

    def answer(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/answer/{self.token(attempt_id)}"

    def event(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/event/{self.token(attempt_id)}"

    def menu(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/menu/{self.token(attempt_id)}/{{step}}"

    def dial(self, provider: str, attempt_id: int) -> str:
        return f"{self.base}/webhooks/{provider}/voice/dial/{self.token(attempt_id)}"


class Dialer:
    def __init__(
        self, db: Database, providers: Providers, clock: Clock, settings: Settings, worker_id: str = ""
    ) -> None:
        self.db = db
        self.providers = providers
        self.clock = clock
        self.settings = settings
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:8]}"
        self.urls = WebhookUrls(settings.public_base_url, settings.secret_key)
        self.lease = timedelta(seconds=settings.dial_lease_seconds)

    # --- claiming -------------------------------------------------------------------------

    def claim_due(self, limit: int = 50) -> list[Claim]:
        now = self.clock.now()
        claims: list[Claim] = []
        with self.db.write() as session:
            ids = session.scalars(
                select(Callback.id)
                .where(Callback.state.in_(DUE_STATES), Callback.next_attempt_at <= now)
                .order_by(Callback.next_attempt_at, Callback.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            busy_queues: dict[int, int] = {}
            for callback_id in ids:
                callback = session.get_one(Callback, callback_id)
                queue = callback.queue
                if queue.id not in busy_queues:
                    busy_queues[queue.id] = (
                        session.scalar(
                            select(func.count())
                            .select_from(Callback)
                            .where(Callback.queue_id == queue.id, Callback.state.in_(ON_CALL_STATES))
                        )
                        or 0
                    )
                if busy_queues[queue.id] >= queue.max_concurrent_calls:
                    continue  # the queue's agents are all on callbacks: wait for one to end
                claim = self._claim(session, callback, queue, now)
                if claim is not None:
                    busy_queues[queue.id] += 1
                    claims.append(claim)
        return claims

    def _claim(self, session: Session, callback: Callback, queue: Queue, now: datetime) -> Claim | None:
        route = self.providers.route(queue.primary_provider, queue.secondary_provider)
        try:
            with session.begin_nested():
                apply_step(session, callback, "start_dial", now, self.worker_id, reason="due")
                callback.lease_owner = self.worker_id
                callback.lease_until = now + self.lease
                attempt = Attempt(
                    callback_id=callback.id,
                    number=_next_attempt_number(session, callback.id),
                    provider=route[0],
                    call_state="requested",
                    requested_at=now,
                    agent_first=queue.dial_mode == "agent_first",
                )
                session.add(attempt)
                session.flush()
        except IntegrityError:
            # This number is already on a call (from another queue): try again shortly.
            session.refresh(callback)
            callback.next_attempt_at = now + timedelta(seconds=30)
            return None
        return Claim(
            callback_id=callback.id,
            attempt_id=attempt.id,
            phone=callback.phone,
            providers=route,
            caller_id=queue.caller_id or self.settings.caller_id,
            agent_target=(queue.agent_target or "sim:agent") if queue.dial_mode == "agent_first" else None,
        )

    # --- placing --------------------------------------------------------------------------

    def reserve_turns(self, provider: str, count: int = 1) -> list[datetime]:
        """Pace calls to the provider's calls-per-second across every worker: one shared
        DB row holds the next free instant; a batch reserves its turns in one go."""
        cps = self.settings.calls_per_second.get(provider, 1.0)
        turns: list[datetime] = []
        with self.db.write() as session:
            row = session.get(DialPacer, provider, with_for_update=True)
            now = self.clock.now()
            following = row.next_at if row else None
            for _ in range(count):
                turn, following = pace(following, now, cps)
                turns.append(turn)
            assert following is not None
            if row is None:
                session.add(DialPacer(provider=provider, next_at=following))
            else:
                row.next_at = following
        return turns

    def wait_for_turn(self, provider: str) -> None:
        self._sleep_until(self.reserve_turns(provider)[0])

    def _sleep_until(self, turn: datetime) -> None:
        delay = (turn - self.clock.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)

    def _still_ours(self, claim: Claim) -> bool:
        """Fencing: right before dialing, renew the lease if it is still ours. A worker that
        fell behind (its lease ran out and another worker reconciled the callback) must
        not dial; renewing also restarts the clock the reconciler measures from."""
        now = self.clock.now()
        with self.db.write() as session:
            renewed = session.execute(
                update(Callback)
                .where(
                    Callback.id == claim.callback_id,
                    Callback.lease_owner == self.worker_id,
                    Callback.state == State.DIALING.value,
                    Callback.lease_until > now,
                )
                .values(lease_until=now + self.lease)
            )
            if renewed.rowcount != 1:  # type: ignore[attr-defined]
                return False
            session.execute(update(Attempt).where(Attempt.id == claim.attempt_id).values(requested_at=now))
        return True

    def place(self, claim: Claim, turn: datetime | None = None) -> None:
        """Dial one claim: through its primary provider at ``turn`` (reserved by the
        caller) or at a turn reserved now, failing over to the secondary."""
        errors: list[str] = []
        first = claim.providers[0]
        self._sleep_until(turn or self.reserve_turns(first)[0])
        if not self._still_ours(claim):
            log.warning("claim on callback %s was taken over before dialing: not dialing", claim.callback_id)
            return
        for provider in claim.providers:
            adapter = self.providers.get(provider)
            call = OutboundCall(
                to=claim.agent_target or claim.phone,
                from_=claim.caller_id,
                answer_url=self.urls.answer(provider, claim.attempt_id),
                status_url=self.urls.event(provider, claim.attempt_id),
                machine_detection=claim.agent_target is None,  # agents are not answering machines
            )
            if provider != first:
                self.wait_for_turn(provider)
            try:
                placed = adapter.place_call(call)
            except ProviderError as error:
                errors.append(f"{provider}: {error.message}")
                log.warning("dial via %s failed for %s: %s", provider, mask_phone(claim.phone), error.message)
                if error.code == "timeout":
                    # The request may have reached the provider and the phone may be ringing:
                    # neither redial nor fail over. Its webhooks (which carry the attempt) or,
                    # failing those, the lease reconciliation settle it.
                    self._uncertain(claim, errors)
                    return
                if error.permanent:
                    self._dial_failed(claim, errors, permanent=True)
                    return
                continue
            self._placed(claim, provider, placed.call_id, failover_from=first if provider != first else None)
            return
        self._dial_failed(claim, errors, permanent=False)

    def _placed(self, claim: Claim, provider: str, call_id: str, failover_from: str | None) -> None:
        now = self.clock.now()
        with self.db.write() as session:
            session.execute(
                update(Attempt)
                .where(Attempt.id == claim.attempt_id)
                .values(
                    provider=provider,
                    failover_from=failover_from,
                    call_id=func.coalesce(Attempt.call_id, call_id),  # a fast webhook may have filled it
                    call_state=case(
                        (Attempt.call_state == "requested", CallState.QUEUED.value), else_=Attempt.call_state
                    ),
                )
            )
            session.execute(
                update(Callback)
                .where(Callback.id == claim.callback_id)
                .values(
                    attempts=Callback.attempts + 1,
                    dial_errors=0,
                    lease_until=case(
                        (Callback.state.in_(ON_CALL_STATES), now + CALL_WATCH), else_=Callback.lease_until
                    ),
                )
            )

    def _uncertain(self, claim: Claim, errors: list[str]) -> None:
        with self.db.write() as session:
            attempt = session.get_one(Attempt, claim.attempt_id, with_for_update=True)
            attempt.error = "; ".join(errors) + " (the call may have been placed: waiting for the provider)"

    def _dial_failed(self, claim: Claim, errors: list[str], *, permanent: bool) -> None:
        now = self.clock.now()
        with self.db.write() as session:
            attempt = session.get_one(Attempt, claim.attempt_id, with_for_update=True)
            callback = session.get_one(Callback, claim.callback_id, with_for_update=True)
            attempt.call_state = CallState.FAILED.value
            attempt.outcome = Outcome.FAILED.value
            attempt.error = "; ".join(errors)
            attempt.ended_at = now
            if callback.state != State.DIALING.value:
                return
            _clear_lease(callback)
            if permanent:
                apply_step(session, callback, "give_up", now, self.worker_id, reason="the number cannot be called")
                _release_seat(session, callback)
                return
            callback.dial_errors += 1
            apply_step(
                session,
                callback,
                "release",
                now,
                self.worker_id,
                reason="provider unavailable",
                payload={"errors": errors},
            )
            callback.next_attempt_at = now + dial_backoff(callback.dial_errors)

    def seconds_until_next_due(self) -> float:
        with self.db.read() as session:
            due = session.scalar(select(func.min(Callback.next_attempt_at)).where(Callback.state.in_(DUE_STATES)))
        return (due - self.clock.now()).total_seconds() if due is not None else float("inf")

    def claim_budget(self, limit: int) -> int:
        """How many callbacks to claim now: no more than can be dialled, at the provider's
        pace and behind the turns other workers already hold, within half a lease (claims
        beyond that would only run out before their turn and be fenced off)."""
        provider = self.providers.default
        cps = self.settings.calls_per_second.get(provider, 1.0)
        with self.db.read() as session:
            next_at = session.scalar(select(DialPacer.next_at).where(DialPacer.provider == provider))
        backlog = max(0.0, (next_at - self.clock.now()).total_seconds()) if next_at else 0.0
        return max(0, min(limit, int((self.lease.total_seconds() / 2 - backlog) * cps)))

    def dispatch(self, limit: int = 50) -> int:
        """Claim what is due and place the calls; returns how many were claimed."""
        claims = self.claim_due(self.claim_budget(limit))
        by_provider: dict[str, list[Claim]] = {}
        for claim in claims:
            by_provider.setdefault(claim.providers[0], []).append(claim)
        for provider, group in by_provider.items():
            for claim, turn in zip(group, self.reserve_turns(provider, len(group)), strict=True):
                self.place(claim, turn)
        return len(claims)

    # --- leases that ran out --------------------------------------------------------------

    def reconcile(self, limit: int = 50) -> int:
        """Callbacks whose lease ran out: ask the provider before any redial."""
        now = self.clock.now()
        stale: list[tuple[int, int, str, str | None, datetime, str]] = []
        with self.db.write() as session:
            ids = session.scalars(
                select(Callback.id)
                .where(Callback.state.in_(ON_CALL_STATES), Callback.lease_until < now)
                .order_by(Callback.lease_until)
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
            for callback_id in ids:
                phone = session.get_one(Callback, callback_id).phone
                attempt = session.scalars(
                    select(Attempt).where(Attempt.callback_id == callback_id).order_by(Attempt.number.desc()).limit(1)
                ).first()
                # Take the case (and the lease) so that other workers, and a late owner, leave it alone.
                session.execute(
                    update(Callback)
                    .where(Callback.id == callback_id)
                    .values(lease_until=now + self.lease, lease_owner=self.worker_id)
                )
                if attempt is not None:
                    stale.append(
                        (callback_id, attempt.id, attempt.provider, attempt.call_id, attempt.requested_at, phone)
                    )
        handled = 0
        for callback_id, attempt_id, provider, call_id, requested_at, phone in stale:
            handled += 1
            try:
                adapter = self.providers.get(provider)
                if call_id is None:
                    # The worker died before saving the call id: did the provider place it?
                    event = adapter.find_call(phone, requested_at - timedelta(seconds=5))
                    if event is None:
                        self._never_placed(callback_id, attempt_id, now)
                        continue
                else:
                    event = adapter.fetch_call(call_id)
            except (ProviderError, LookupError) as error:
                log.warning("cannot reconcile attempt %s: %s", attempt_id, error)
                continue
            with self.db.write() as session:
                attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
                if attempt.call_id is None:
                    attempt.call_id = event.call_id
                    attempt.call_state = event.state.value
                if event.state in TERMINAL_CALL_STATES:
                    record_call_event(session, attempt_id, event, self.clock.now(), self.settings, actor="reconcile")
                else:
                    session.execute(
                        update(Callback).where(Callback.id == callback_id).values(lease_until=now + CALL_WATCH)
                    )
        return handled

    def _never_placed(self, callback_id: int, attempt_id: int, now: datetime) -> None:
        with self.db.write() as session:
            attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
            # requested_at is when the owner last renewed its lease, right before it dialed:
            # give the provider's API its full timeout beyond the lease before giving up on it.
            if attempt.requested_at > now - self.lease - PROVIDER_API_GRACE or attempt.call_id is not None:
                return  # the provider may still report: wait a little longer
            callback = session.get_one(Callback, callback_id, with_for_update=True)
            attempt.call_state = CallState.FAILED.value
            attempt.outcome = Outcome.FAILED.value
            attempt.error = "the worker stopped before the provider took the call"
            _clear_lease(callback)
            apply_step(session, callback, "release", now, "reconcile", reason="lease expired, call never placed")
            callback.next_attempt_at = now


# --- webhooks -------------------------------------------------------------------------------


def _next_attempt_number(session: Session, callback_id: int) -> int:
    current = session.scalar(select(func.max(Attempt.number)).where(Attempt.callback_id == callback_id))
    return (current or 0) + 1


def _clear_lease(callback: Callback) -> None:
    callback.lease_owner = None
    callback.lease_until = None


def _release_seat(session: Session, callback: Callback) -> None:
    if callback.slot_id is not None:
        session.execute(update(Slot).where(Slot.id == callback.slot_id, Slot.booked > 0).values(booked=Slot.booked - 1))


def take_receipt(session: Session, attempt_id: int, event: CallEvent, now: datetime) -> bool:
    """Claim the right to apply a report we got outside the inbox (reconciliation asks the
    provider); False when a report with its key was applied already (do nothing).

    One INSERT … ON CONFLICT DO UPDATE … WHERE applied_at IS NULL: a new key is stored as
    applied; a key waiting in the inbox (or given up there) is taken over and marked applied,
    so the applier skips it; an applied key returns no row. On PostgreSQL the upsert waits
    for an applier that holds the row and then sees it applied."""
    dialect = session.get_bind().dialect.name
    insert_into = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert_into(WebhookReceipt).values(
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
    with its key was applied before. Webhooks go through the inbox (app/call_inbox.py)."""
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
) -> None:
    """Apply one call-progress report: the one way a report is applied, whether it came
    through the inbox (app/call_inbox.py) or from reconciliation. Late, doubled and
    out-of-order reports are safe: a finished attempt never changes outcome, and a report
    older than one already seen only fills in missing details. Deduplication is the
    caller's (one receipt per key). ``heard_at``, when we received the report, dates what
    the provider did not date itself; ``now`` dates the decisions."""
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
        attempt.call_id = event.call_id  # the worker died before saving it: reconciled here
    _merge_details(attempt, event, heard_at)
    if attempt.outcome is not None:
        return
    if event.state in TERMINAL_CALL_STATES:
        attempt.call_state = event.state.value
        finish_attempt(session, attempt, now, settings, actor)
        del locked
        return
    older = event.sequence is not None and attempt.last_sequence is not None and event.sequence < attempt.last_sequence
    if not older and STATE_RANK.get(event.state.value, 0) >= STATE_RANK.get(attempt.call_state, 0):
        attempt.call_state = event.state.value
    if event.sequence is not None:
        attempt.last_sequence = max(event.sequence, attempt.last_sequence or 0)


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
    attempt.outcome = outcome.value if outcome else attempt.menu_choice
    if outcome is None or callback.state not in ON_CALL_STATES:
        return  # settled in the call (cancelled / another time), or no longer ours to move
    _clear_lease(callback)
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
        taken = session.execute(
            update(Slot)
            .where(Slot.id == by_start[start], Slot.active.is_(True), Slot.booked < Slot.capacity)
            .values(booked=Slot.booked + 1)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            _release_seat(session, callback)
            old_start = callback.slot.starts_at.isoformat() if callback.slot else None
            callback.slot_id = by_start[start]
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
            local = start.astimezone(calendar.zone)
            _queue_sms(
                session,
                callback,
                "rebooked",
                now,
                f"Sorry we missed you. {queue.name} will call you again on {local:%a %d %b} at {local:%H:%M}.",
            )
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
    link = booking_url(settings.public_base_url, settings.secret_key, callback.queue.key, callback.phone)
    _queue_sms(
        session,
        callback,
        "unreachable",
        now,
        f"Sorry we could not reach you. Book another callback from {callback.queue.name} here: {link}",
    )


def _queue_sms(session: Session, callback: Callback, kind: str, now: datetime, body: str) -> None:
    session.add(
        SmsMessage(callback_id=callback.id, kind=kind, to=callback.phone, body=body, status="pending", created_at=now)
    )


def call_context(settings: Settings, urls: WebhookUrls, provider: str, attempt: Attempt) -> callback_script.CallContext:
    callback = attempt.callback
    queue = callback.queue
    return callback_script.CallContext(
        company=settings.company_name if settings.company_name != "our team" else queue.name,
        language=callback.locale or queue.language,
        menu_url=urls.menu(provider, attempt.id),
        dial_url=urls.dial(provider, attempt.id),
        agent_target=queue.agent_target or "sim:agent",
        caller_id=queue.caller_id or settings.caller_id,
        voicemail_text=queue.voicemail_text,
    )


def answer_script(
    session: Session, attempt_id: int, answered_by: AnsweredBy | None, now: datetime, ctx_for: CtxFactory
) -> VoiceScript:
    """What the called party hears when they pick up."""
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    ctx = ctx_for(attempt)
    attempt.answered_at = attempt.answered_at or now
    if STATE_RANK.get(attempt.call_state, 0) < STATE_RANK["answered"] and attempt.outcome is None:
        attempt.call_state = CallState.ANSWERED.value
    callback = attempt.callback
    if callback.state not in ON_CALL_STATES or attempt.outcome is not None:
        return callback_script.goodbye(ctx)
    if attempt.agent_first:
        attempt.agent_answered_at = attempt.agent_answered_at or now
        return callback_script.agent_intro(ctx, callback.phone)
    if answered_by is AnsweredBy.MACHINE:
        attempt.answered_by = AnsweredBy.MACHINE.value
        return callback_script.voicemail(ctx)
    return callback_script.menu(ctx, step=1)


def menu_choice(
    session: Session,
    attempt_id: int,
    step: int,
    result: GatherResult,
    now: datetime,
    settings: Settings,
    ctx_for: CtxFactory,
) -> VoiceScript:
    """The customer's answer to the callback menu (or their silence)."""
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    callback = session.get_one(Callback, attempt.callback_id, with_for_update=True)
    ctx = ctx_for(attempt)
    key = (result.digits or "").strip()[:1] or _spoken_choice(result.speech)
    if attempt.outcome is not None or callback.state not in ON_CALL_STATES:
        return callback_script.goodbye(ctx)
    if attempt.menu_choice == CONNECT or key == "1":
        attempt.menu_choice = CONNECT
        if callback.state == State.DIALING.value:
            apply_step(session, callback, "connect", now, "customer", reason="pressed 1: connect me")
        return callback_script.connect(ctx)
    if key in ("2", "3"):
        attempt.menu_choice = RESCHEDULE if key == "2" else CANCEL
        reason = "asked for another time" if key == "2" else "cancelled on the callback call"
        apply_step(session, callback, "decline", now, "customer", reason=reason)
        _clear_lease(callback)
        callback.next_attempt_at = None
        _release_seat(session, callback)
        if key == "2":
            link = booking_url(settings.public_base_url, settings.secret_key, callback.queue.key, callback.phone)
            _queue_sms(session, callback, "reschedule_link", now, f"Choose another time for your callback: {link}")
            return callback_script.texted_link(ctx)
        return callback_script.cancelled(ctx)
    if step < 2:
        return callback_script.menu(ctx, step=step + 1)  # no or wrong key: say it once more
    attempt.menu_choice = SILENT
    return callback_script.voicemail(ctx)


def _spoken_choice(speech: str | None) -> str:
    words = (speech or "").lower()
    for key, options in (
        ("1", ("one", "connect", "agent", "один", "un ")),
        ("2", ("two", "another", "два", "deux")),
        ("3", ("three", "cancel", "три", "trois", "annuler", "отмен")),
    ):
        if any(option in words for option in options):
            return key
    return ""


def dial_result(
    session: Session, attempt_id: int, result: DialResult, now: datetime, ctx_for: CtxFactory
) -> VoiceScript:
    """How the bridge went: customer-first, whether an agent took the call; agent-first,
    whether the customer answered the agent's call to them."""
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    ctx = ctx_for(attempt)
    talked = result.state is CallState.ANSWERED or (
        result.state is CallState.COMPLETED and (result.duration_seconds or 0) > 0
    )
    if attempt.agent_first:
        attempt.customer_leg_state = result.state.value
        if talked:
            attempt.menu_choice = CONNECT
            if attempt.callback.state == State.DIALING.value:
                apply_step(session, attempt.callback, "connect", now, "customer", reason="answered the agent's call")
        return VoiceScript(()) if result.state is CallState.ANSWERED else callback_script.goodbye(ctx)
    if talked:
        attempt.agent_answered_at = attempt.agent_answered_at or now
        return VoiceScript(()) if result.state is CallState.ANSWERED else callback_script.goodbye(ctx)
    return callback_script.no_agent(ctx)


def send_pending_sms(db: Database, providers: Providers, clock: Clock, settings: Settings, limit: int = 50) -> int:
    """The text outbox: send what handlers decided to send (never inline in a webhook)."""
    now = clock.now()
    with db.write() as session:
        # A worker that died between claiming a text and recording the provider's answer
        # may or may not have sent it: mark it failed (visible) rather than risk a double text.
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.status == "sending", SmsMessage.claimed_at < now - SMS_CLAIM_TIMEOUT)
            .values(status="failed", error="the worker stopped while sending; not resent to avoid a duplicate")
        )
        pending = session.scalars(
            select(SmsMessage)
            .where(SmsMessage.status == "pending")
            .order_by(SmsMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for message in pending:
            message.status = "sending"
            message.claimed_at = now
        claimed = [(m.id, m.to, m.body) for m in pending]
    for message_id, to, body in claimed:
        provider = providers.default
        try:
            sent = providers.get(provider).send_sms(to, settings.caller_id, body)
            values = {"status": "sent", "provider": provider, "message_id": sent.message_id, "sent_at": clock.now()}
        except ProviderError as error:
            values = {"status": "failed", "provider": provider, "error": error.message}
        with db.write() as session:
            session.execute(update(SmsMessage).where(SmsMessage.id == message_id).values(**values))
    return len(claimed)

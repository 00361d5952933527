"""The dialer: claim due callbacks with a lease, place the calls, and act on what the
provider reports. The rules (retry policy, outcomes, life cycle) live in scheduler/;
this module loads, saves and talks to providers.

A claim and its attempt row are committed before the provider is asked to call, and
the attempt's id travels in the webhook URLs, so a worker that dies at any point
leaves a row that is reconciled (never a lost or doubled dial).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from itsdangerous import BadSignature, Signer
from sqlalchemy import BindParameter, Row, Table, bindparam, case, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, aliased, joinedload

from events import outbox
from events import types as event_types
from infra import metrics
from infra.clock import Clock
from infra.db import Database
from infra.models import (
    Attempt,
    Callback,
    CallbackEvent,
    DialPacer,
    Queue,
    Slot,
    SmsMessage,
    SmsOptOut,
    WebhookReceipt,
)
from infra.settings import Settings
from ivr_flows import callback_script
from ivr_flows.speech import spoken_key
from scheduler.dial_window import customer_zone
from scheduler.lifecycle import State, next_state
from scheduler.outcomes import CANCEL, CONNECT, RESCHEDULE, SILENT, CallFacts, classify
from scheduler.phone import mask_phone
from scheduler.retry import Complete, GiveUp, Outcome, Rebook, Retry, decide, first_dialable_slot
from services.links import short_booking_url
from services.queues import queue_calendar, retry_policy
from services.transitions import apply_step
from sms import texts
from sms.delivery import record_sent
from sms.reminders import release_due, sync_reminders
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
from telephony.registry import Providers
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
    lease_until: datetime  # the lease this worker wrote when it claimed
    turn: datetime  # when the primary provider's pacer lets this call go
    due_at: datetime | None = None  # when it fell due (the dispatch lag is measured from it)
    ref: str = ""  # the callback's public reference, for the logs


@dataclass(frozen=True)
class Placed:
    claim: Claim
    provider: str
    call_id: str


@dataclass(frozen=True)
class NotPlaced:
    claim: Claim
    errors: list[str]
    kind: str  # "uncertain" (the call may have gone out), "permanent" or "failed"


DialOutcome = Placed | NotPlaced

ON_CALL_RETRY = timedelta(seconds=30)  # a number already on a call (another queue's callback)
SAVE_WHILE_WAITING = 0.05  # seconds: a wait for a turn this long first hands finished dials to the saver
MAX_PENDING_SAVES = 4  # batches of dials waiting to be saved before the claimer waits for the saver


def _on_call_states() -> BindParameter[list[str]]:
    """``state IN ('dialing', 'connected')`` rendered as literals in the partial index's
    order: SQLite uses uq_callback_phone_on_call only when the query repeats its predicate."""
    return bindparam("on_call", list(ON_CALL_STATES), expanding=True, literal_execute=True)


# Built once: the claim runs several times a second in every worker. One statement finds
# the due callbacks and all the claim needs about them: their queue's dialing settings,
# whether the number is on a call, the last attempt.
_LAST_ATTEMPT = select(func.coalesce(func.max(Attempt.number), 0)).where(Attempt.callback_id == Callback.id)
_OTHER = aliased(Callback)
_NUMBER_ON_CALL = select(_OTHER.id).where(_OTHER.phone == Callback.phone, _OTHER.state.in_(_on_call_states())).exists()
DUE_FOR_CLAIM = (
    select(
        Callback.id,
        Callback.ref,
        Callback.queue_id,
        Callback.phone,
        Callback.state,
        Callback.next_attempt_at,
        _LAST_ATTEMPT.scalar_subquery().label("last_number"),
        _NUMBER_ON_CALL.label("number_on_call"),
        Queue.max_concurrent_calls,
        Queue.primary_provider,
        Queue.secondary_provider,
        Queue.dial_mode,
        Queue.caller_id,
        Queue.agent_target,
    )
    .join(Queue, Queue.id == Callback.queue_id)
    .where(Callback.state.in_(DUE_STATES), Callback.next_attempt_at <= bindparam("now"))
    .order_by(Callback.next_attempt_at, Callback.id)
    .limit(bindparam("limit"))
    .with_for_update(of=Callback, skip_locked=True)
)
# The queues of a batch, locked in id order: claimers of one queue take turns, so that its
# concurrent-call limit holds across workers (no-op on SQLite, whose writers take turns).
LOCK_QUEUES = (
    select(Queue.id).where(Queue.id.in_(bindparam("queue_ids", expanding=True))).order_by(Queue.id).with_for_update()
)
CALLS_BY_QUEUE = (
    select(Callback.queue_id, func.count())
    .where(Callback.queue_id.in_(bindparam("queue_ids", expanding=True)), Callback.state.in_(_on_call_states()))
    .group_by(Callback.queue_id)
)
_CALLBACK_EVENT = cast(Table, CallbackEvent.__table__)
PACER_NEXT_AT = select(DialPacer.next_at).where(DialPacer.provider == bindparam("provider"))
_ATTEMPT = cast(Table, Attempt.__table__)
SAVE_CALL_ID = (
    update(_ATTEMPT)
    .where(_ATTEMPT.c.id == bindparam("b_attempt"))
    .values(
        provider=bindparam("b_provider"),
        failover_from=bindparam("b_failover_from"),
        call_id=func.coalesce(_ATTEMPT.c.call_id, bindparam("b_call_id")),  # a fast webhook may have filled it
        call_state=case((_ATTEMPT.c.call_state == "requested", CallState.QUEUED.value), else_=_ATTEMPT.c.call_state),
    )
)


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
        self.stopping = threading.Event()  # set by the worker on SIGTERM: claim nothing more
        self._executor: ThreadPoolExecutor | None = None  # the dials in flight
        self._saver: ThreadPoolExecutor | None = None  # one thread saving their results
        self._saves: list[Future[None]] = []

    # --- claiming -------------------------------------------------------------------------

    def claim_due(self, limit: int = 50) -> list[Claim]:
        """Claim up to ``limit`` due callbacks (fewer when the provider's pace could not
        dial them within half a lease) in one transaction of a fixed number of statements,
        whatever the batch: lock the due rows (SKIP LOCKED: workers share), keep each
        queue's concurrent-call limit and one call per number, then move them to
        ``dialing`` with a lease, write their history and attempt rows, and reserve their
        turns at the providers' pace."""
        now = self.clock.now()
        try:
            with self.db.write() as session:
                budget = self._budget(limit, session.scalar(PACER_NEXT_AT, {"provider": self.providers.default}), now)
                if budget <= 0:
                    return []
                rows = session.execute(DUE_FOR_CLAIM, {"now": now, "limit": budget}).all()
                if not rows:
                    return []
                queue_ids = sorted({row.queue_id for row in rows})
                session.execute(LOCK_QUEUES, {"queue_ids": queue_ids})
                # Counted after the lock: it sees the calls every earlier claimer committed.
                calls: dict[int, int] = {qid: 0 for qid in queue_ids}
                calls.update({qid: n for qid, n in session.execute(CALLS_BY_QUEUE, {"queue_ids": queue_ids})})
                chosen, postponed = [], []
                numbers: set[str] = set()
                for row in rows:
                    going = calls[row.queue_id]
                    if going >= row.max_concurrent_calls:
                        continue  # the queue's agents are all on callbacks: wait for one to end
                    if row.number_on_call or row.phone in numbers:
                        postponed.append(row.id)  # this number is on a call (another queue's): later
                        continue
                    next_state(row.state, "start_dial")  # the life cycle's rule (raises if broken)
                    calls[row.queue_id] = going + 1
                    numbers.add(row.phone)
                    chosen.append(row)
                if postponed:
                    session.execute(
                        update(Callback).where(Callback.id.in_(postponed)).values(next_attempt_at=now + ON_CALL_RETRY),
                        execution_options={"synchronize_session": False},
                    )
                return self._write_claims(session, chosen, now) if chosen else []
        except IntegrityError:
            # Another worker put one of these numbers on a call after we looked: nothing was
            # written; the next pass sees it and postpones that callback.
            log.info("a claim raced another worker for a number on a call: claiming again")
            return []

    def _write_claims(self, session: Session, rows: list[Row[Any]], now: datetime) -> list[Claim]:
        lease_until = now + self.lease
        connection = session.connection()
        session.execute(
            update(Callback)
            .where(Callback.id.in_([row.id for row in rows]))
            .values(state=State.DIALING.value, lease_owner=self.worker_id, lease_until=lease_until, updated_at=now),
            execution_options={"synchronize_session": False},
        )
        connection.execute(
            insert(_CALLBACK_EVENT),
            [
                {
                    "callback_id": row.id,
                    "step": "start_dial",
                    "from_state": row.state,
                    "to_state": State.DIALING.value,
                    "at": now,
                    "actor": self.worker_id,
                    "reason": "due",
                    "payload": {},
                }
                for row in rows
            ],
        )
        routes = {row.id: self.providers.route(row.primary_provider, row.secondary_provider) for row in rows}
        inserted = connection.execute(
            insert(_ATTEMPT).returning(_ATTEMPT.c.callback_id, _ATTEMPT.c.id),
            [
                {
                    "callback_id": row.id,
                    "number": row.last_number + 1,
                    "provider": routes[row.id][0],
                    "call_state": "requested",
                    "requested_at": now,
                    "agent_first": row.dial_mode == "agent_first",
                }
                for row in rows
            ],
        )
        attempt_of = {callback_id: attempt_id for callback_id, attempt_id in inserted}  # one per callback
        turns: dict[str, list[datetime]] = {}
        for row in rows:
            turns.setdefault(routes[row.id][0], []).append(now)
        for provider, wanted in turns.items():
            turns[provider] = self._reserve(session, provider, len(wanted), now)
        claims = []
        for row in rows:
            agent_first = row.dial_mode == "agent_first"
            claims.append(
                Claim(
                    callback_id=row.id,
                    attempt_id=attempt_of[row.id],
                    phone=row.phone,
                    providers=routes[row.id],
                    caller_id=row.caller_id or self.settings.caller_id,
                    agent_target=(row.agent_target or "sim:agent") if agent_first else None,
                    lease_until=lease_until,
                    turn=turns[routes[row.id][0]].pop(0),
                    due_at=row.next_attempt_at,
                    ref=row.ref,
                )
            )
        return claims

    # --- placing --------------------------------------------------------------------------

    def reserve_turns(self, provider: str, count: int = 1) -> list[datetime]:
        """Pace calls to the provider's calls-per-second across every worker: one shared
        DB row holds the next free instant; a batch reserves its turns in one go."""
        with self.db.write() as session:
            return self._reserve(session, provider, count, self.clock.now())

    def _reserve(self, session: Session, provider: str, count: int, now: datetime) -> list[datetime]:
        cps = self.settings.calls_per_second.get(provider, 1.0)
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

    def wait_for_turn(self, provider: str) -> None:
        self._sleep_until(self.reserve_turns(provider)[0])

    def _sleep_until(self, turn: datetime) -> None:
        delay = (turn - self.clock.now()).total_seconds()
        if delay > 0:
            time.sleep(delay)

    def _may_dial(self, claim: Claim) -> bool:
        """Fencing, right before dialing. A claim younger than half its lease is ours: no
        other worker may take it before the lease runs out, so there is nothing to ask.
        Beyond that (this worker stalled, or waited long for its turn) renew the lease in
        the database if it is still ours."""
        if self.clock.now() <= claim.lease_until - self.lease / 2:
            return True
        return self._still_ours(claim)

    def _still_ours(self, claim: Claim) -> bool:
        """Renew the lease if it is still ours. A worker that fell behind (its lease ran
        out and another worker reconciled the callback) must not dial; renewing also
        restarts the clock the reconciler measures from."""
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

    def _pool(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.settings.dial_concurrency, thread_name_prefix="dial")
        return self._executor

    def _save_later(self, dials: list[Future[DialOutcome]]) -> None:
        """Hand a wave of dials to the saver thread, which records their results in one
        transaction once they are back, while this thread goes on claiming."""
        if self._saver is None:
            self._saver = ThreadPoolExecutor(1, thread_name_prefix="dial-saver")
        while len(self._saves) >= MAX_PENDING_SAVES:
            self._saves.pop(0).result()  # the saver is behind: wait for it (and surface its errors)
        self._saves.append(self._saver.submit(self._settle, dials))

    def flush(self) -> None:
        """Wait until every dial handed out so far is saved (re-raising a saver's error)."""
        while self._saves:
            self._saves.pop(0).result()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            for executor in (self._executor, self._saver):
                if executor is not None:
                    executor.shutdown(wait=True)
            self._executor = self._saver = None

    def place(self, claim: Claim) -> None:
        self.place_all([claim])
        self.flush()

    def place_all(self, claims: list[Claim]) -> None:
        """Dial each claim at its turn, with up to ``dial_concurrency`` provider requests
        in flight, and save what the providers answered in batches (one transaction for
        all that went out meanwhile). When the worker is stopping, claims whose turn has
        not come are handed back rather than waited for."""
        wave: list[Future[DialOutcome]] = []
        queue = sorted(claims, key=lambda c: c.turn)
        while queue:
            claim = queue[0]
            wait = (claim.turn - self.clock.now()).total_seconds()
            if wait > SAVE_WHILE_WAITING and wave:
                self._save_later(wave)
                wave = []
            # Wait for the turn, but not past a SIGTERM: a turn may be half a lease away.
            if wait > 0 and self.stopping.wait(wait):
                self._hand_back(queue, "the worker stopped before this call's turn")
                break
            queue.pop(0)
            if not self._may_dial(claim):
                log.warning(
                    "callback %s: claim taken over before dialing: not dialing",
                    claim.ref or claim.callback_id,
                    extra={"callback": claim.ref or None},
                )
                continue
            wave.append(self._pool().submit(self._dial, claim))
        if wave:
            self._save_later(wave)

    def _dial(self, claim: Claim) -> DialOutcome:
        """One call through the claim's providers in order (runs in the dial pool)."""
        errors: list[str] = []
        first = claim.providers[0]
        for provider in claim.providers:
            adapter = self.providers.get(provider)
            call = OutboundCall(
                to=claim.agent_target or claim.phone,
                from_=claim.caller_id,
                answer_url=self.urls.answer(provider, claim.attempt_id),
                status_url=self.urls.event(provider, claim.attempt_id),
                machine_detection=claim.agent_target is None,  # agents are not answering machines
            )
            try:
                if provider != first:
                    self.wait_for_turn(provider)
                placed = adapter.place_call(call)
            except ProviderError as error:
                errors.append(f"{provider}: {error.message}")
                log.warning(
                    "callback %s: dial via %s failed for %s: %s",
                    claim.ref,
                    provider,
                    mask_phone(claim.phone),
                    error.message,
                    extra={"callback": claim.ref, "attempt": claim.attempt_id, "provider": provider},
                )
                if error.code == "timeout":
                    # The request may have reached the provider and the phone may be ringing:
                    # neither redial nor fail over. Its webhooks (which carry the attempt) or,
                    # failing those, the lease reconciliation settle it.
                    return NotPlaced(claim, errors, "uncertain")
                if error.permanent:
                    return NotPlaced(claim, errors, "permanent")
                continue
            except Exception as error:  # a bug or an unwrapped transport error: it may have gone out
                log.exception(
                    "callback %s: dial via %s for %s raised",
                    claim.ref,
                    provider,
                    mask_phone(claim.phone),
                    extra={"callback": claim.ref, "attempt": claim.attempt_id, "provider": provider},
                )
                errors.append(f"{provider}: unexpected {type(error).__name__}: {error}")
                return NotPlaced(claim, errors, "uncertain")
            metrics.observe_dispatch_lag(provider, claim.due_at, self.clock.now())
            log.info(
                "callback %s: dial placed via %s (attempt %d, call %s)",
                claim.ref,
                provider,
                claim.attempt_id,
                placed.call_id,
                extra={"callback": claim.ref, "attempt": claim.attempt_id, "provider": provider},
            )
            return Placed(claim, provider, placed.call_id)
        return NotPlaced(claim, errors, "failed")

    def _settle(self, futures: list[Future[DialOutcome]]) -> None:
        outcomes = [future.result() for future in futures]
        self._save_placed([o for o in outcomes if isinstance(o, Placed)])
        for outcome in outcomes:
            if isinstance(outcome, NotPlaced):
                if outcome.kind == "uncertain":
                    self._uncertain(outcome.claim, outcome.errors)
                else:
                    self._dial_failed(outcome.claim, outcome.errors, permanent=outcome.kind == "permanent")

    def _save_placed(self, placed: list[Placed]) -> None:
        """Save the call ids the providers gave, for a batch of dials, in one transaction."""
        if not placed:
            return
        now = self.clock.now()
        with self.db.write() as session:
            session.connection().execute(
                SAVE_CALL_ID,
                [
                    {
                        "b_attempt": p.claim.attempt_id,
                        "b_provider": p.provider,
                        "b_failover_from": p.claim.providers[0] if p.provider != p.claim.providers[0] else None,
                        "b_call_id": p.call_id,
                    }
                    for p in placed
                ],
            )
            session.execute(
                update(Callback)
                .where(Callback.id.in_([p.claim.callback_id for p in placed]))
                .values(
                    attempts=Callback.attempts + 1,
                    dial_errors=0,
                    lease_until=case(
                        (Callback.state.in_(ON_CALL_STATES), now + CALL_WATCH), else_=Callback.lease_until
                    ),
                ),
                execution_options={"synchronize_session": False},
            )

    def _hand_back(self, claims: list[Claim], reason: str) -> None:
        """Claims that were never dialed go back in line, due now, for any worker: their
        attempt rows were only the intent to dial, and are removed."""
        now = self.clock.now()
        with self.db.write() as session:
            for claim in claims:
                callback = session.get_one(Callback, claim.callback_id, with_for_update=True)
                if callback.state != State.DIALING.value or callback.lease_owner != self.worker_id:
                    continue
                session.execute(delete(Attempt).where(Attempt.id == claim.attempt_id, Attempt.call_id.is_(None)))
                _clear_lease(callback)
                apply_step(session, callback, "release", now, self.worker_id, reason=reason)
                callback.next_attempt_at = now
        log.info("handed back %d claims not yet dialed", len(claims))

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
            attempt_finished(session, callback, attempt, now)
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
        """How many callbacks a claim would take now (see ``_budget``)."""
        with self.db.read() as session:
            next_at = session.scalar(PACER_NEXT_AT, {"provider": self.providers.default})
        return self._budget(limit, next_at, self.clock.now())

    def _budget(self, limit: int, next_at: datetime | None, now: datetime) -> int:
        """No more than can be dialled, at the provider's pace and behind the turns other
        workers already hold, within half a lease (claims beyond that would only run out
        before their turn and be fenced off)."""
        cps = self.settings.calls_per_second.get(self.providers.default, 1.0)
        backlog = max(0.0, (next_at - now).total_seconds()) if next_at else 0.0
        return max(0, min(limit, int((self.lease.total_seconds() / 2 - backlog) * cps)))

    def dispatch(self, limit: int = 50, *, wait: bool = True) -> int:
        """Claim what is due and place the calls; returns how many were claimed. With
        ``wait`` it returns once every result is saved; the worker's loop passes False and
        claims the next batch while the saver records this one."""
        claims = self.claim_due(limit)
        self.place_all(claims)
        if wait:
            self.flush()
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
                    _adopt_call_id(session, attempt, event.call_id)
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
            attempt_finished(session, callback, attempt, now)
            _clear_lease(callback)
            apply_step(session, callback, "release", now, "reconcile", reason="lease expired, call never placed")
            callback.next_attempt_at = now


# --- webhooks -------------------------------------------------------------------------------


def _adopt_call_id(session: Session, attempt: Attempt, call_id: str) -> None:
    """An attempt whose worker died before saving the provider's call id gets it from a
    report or from reconciliation: the call was placed, so it counts in the callback's
    attempts as _save_placed would have counted it (once: only while the id is missing)."""
    attempt.call_id = call_id
    session.execute(
        update(Callback).where(Callback.id == attempt.callback_id).values(attempts=Callback.attempts + 1),
        execution_options={"synchronize_session": "fetch"},
    )


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
) -> None:
    """Apply one call-progress report: the one way a report is applied, whether it came
    through the inbox (services/call_inbox.py) or from reconciliation. Late, doubled and
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
        _adopt_call_id(session, attempt, event.call_id)  # the worker died before saving it
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
        taken = session.execute(
            update(Slot)
            .where(Slot.id == by_start[start], Slot.active.is_(True), Slot.booked < Slot.capacity)
            .values(booked=Slot.booked + 1)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            _release_seat(session, callback)
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
            language = _language(callback)
            when = texts.format_when(start, queue.timezone, language)
            _queue_sms(
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
    body = texts.render(texts.UNREACHABLE, _language(callback), name=callback.queue.name, link=link)
    _queue_sms(session, callback, "unreachable", now, body)


def _language(callback: Callback) -> str:
    """Texts about a callback are in its language: the one it was booked in, else the queue's."""
    return callback.locale or callback.queue.language


def _queue_sms(session: Session, callback: Callback, kind: str, now: datetime, body: str) -> None:
    queue_text(session, callback.phone, kind, now, body, callback_id=callback.id)


def queue_text(
    session: Session, to: str, kind: str, now: datetime, body: str, *, callback_id: int | None = None
) -> None:
    """Put a text in the outbox, in the caller's transaction: the worker sends it."""
    session.add(SmsMessage(callback_id=callback_id, kind=kind, to=to, body=body, status="pending", created_at=now))


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
    key = (result.digits or "").strip()[:1] or spoken_key(result.speech, ctx.language)
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
            link = short_booking_url(session, settings, now, callback.queue.key, callback.phone)
            body = texts.render(texts.CHOOSE_ANOTHER_TIME, _language(callback), name=callback.queue.name, link=link)
            _queue_sms(session, callback, "reschedule_link", now, body)
            return callback_script.texted_link(ctx)
        return callback_script.cancelled(ctx)
    if step < 2:
        return callback_script.menu(ctx, step=step + 1)  # no or wrong key: say it once more
    attempt.menu_choice = SILENT
    return callback_script.voicemail(ctx)


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


def _unclaim_texts(db: Database, message_ids: list[int]) -> None:
    with db.write() as session:
        session.execute(
            update(SmsMessage)
            .where(SmsMessage.id.in_(message_ids), SmsMessage.status == "sending")
            .values(status="pending", claimed_at=None)
        )
    log.info("handed back %d texts not yet sent", len(message_ids))


# The one text a number that just opted out may still get: the confirmation carriers expect.
OPT_OUT_EXEMPT_KINDS = frozenset({"opt_out_confirmation"})


def sms_status_url(public_base_url: str, provider: str) -> str:
    """Where the provider reports the delivery of a text we send (sms.webhooks.sms_status)."""
    return f"{public_base_url.rstrip('/')}/webhooks/{provider}/sms/status"


def send_pending_sms(
    db: Database,
    providers: Providers,
    clock: Clock,
    settings: Settings,
    limit: int = 50,
    stopping: threading.Event | None = None,
) -> int:
    """The text outbox: send what handlers decided to send (never inline in a webhook).
    A text to a number that opted out is marked ``skipped`` with the reason, not sent.
    When ``stopping`` is set (the worker got SIGTERM) the texts claimed but not yet sent
    go back to the outbox for the next worker, rather than wait for this one."""
    now = clock.now()
    with db.write() as session:
        # A worker that died between claiming a text and recording the provider's answer
        # may or may not have sent it: mark it failed (visible) rather than risk a double text.
        interrupted = session.connection().execute(
            update(SmsMessage)
            .where(SmsMessage.status == "sending", SmsMessage.claimed_at < now - SMS_CLAIM_TIMEOUT)
            .values(status="failed", error="the worker stopped while sending; not resent to avoid a duplicate")
        )
        metrics.count_sms_failed(None, "interrupted", interrupted.rowcount)
        release_due(session, now)  # reminders whose time has come, if they still hold
        rows = session.execute(
            select(SmsMessage, Queue.caller_id, Queue.primary_provider, Callback.ref)
            .outerjoin(Callback, Callback.id == SmsMessage.callback_id)
            .outerjoin(Queue, Queue.id == Callback.queue_id)
            .where(SmsMessage.status == "pending")
            .order_by(SmsMessage.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=SmsMessage)
        ).all()
        opted_out = set(session.scalars(select(SmsOptOut.phone).where(SmsOptOut.phone.in_({r[0].to for r in rows}))))
        claimed = []
        for message, queue_number, queue_provider, ref in rows:
            if message.to in opted_out and message.kind not in OPT_OUT_EXEMPT_KINDS:
                # Never sent, never silently dropped: visible in the outbox with the reason.
                message.status = "skipped"
                message.error = "the number opted out of texts (STOP)"
                continue
            message.status = "sending"
            message.claimed_at = now
            # A reply goes back on the channel and from the number the customer texted; a
            # callback's text from its queue's number and provider; else the defaults.
            sender = message.from_number or queue_number or settings.caller_id
            chosen = message.provider or queue_provider
            claimed.append((message.id, message.to, sender, message.body, chosen, message.kind, ref))
    for index, (message_id, to, sender, body, chosen, kind, ref) in enumerate(claimed):
        if stopping is not None and stopping.is_set():
            _unclaim_texts(db, [c[0] for c in claimed[index:]])
            break
        provider = chosen if chosen is not None and chosen in providers else providers.default
        try:
            status_url = sms_status_url(settings.public_base_url, provider)
            sent = providers.get(provider).send_sms(to, sender, body, status_url)
        except ProviderError as error:
            with db.write() as session:
                session.execute(
                    update(SmsMessage)
                    .where(SmsMessage.id == message_id)
                    .values(status="failed", provider=provider, error=error.message)
                )
            log.warning(
                "text %d (%s) to %s via %s failed: %s",
                message_id,
                kind,
                mask_phone(to),
                provider,
                error.message,
                extra={"callback": ref, "provider": provider},
            )
            metrics.count_sms_failed(provider, "send_error")
            continue
        metrics.count_sms_sent(provider)
        log.info(
            "text %d (%s) sent to %s via %s",
            message_id,
            kind,
            mask_phone(to),
            provider,
            extra={"callback": ref, "provider": provider},
        )
        log.debug("text %d body: %s", message_id, body, extra={"callback": ref})
        with db.write() as session:
            # Saves the id and applies a delivery report that came before it.
            record_sent(session, session.get_one(SmsMessage, message_id), provider, sent.message_id, clock.now())
    return len(claimed)

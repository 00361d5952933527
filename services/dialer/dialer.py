"""The ``Dialer`` a worker runs: it claims what is due (claims.py), places each call at its
turn with up to ``DIAL_CONCURRENCY`` provider requests in flight, fails over to a queue's
second provider, and saves what the providers answered in batches on a saver thread."""

from __future__ import annotations

import logging
import threading
import time
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, bindparam, case, delete, func, select, update

from infra import metrics
from infra.clock import Clock
from infra.db import Database
from infra.models import Attempt, Callback
from infra.settings import Settings
from scheduler.dialing import CALL_WATCH, dial_backoff
from scheduler.lifecycle import DUE_STATES, ON_CALL_STATES, State
from scheduler.phone import mask_phone
from scheduler.retry import Outcome
from services.dialer import claims, reconcile, reservations
from services.dialer.call_reports import attempt_finished, clear_lease
from services.dialer.claims import Claim, Claimer
from services.dialer.urls import WebhookUrls
from services.seats import release_seat
from services.transitions import apply_step
from telephony.base import CallState, OutboundCall, ProviderError
from telephony.registry import Providers

log = logging.getLogger(__name__)

SAVE_WHILE_WAITING = 0.05  # seconds: a wait for a turn this long first hands finished dials to the saver
MAX_PENDING_SAVES = 4  # batches of dials waiting to be saved before the claimer waits for the saver


@dataclass(frozen=True)
class Placed:
    claim: Claim
    provider: str
    call_id: str | None  # None: a TaskRouter task reserves the agent first (task_sid); Twilio places the call
    task_sid: str | None = None


@dataclass(frozen=True)
class NotPlaced:
    claim: Claim
    errors: list[str]
    kind: str  # "uncertain" (the call may have gone out), "permanent" or "failed"


DialOutcome = Placed | NotPlaced

_ATTEMPT = cast(Table, Attempt.__table__)
SAVE_CALL_ID = (
    update(_ATTEMPT)
    .where(_ATTEMPT.c.id == bindparam("b_attempt"))
    .values(
        provider=bindparam("b_provider"),
        failover_from=bindparam("b_failover_from"),
        call_id=func.coalesce(_ATTEMPT.c.call_id, bindparam("b_call_id")),  # a fast webhook may have filled it
        task_sid=bindparam("b_task_sid"),
        call_state=case((_ATTEMPT.c.call_state == "requested", CallState.QUEUED.value), else_=_ATTEMPT.c.call_state),
    )
)


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
        self.claimer = Claimer(self.worker_id, self.lease, providers, settings)
        self.stopping = threading.Event()  # set by the worker on SIGTERM: claim nothing more
        self._executor: ThreadPoolExecutor | None = None  # the dials in flight
        self._saver: ThreadPoolExecutor | None = None  # one thread saving their results
        self._saves: list[Future[None]] = []

    # --- claiming (services/dialer/claims.py) ---------------------------------------------

    def claim_due(self, limit: int = 50) -> list[Claim]:
        """Claim up to ``limit`` due callbacks (see ``claims.claim_due``)."""
        return claims.claim_due(self.db, self.claimer, self.clock.now(), limit)

    # --- placing --------------------------------------------------------------------------

    def reserve_turns(self, provider: str, count: int = 1) -> list[datetime]:
        """Pace calls to the provider's calls-per-second across every worker: one shared
        DB row holds the next free instant; a batch reserves its turns in one go."""
        with self.db.write() as session:
            return claims.reserve(session, self.settings, self.providers, provider, count, self.clock.now())

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
                if (workflow := reservations.workflow_of(claim.agent_target)) is not None:
                    task_sid = reservations.create_task(
                        self.providers, provider, workflow, self.urls, claim.attempt_id, claim.ref, claim.in_line_since
                    )
                    log.info(
                        "callback %s: agent reserved through TaskRouter via %s (attempt %d, task %s)",
                        claim.ref,
                        provider,
                        claim.attempt_id,
                        task_sid,
                        extra={"callback": claim.ref, "attempt": claim.attempt_id, "provider": provider},
                    )
                    return Placed(claim, provider, None, task_sid)
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
                if error.uncertain:
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
                        "b_task_sid": p.task_sid,
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
                clear_lease(callback)
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
            clear_lease(callback)
            if permanent:
                apply_step(session, callback, "give_up", now, self.worker_id, reason="the number cannot be called")
                release_seat(session, callback.slot_id)
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
        """How many callbacks a claim would take now (see ``claims.budget_now``)."""
        with self.db.read() as session:
            next_at = session.scalar(claims.PACER_NEXT_AT, {"provider": self.providers.default})
        return claims.budget_now(self.claimer, limit, next_at, self.clock.now())

    def dispatch(self, limit: int = 50, *, wait: bool = True) -> int:
        """Claim what is due and place the calls; returns how many were claimed. With
        ``wait`` it returns once every result is saved; the worker's loop passes False and
        claims the next batch while the saver records this one."""
        claims = self.claim_due(limit)
        self.place_all(claims)
        if wait:
            self.flush()
        return len(claims)

    # --- leases that ran out (services/dialer/reconcile.py) -------------------------------

    def reconcile(self, limit: int = 50) -> int:
        """Callbacks whose lease ran out: ask the provider before any redial."""
        return reconcile.reconcile(self.db, self.providers, self.clock, self.settings, self.claimer, limit)

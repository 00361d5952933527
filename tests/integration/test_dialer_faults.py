"""Faults: provider errors, failover, leases that run out, late and out-of-order
reports, pacing, and never two calls at once to one number."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from events.payloads import call_detail_record
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, DialPacer
from infra.settings import Settings
from infra.simulator_models import SimCall
from scheduler.dialing import dial_backoff, pace
from services.dialer.call_reports import record_call_event
from services.dialer.dialer import Dialer
from telephony.base import CallEvent, CallState, OutboundCall, PlacedCall, ProviderError
from telephony.registry import Providers
from telephony.simulator import SimulatorTelephony
from tests.integration.helpers import book, phone
from tests.integration.test_console_access import SignedIn, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures


@dataclass
class FlakyProvider:
    """A provider at the HTTP boundary that fails as told, else places calls on the simulator."""

    simulator: SimulatorTelephony
    name: str = "twilio"
    failures: list[ProviderError] = field(default_factory=list)
    placed: list[OutboundCall] = field(default_factory=list)

    def place_call(self, call: OutboundCall) -> PlacedCall:
        if self.failures:
            raise self.failures.pop(0)
        self.placed.append(call)
        return PlacedCall(self.name, self.simulator.place_call(call).call_id)

    def fetch_call(self, call_id: str) -> CallEvent:
        return self.simulator.fetch_call(call_id)

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.simulator, name)


@pytest.fixture
def providers(app: Flask) -> Providers:
    return app.extensions["providers"]  # type: ignore[no-any-return]


@pytest.fixture
def flaky(providers: Providers) -> FlakyProvider:
    fake = FlakyProvider(providers.get("simulator"))  # type: ignore[arg-type]
    providers.register(fake)  # type: ignore[arg-type]
    return fake


@pytest.fixture
def dialer(app: Flask, db: Database, clock: FixedClock, providers: Providers) -> Dialer:
    return Dialer(db, providers, clock, app.extensions["settings"], worker_id="w1")


@pytest.fixture
def queue_now(make_queue) -> str:  # type: ignore[no-untyped-def]
    return str(make_queue(estimated_wait_seconds=0))


def row(db: Database, ref: str) -> Callback:
    with db.read() as session:
        return session.scalars(select(Callback).where(Callback.ref == ref)).one()


def only_attempt(db: Database) -> Attempt:
    with db.read() as session:
        return session.scalars(select(Attempt)).one()


def test_a_transient_provider_error_backs_off_and_keeps_the_callback(
    client: FlaskClient,
    queue_now: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    flaky: FlakyProvider,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, primary_provider="twilio")
    ref = book(client, 1).get_json()["ref"]
    flaky.failures = [ProviderError("503 from the API"), ProviderError("timeout")]
    assert dialer.dispatch() == 1
    first = row(db, ref)
    assert (first.state, first.attempts, first.dial_errors) == ("retry_wait", 0, 1)
    assert first.next_attempt_at == clock.now() + dial_backoff(1)
    clock.advance(seconds=15)
    dialer.dispatch()
    assert row(db, ref).next_attempt_at == clock.now() + dial_backoff(2)
    clock.advance(seconds=30)
    dialer.dispatch()
    final = row(db, ref)
    assert (final.state, final.attempts, final.dial_errors) == ("dialing", 1, 0)
    assert len(flaky.placed) == 1


def test_a_permanent_error_stops_at_once(
    client: FlaskClient,
    make_queue,
    db: Database,
    dialer: Dialer,
    flaky: FlakyProvider,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, primary_provider="twilio")
    ref = book(client, 1).get_json()["ref"]
    flaky.failures = [ProviderError("invalid To number", permanent=True, code="21211")]
    dialer.dispatch()
    assert row(db, ref).state == "unreachable"
    assert only_attempt(db).outcome == "failed"


def test_failover_dials_through_the_secondary_and_records_it(
    client: FlaskClient,
    make_queue,
    db: Database,
    dialer: Dialer,
    flaky: FlakyProvider,
    signed_in: SignedIn,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, primary_provider="twilio", secondary_provider="simulator")
    ref = book(client, 1).get_json()["ref"]
    flaky.failures = [ProviderError("authentication failed", code="auth")]
    dialer.dispatch()
    attempt = only_attempt(db)
    assert (attempt.provider, attempt.failover_from) == ("simulator", "twilio")
    assert attempt.call_id is not None and row(db, ref).state == "dialing"
    # Said where people look: the API's calls, the CRM event's call record, the console.
    (call,) = client.get(f"/api/v1/callbacks/{ref}/calls").get_json()["calls"]
    assert (call["number"], call["provider"], call["failover_from"]) == (1, "simulator", "twilio")
    assert call_detail_record(attempt)["failover_from"] == "twilio"
    page = signed_in("viewer").get(f"/console/callbacks/{ref}").get_data(as_text=True)
    assert "simulator <small>(failed over from twilio)</small>" in page


def test_a_lease_that_runs_out_before_the_call_was_placed_is_released_after_a_grace(
    client: FlaskClient, queue_now: str, db: Database, clock: FixedClock, dialer: Dialer
) -> None:
    ref = book(client, 1).get_json()["ref"]
    assert len(dialer.claim_due()) == 1  # the worker "dies" here: claimed, never placed
    clock.advance(seconds=61)
    dialer.reconcile()
    assert row(db, ref).state == "dialing"  # the provider might still report: wait
    clock.advance(minutes=3)
    dialer.reconcile()
    released = row(db, ref)
    assert (released.state, released.next_attempt_at) == ("retry_wait", clock.now())
    assert dialer.dispatch() == 1  # dialled again: once
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Attempt).where(Attempt.call_id.is_not(None))) == 1


def test_a_placed_call_whose_webhooks_were_lost_is_reconciled_from_the_provider(
    client: FlaskClient, queue_now: str, db: Database, clock: FixedClock, dialer: Dialer, providers: Providers
) -> None:
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    call_id = only_attempt(db).call_id
    clock.advance(minutes=6)
    dialer.reconcile()  # still ringing at the provider: keep waiting
    assert row(db, ref).state == "dialing"
    with db.write() as session:  # the call ends; its webhook never reaches us
        from infra.simulator_models import SimCall

        sim = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one()
        sim.state, sim.sequence = "busy", 5
    clock.advance(minutes=6)
    dialer.reconcile()
    assert row(db, ref).state == "retry_wait"
    assert only_attempt(db).outcome == "busy"


def test_completed_before_answered_leaves_the_right_final_state(
    client: FlaskClient, queue_now: str, db: Database, clock: FixedClock, dialer: Dialer, settings: Settings
) -> None:
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    attempt = only_attempt(db)
    assert attempt.call_id is not None
    completed = CallEvent(
        "simulator", attempt.call_id, CallState.COMPLETED, sequence=4, duration_seconds=35, dedupe_key="c:4"
    )
    answered = CallEvent("simulator", attempt.call_id, CallState.ANSWERED, sequence=3, dedupe_key="c:3")
    ringing = CallEvent("simulator", attempt.call_id, CallState.RINGING, sequence=2, dedupe_key="c:2")
    for event in (completed, answered, ringing, completed):
        with db.write() as session:
            record_call_event(session, attempt.id, event, clock.now(), settings)
    final = only_attempt(db)
    assert (final.call_state, final.outcome, final.duration_seconds) == ("completed", "customer_hung_up", 35)
    assert final.answered_at is not None
    assert row(db, ref).state == "retry_wait"


def test_never_two_calls_at_once_to_one_number_even_across_queues(
    client: FlaskClient,
    make_queue,
    db: Database,
    dialer: Dialer,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0)
    make_queue(key="sales", name="Sales", estimated_wait_seconds=0)
    assert book(client, 1).status_code == 201
    assert (
        client.post("/api/v1/callbacks", json={"queue": "sales", "phone": phone(1), "kind": "asap"}).status_code == 201
    )
    assert dialer.dispatch() == 1
    with db.read() as session:
        states = sorted(session.scalars(select(Callback.state)).all())
    assert states == ["dialing", "scheduled"]


def test_the_queue_concurrent_call_limit_is_kept(
    client: FlaskClient,
    make_queue,
    db: Database,
    dialer: Dialer,  # type: ignore[no-untyped-def]
) -> None:
    hours = [{"weekday": "monday", "opens": "09:00", "closes": "17:00", "slot_minutes": 60, "capacity": 20}]
    make_queue(estimated_wait_seconds=0, max_concurrent_calls=3, weekly_hours=hours)
    for n in range(6):
        assert book(client, n).status_code == 201
    assert dialer.dispatch() == 3
    assert dialer.dispatch() == 0


def test_two_dialers_never_claim_the_same_callback(
    client: FlaskClient,
    make_queue,
    app: Flask,
    db: Database,
    clock: FixedClock,
    providers: Providers,  # type: ignore[no-untyped-def]
) -> None:
    hours = [{"weekday": "monday", "opens": "09:00", "closes": "17:00", "slot_minutes": 60, "capacity": 50}]
    make_queue(estimated_wait_seconds=0, max_concurrent_calls=100, weekly_hours=hours)
    for n in range(30):
        book(client, n)
    settings = app.extensions["settings"]
    one, two = (Dialer(db, providers, clock, settings, worker_id=w) for w in ("w1", "w2"))
    claimed = [c.callback_id for c in one.claim_due(20)] + [c.callback_id for c in two.claim_due(20)]
    assert len(claimed) == len(set(claimed)) == 30


def test_pacing_spaces_calls_by_the_providers_calls_per_second(clock: FixedClock) -> None:
    now = clock.now()
    slot, following = pace(None, now, 2.0)
    assert (slot, following) == (now, now + timedelta(milliseconds=500))
    slot2, following2 = pace(following, now, 2.0)
    assert (slot2, following2) == (now + timedelta(milliseconds=500), now + timedelta(seconds=1))
    assert pace(now - timedelta(hours=1), now, 1.0)[0] == now  # an idle limiter does not bank calls


def test_the_pacer_is_one_row_shared_by_every_worker(
    client: FlaskClient,
    make_queue,
    app: Flask,
    db: Database,
    clock: FixedClock,
    providers: Providers,  # type: ignore[no-untyped-def]
) -> None:
    settings = app.extensions["settings"]
    one, two = (Dialer(db, providers, clock, settings, worker_id=w) for w in ("w1", "w2"))
    for dialer in (one, two, one):
        dialer.wait_for_turn("simulator")
    with db.read() as session:
        pacer = session.get_one(DialPacer, "simulator")
    assert pacer.next_at == clock.now() + 3 * timedelta(seconds=1 / providers.calls_per_second("simulator"))


def test_backoff_grows_and_is_capped() -> None:
    assert [dial_backoff(n).total_seconds() for n in (1, 2, 3)] == [15, 30, 60]
    assert dial_backoff(20) == timedelta(minutes=10)


def test_a_timeout_is_never_redialled_blindly(
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    flaky: FlakyProvider,  # type: ignore[no-untyped-def]
) -> None:
    # A read timeout: the provider may have placed the call. No failover, no redial until
    # the lease (and a grace for late webhooks) has run out with no word from the provider.
    make_queue(estimated_wait_seconds=0, primary_provider="twilio", secondary_provider="simulator")
    ref = book(client, 1).get_json()["ref"]
    flaky.failures = [ProviderError("read timed out", uncertain=True, code="timeout")]
    dialer.dispatch()
    assert row(db, ref).state == "dialing"
    assert only_attempt(db).provider == "twilio" and "may have been placed" in (only_attempt(db).error or "")
    assert dialer.dispatch() == 0
    clock.advance(minutes=4)
    dialer.reconcile()
    assert row(db, ref).state == "retry_wait"


def test_a_worker_that_fell_behind_its_lease_does_not_dial(
    client: FlaskClient, queue_now: str, app: Flask, db: Database, clock: FixedClock, providers: Providers
) -> None:
    settings = app.extensions["settings"]
    slow, other = (Dialer(db, providers, clock, settings, worker_id=w) for w in ("slow", "other"))
    ref = book(client, 1).get_json()["ref"]
    (claim,) = slow.claim_due()
    clock.advance(seconds=61)  # the slow worker stalls past its lease; another reconciles the callback
    other.reconcile()
    slow.place(claim)  # ...and then wakes up: fenced out, it must not dial
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SimCall)) == 0
        assert session.scalars(select(Callback.lease_owner).where(Callback.ref == ref)).one() == "other"


def test_a_worker_claims_no_more_than_it_can_dial_within_half_a_lease(
    app: Flask, db: Database, clock: FixedClock, providers: Providers
) -> None:
    slow = app.extensions["settings"].with_overrides(calls_per_second={"simulator": 2.0}, dial_lease_seconds=60)
    dialer = Dialer(db, providers, clock, slow, worker_id="w1")
    assert dialer.claim_budget(500) == 60  # 2 calls/s for 30 s
    assert dialer.claim_budget(50) == 50
    dialer.reserve_turns("simulator", 40)  # other workers hold 20 s of turns already
    assert dialer.claim_budget(500) == 20
    dialer.reserve_turns("simulator", 40)
    assert dialer.claim_budget(500) == 0

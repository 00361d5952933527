"""The dialer's batches: a claim costs the same few statements whatever its size, calls
go out several at a time, and a stopping worker hands back what it has not dialed."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, text

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent
from infra.simulator_models import SimCall
from services.dialer.dialer import Dialer
from telephony.base import OutboundCall, PlacedCall
from telephony.registry import Providers
from telephony.simulator import SimulatorTelephony
from tests.integration.helpers import book, weekday_hours


@pytest.fixture
def providers(app: Flask) -> Providers:
    return app.extensions["providers"]  # type: ignore[no-any-return]


@pytest.fixture
def big_queue(make_queue) -> str:  # type: ignore[no-untyped-def]
    return str(make_queue(estimated_wait_seconds=0, max_concurrent_calls=100, weekly_hours=weekday_hours(capacity=100)))


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_a_claim_costs_the_same_statements_for_one_callback_or_forty(
    client: FlaskClient, big_queue: str, app: Flask, db: Database, clock: FixedClock, providers: Providers
) -> None:
    settings = app.extensions["settings"]
    for n in range(41):
        assert book(client, n).status_code == 201
    one, forty = (Dialer(db, providers, clock, settings, worker_id=w) for w in ("w1", "w2"))
    with statements(db) as for_one:
        assert len(one.claim_due(1)) == 1
    with statements(db) as for_forty:
        claims = forty.claim_due(40)
    assert len(claims) == 40
    assert len(for_forty) == len(for_one) <= 10
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback).where(Callback.state == "dialing")) == 41
        assert session.scalar(select(func.count()).select_from(Attempt)) == 41
        steps = session.scalars(select(CallbackEvent.step).where(CallbackEvent.actor == "w2")).all()
    assert steps == ["start_dial"] * 40
    assert sorted(c.attempt_id for c in claims) == sorted({c.attempt_id for c in claims})
    # Each claim has its own turn at the provider's pace, in order.
    turns = [c.turn for c in claims]
    assert turns == sorted(turns) and len(set(turns)) == 40


def test_the_claim_looks_up_numbers_on_call_by_the_partial_index_on_sqlite(
    client: FlaskClient, big_queue: str, db: Database, dialer_w1: Dialer
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's planner matches partial indexes literally; PostgreSQL plans per value")
    book(client, 1)
    sent: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        sent.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        assert len(dialer_w1.claim_due()) == 1
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    # The statement as the claim really sent it, parameters and all, asked for its plan.
    (sql, parameters), *_ = [(s, p) for s, p in sent if "number_on_call" in s]
    with db.read() as session:
        raw = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
        plan = " ".join(str(r[-1]) for r in raw)
    assert "uq_callback_phone_on_call" in plan, plan


def test_a_young_claim_is_dialed_without_asking_the_database_again(
    client: FlaskClient, big_queue: str, db: Database, dialer_w1: Dialer
) -> None:
    book(client, 1)
    (claim,) = dialer_w1.claim_due()
    with statements(db) as sent:
        dialer_w1.place(claim)
    lease_renewals = [s for s in sent if s.lstrip().upper().startswith("UPDATE CALLBACK SET LEASE_UNTIL")]
    assert lease_renewals == []
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SimCall)) == 1
        assert session.scalars(select(Attempt.call_id)).one() is not None


@pytest.fixture
def dialer_w1(app: Flask, db: Database, clock: FixedClock, providers: Providers) -> Dialer:
    return Dialer(db, providers, clock, app.extensions["settings"], worker_id="w1")


@dataclass
class SlowProvider:
    """A provider whose API answers only once ``together`` requests are in flight at once:
    dialed one after another, every request would time out on the barrier."""

    simulator: SimulatorTelephony
    together: int
    name: str = "simulator"
    most_in_flight: int = 0
    in_flight: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    barrier: threading.Barrier | None = None

    def place_call(self, call: OutboundCall) -> PlacedCall:
        if self.barrier is None:
            self.barrier = threading.Barrier(self.together)
        with self.lock:
            self.in_flight += 1
            self.most_in_flight = max(self.most_in_flight, self.in_flight)
        try:
            self.barrier.wait(timeout=10)
            return self.simulator.place_call(call)
        finally:
            with self.lock:
                self.in_flight -= 1

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.simulator, name)


def test_calls_go_out_several_at_a_time(
    client: FlaskClient, big_queue: str, app: Flask, db: Database, clock: FixedClock, providers: Providers
) -> None:
    slow = SlowProvider(providers.get("simulator"), together=4)  # type: ignore[arg-type]
    providers.register(slow)  # type: ignore[arg-type]
    settings = app.extensions["settings"].with_overrides(
        dial_concurrency=4, calls_per_second={**app.extensions["settings"].calls_per_second, "simulator": 1000.0}
    )
    for n in range(8):
        book(client, n)
    dialer = Dialer(db, providers, clock, settings, worker_id="w1")
    try:
        assert dialer.dispatch() == 8
    finally:
        dialer.close()
    assert slow.most_in_flight == 4
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(SimCall)) == 8
        saved = session.scalar(select(func.count()).select_from(Attempt).where(Attempt.call_id.is_not(None)))
        attempts = session.scalars(select(Callback.attempts)).all()
    assert saved == 8 and attempts == [1] * 8


def test_a_stopping_worker_hands_back_the_claims_whose_turn_has_not_come(
    client: FlaskClient, big_queue: str, app: Flask, db: Database, clock: FixedClock, providers: Providers
) -> None:
    settings = app.extensions["settings"].with_overrides(
        calls_per_second={**app.extensions["settings"].calls_per_second, "simulator": 1.0}
    )
    for n in range(3):
        book(client, n)
    dialer = Dialer(db, providers, clock, settings, worker_id="w1")
    claims = dialer.claim_due()
    assert len(claims) == 3  # turns now, in 1 s and in 2 s
    dialer.stopping.set()
    dialer.place_all(claims)  # the first goes out at once; the two that would wait are handed back
    dialer.flush()
    with db.read() as session:
        states = session.execute(select(Callback.state, Callback.lease_owner).order_by(Callback.id)).all()
        attempts = session.scalars(select(Attempt.call_id)).all()
        released = session.scalars(select(CallbackEvent.reason).where(CallbackEvent.step == "release")).all()
        calls = session.scalar(select(func.count()).select_from(SimCall))
    assert calls == 1 and len(attempts) == 1 and attempts[0] is not None
    assert sorted(s for s, _ in states) == ["dialing", "retry_wait", "retry_wait"]
    assert all(owner is None for state, owner in states if state == "retry_wait")
    assert released == ["the worker stopped before this call's turn"] * 2
    # They are due again at once, for any worker, with their attempt numbers free.
    other = Dialer(db, providers, clock, settings, worker_id="w2")
    assert len(other.claim_due()) == 2
    with db.read() as session:
        numbers = session.execute(text("SELECT number FROM attempt ORDER BY id")).scalars().all()
    assert numbers == [1, 1, 1]


@pytest.mark.postgres_only
def test_workers_claiming_at_once_keep_the_queues_concurrent_call_limit(
    client: FlaskClient, make_queue, app: Flask, db: Database, clock: FixedClock, providers: Providers
) -> None:  # type: ignore[no-untyped-def]
    make_queue(estimated_wait_seconds=0, max_concurrent_calls=3, weekly_hours=weekday_hours(capacity=100))
    for n in range(12):
        assert book(client, n).status_code == 201
    settings = app.extensions["settings"]
    dialers = [Dialer(db, providers, clock, settings, worker_id=f"w{n}") for n in range(4)]
    start = threading.Barrier(len(dialers))
    claimed: list[int] = []

    def claim(dialer: Dialer) -> None:
        start.wait(timeout=10)
        found = dialer.claim_due(3)
        with lock:
            claimed.extend(c.callback_id for c in found)

    lock = threading.Lock()
    threads = [threading.Thread(target=claim, args=(d,)) for d in dialers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(claimed) == len(set(claimed)) == 3  # four workers at once, three calls allowed
    with db.read() as session:
        dialing = session.scalar(select(func.count()).select_from(Callback).where(Callback.state == "dialing"))
    assert dialing == 3

"""Daily and hourly jobs run once per cluster per period (services/periodic.py): whichever of
several workers asks first runs it, a restarted worker does not run it again within its
period, and a run whose worker died is taken up by another once its lease runs out."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask

from app.worker import ANONYMISE, EXTEND_SLOTS, FORGET_EXPIRED, Worker
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, JobRun
from scheduler.periodic import is_due
from services import periodic
from tests.integration.test_personal_data import _book, _cancel

DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


@pytest.fixture
def new_worker(app: Flask, db: Database, clock: FixedClock) -> Callable[[], Worker]:
    """A worker process as it starts (each with its own id), on the test's database and clock."""
    ext = app.extensions

    def make() -> Worker:
        return Worker(db, clock, ext["settings"], ext["providers"])

    return make


def job_run(db: Database, name: str) -> JobRun | None:
    with db.read() as session:
        return session.get(JobRun, name)


def runs(db: Database, name: str) -> int:
    row = job_run(db, name)
    return 0 if row is None else row.runs


def anonymise(worker: Worker) -> bool:
    """The worker's anonymise tick, as APScheduler calls it: True if it ran."""
    return worker.run_periodic(ANONYMISE, worker.anonymise)


def test_of_two_workers_on_one_database_one_runs_the_daily_job(
    db: Database, clock: FixedClock, demo_queue: str, new_worker: Callable[[], Worker]
) -> None:
    old = _book(db, clock)
    _cancel(db, clock, old.ref)
    clock.advance(days=91)  # past the retention: the daily pass has one callback to anonymise
    first, second = new_worker(), new_worker()
    assert first.dialer.worker_id != second.dialer.worker_id
    assert anonymise(first) is True
    assert anonymise(second) is False
    row = job_run(db, "anonymise")
    assert row is not None and row.runs == 1 and row.lease_owner == first.dialer.worker_id
    assert row.last_started_at == row.last_finished_at == clock.now() and row.lease_until is None
    with db.read() as session:
        assert session.get_one(Callback, old.id).anonymised_at == clock.now()


def test_a_restart_within_the_period_does_not_run_it_again_and_after_it_one_does(
    db: Database, clock: FixedClock, new_worker: Callable[[], Worker]
) -> None:
    assert anonymise(new_worker()) is True
    clock.advance(hours=23, minutes=59)
    assert anonymise(new_worker()) is False  # restarted: a new worker id, the same record
    assert runs(db, "anonymise") == 1
    clock.advance(minutes=1)  # a day after the last start
    again, other = new_worker(), new_worker()
    assert anonymise(again) is True and anonymise(other) is False
    assert runs(db, "anonymise") == 2


def test_the_hourly_jobs_run_once_an_hour_whoever_asks(
    db: Database, clock: FixedClock, demo_queue: str, new_worker: Callable[[], Worker]
) -> None:
    workers = [new_worker() for _ in range(3)]
    for _ in range(4):  # four checks a quarter of an hour apart by every worker
        for worker in workers:
            worker.run_periodic(EXTEND_SLOTS, worker.extend_slots)
            worker.run_periodic(FORGET_EXPIRED, worker.forget_expired)
        clock.advance(minutes=15)
    assert runs(db, "extend_slots") == 1 and runs(db, "forget_expired") == 1
    for worker in workers:
        worker.run_periodic(EXTEND_SLOTS, worker.extend_slots)
    assert runs(db, "extend_slots") == 2


def test_a_runner_that_died_is_retried_by_another_once_its_lease_runs_out(
    db: Database, clock: FixedClock, new_worker: Callable[[], Worker]
) -> None:
    assert periodic.claim(db, "anonymise", "worker-dead", clock.now(), DAY, ANONYMISE.lease)  # and never finished
    survivor = new_worker()
    clock.advance(seconds=ANONYMISE.lease.total_seconds() - 1)
    assert anonymise(survivor) is False  # still held
    clock.advance(seconds=1)
    assert anonymise(survivor) is True
    row = job_run(db, "anonymise")
    assert row is not None and row.runs == 2 and row.lease_owner == survivor.dialer.worker_id
    assert row.last_finished_at == clock.now()
    assert periodic.finish(db, "anonymise", "worker-dead", clock.now()) is False  # the dead one's finish counts not


def test_a_job_that_raises_is_logged_and_left_to_its_lease(
    db: Database, clock: FixedClock, new_worker: Callable[[], Worker], caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("database went away")

    worker = new_worker()
    with caplog.at_level(logging.ERROR, logger="services.periodic"), pytest.raises(RuntimeError):
        worker.run_periodic(ANONYMISE, broken)
    assert "periodic job anonymise failed (RuntimeError)" in caplog.text
    row = job_run(db, "anonymise")
    assert row is not None and row.last_finished_at is None and row.lease_until == clock.now() + ANONYMISE.lease
    clock.advance(minutes=30)
    assert anonymise(new_worker()) is False
    clock.advance(minutes=30)
    assert anonymise(new_worker()) is True  # retried an hour later, not a day


def test_only_the_holder_finishes_a_run(db: Database, clock: FixedClock) -> None:
    assert periodic.claim(db, "job", "a", clock.now(), DAY, HOUR)
    assert periodic.finish(db, "job", "b", clock.now()) is False
    clock.advance(hours=1)
    assert periodic.claim(db, "job", "c", clock.now(), DAY, HOUR)  # a overran its lease: c took over
    assert periodic.finish(db, "job", "a", clock.now()) is False
    assert periodic.finish(db, "job", "c", clock.now()) is True
    assert periodic.finish(db, "job", "c", clock.now()) is False  # once


def test_of_many_claims_at_once_exactly_one_wins(db: Database, clock: FixedClock) -> None:
    n = 8
    barrier = threading.Barrier(n)
    won: list[str] = []

    def claimant(owner: str) -> None:
        barrier.wait()
        if periodic.claim(db, "anonymise", owner, clock.now(), DAY, HOUR):
            won.append(owner)

    threads = [threading.Thread(target=claimant, args=(f"worker-{i}",)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(won) == 1
    row = job_run(db, "anonymise")
    assert row is not None and row.runs == 1 and row.lease_owner == won[0]


@pytest.mark.parametrize(
    ("started", "finished"),
    [
        (None, None),
        (-DAY, -DAY + HOUR),  # finished, a period ago
        (-DAY + timedelta(seconds=1), -DAY + HOUR),  # finished, not quite a period ago
        (-HOUR, None),  # never finished, its lease just ran out
        (-HOUR + timedelta(seconds=1), None),  # never finished, still held
        (-2 * HOUR, -3 * DAY),  # the finish is an earlier run's: this one died
        (-2 * HOUR, -2 * HOUR),  # finished at once (a standing clock)
    ],
)
def test_the_claim_is_the_rule(
    db: Database, clock: FixedClock, started: timedelta | None, finished: timedelta | None
) -> None:
    now = clock.now()
    last_started = None if started is None else now + started
    last_finished = None if finished is None else now + finished
    if last_started is not None:
        with db.write() as session:
            session.add(JobRun(name="job", last_started_at=last_started, last_finished_at=last_finished, runs=1))
    assert periodic.claim(db, "job", "w", now, DAY, HOUR) == is_due(last_started, last_finished, DAY, HOUR, now)


def test_worker_once_runs_every_job_even_within_its_period_but_not_beside_a_running_one(
    db: Database, clock: FixedClock, demo_queue: str, new_worker: Callable[[], Worker]
) -> None:
    names = ["extend_slots", "forget_expired", "anonymise"]
    new_worker().run(once=True)
    new_worker().run(once=True)  # at the same instant: forced, it runs them again
    assert [runs(db, name) for name in names] == [2, 2, 2]
    assert anonymise(new_worker()) is False  # and the forced run counts as the period's run
    clock.advance(days=1)
    assert periodic.claim(db, "anonymise", "worker-busy", clock.now(), DAY, ANONYMISE.lease)  # running elsewhere
    new_worker().run(once=True)
    assert [runs(db, name) for name in names] == [3, 3, 3]  # anonymise: worker-busy's run, not a second one
    row = job_run(db, "anonymise")
    assert row is not None and row.lease_owner == "worker-busy" and row.last_finished_at == clock.now() - DAY

"""Periodic jobs run once per cluster per period: claimed in the ``job_run`` table.

Every worker process asks often (its APScheduler tick, every minute) whether a job is
due; the database answers, so that M workers on several machines, and a worker that
restarted, run a daily job once a day between them. A claim is one conditional UPDATE of
the job's row (the rule of scheduler/periodic.py, its cutoffs bound as parameters): of
any number of processes claiming at once exactly one updates the row. On PostgreSQL a
second UPDATE of the row waits for the first to commit, then evaluates its WHERE again on
the updated row and matches nothing; on SQLite ``db.write()`` begins IMMEDIATE, so the
claims run one after another. The row is made first by an insert that ignores a
conflict, so the UPDATE always has a row to take.

A run that raises (or whose worker dies or stops mid-way) records no finish: the job
stays held until its lease runs out, then another worker (or this one) runs it again.
The jobs themselves are idempotent, so a run repeated after a lease is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from infra.clock import Clock
from infra.db import Database
from infra.models import JobRun
from scheduler.periodic import PeriodicJob, cutoffs

log = logging.getLogger(__name__)


def claim(db: Database, name: str, owner: str, now: datetime, period: timedelta, lease: timedelta) -> bool:
    """Start a run of ``name`` for ``owner`` if it is due at ``now``: True for the one
    claimant that took it, False for everyone else."""
    insert = sqlite_insert(JobRun) if db.is_sqlite else postgresql_insert(JobRun)
    limits = cutoffs(now, period, lease)
    finished = JobRun.last_finished_at >= JobRun.last_started_at  # NULL (never finished) is not true
    unfinished = or_(JobRun.last_finished_at.is_(None), JobRun.last_finished_at < JobRun.last_started_at)
    with db.write() as session:
        session.execute(insert.values(name=name, runs=0).on_conflict_do_nothing(index_elements=["name"]))
        taken = session.execute(
            update(JobRun)
            .where(
                JobRun.name == name,
                or_(
                    JobRun.last_started_at.is_(None),
                    and_(finished, JobRun.last_started_at <= limits.finished_started_by),
                    and_(unfinished, JobRun.last_started_at <= limits.unfinished_started_by),
                ),
            )
            .values(lease_owner=owner, lease_until=now + lease, last_started_at=now, runs=JobRun.runs + 1)
            .execution_options(synchronize_session=False)
        )
    return bool(taken.rowcount == 1)  # type: ignore[attr-defined]


def finish(db: Database, name: str, owner: str, now: datetime) -> bool:
    """Record that ``owner``'s run finished at ``now`` and let go of the lease. Only the
    holder's finish counts: a runner that overran its lease and was succeeded by another
    records nothing (False), and the newer run's own finish will."""
    with db.write() as session:
        done = session.execute(
            update(JobRun)
            .where(JobRun.name == name, JobRun.lease_owner == owner, JobRun.lease_until.is_not(None))
            .values(last_finished_at=now, lease_until=None)
            .execution_options(synchronize_session=False)
        )
    return bool(done.rowcount == 1)  # type: ignore[attr-defined]


def run_if_due(
    db: Database,
    clock: Clock,
    job: PeriodicJob,
    owner: str,
    body: Callable[[], None],
    *,
    force: bool = False,
    stopping: threading.Event | None = None,
) -> bool:
    """Run ``body`` if this worker wins the claim on ``job``; True if it ran and finished.
    ``force`` runs it now even within its period (``callbacks worker --once``), though
    never beside a run that holds the lease. A body that raises is logged and re-raised
    with its lease left to run out; one cut short by ``stopping`` records no finish either."""
    started = clock.now()
    if not claim(db, job.name, owner, started, timedelta(0) if force else job.period, job.lease):
        return False
    began = time.monotonic()
    try:
        body()
    except Exception as error:
        log.error(
            "periodic job %s failed (%s): another run starts once its lease runs out at %s",
            job.name,
            type(error).__name__,
            (started + job.lease).isoformat(),
        )
        raise
    if stopping is not None and stopping.is_set():
        log.info("periodic job %s stopped before it finished: it runs again once its lease runs out", job.name)
        return False
    if not finish(db, job.name, owner, clock.now()):
        log.warning("periodic job %s finished after its lease ran out and another run took it over", job.name)
        return False
    log.info("periodic job %s finished in %.1f s", job.name, time.monotonic() - began)
    return True

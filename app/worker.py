"""The worker process: APScheduler drives periodic ticks; the database holds all state.

Ticks are idempotent and cheap to repeat, so a late or doubled tick is harmless,
and nothing is lost when the process dies: APScheduler holds no work of its own. The
daily and hourly jobs run once per cluster per period, not once per worker: their ticks
only ask, every minute, whether this worker wins the job's claim (services/periodic.py).

While the database is away (a restart, a failover, a network cut) the ticks do not raise:
the first that finds it away logs one line, the ticks wait and retry with a short backoff
(scheduler/outage.py), and the first that gets through logs that it is back. What was
claimed but not recorded meanwhile is on a lease, settled by ``reconcile`` as for a
worker that died: nothing is lost, nothing is dialed twice.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from types import FrameType

from apscheduler.schedulers.blocking import BlockingScheduler
from flask import Flask
from sqlalchemy import select

from app import health
from app.simulated_agents import simulator_with_agents
from app.simulated_agents import tick as simulated_agents_tick
from app.worker_metrics import WorkerMetricsServer
from events.sender import EventSender, forget_old
from infra.clock import Clock
from infra.db import Database, describe, is_unavailable
from infra.models import Queue
from infra.settings import Settings
from infra.wakeups import Wakeups, wakeups_for
from scheduler import outage
from scheduler.periodic import PeriodicJob
from services import call_inbox, periodic
from services.dialer.dialer import Dialer
from services.dialer.machines import retry_redirects
from services.dialer.reservations import close_tasks
from services.idempotency import forget_expired as forget_expired_keys
from services.inbound_presence import forget_old as forget_old_inbound_calls
from services.links import forget_expired_links
from services.login_throttle import forget_old as forget_old_login_failures
from services.personal_data import BATCH as ANONYMISE_BATCH
from services.personal_data import anonymise_due
from services.slot_sync import sync_slots
from services.taskrouter_figures import SOURCE as TASKROUTER
from services.taskrouter_figures import TaskRouterPoller
from services.wallboard import forget_old_samples, record_samples
from sms.delivery import forget_early_reports
from sms.outbox import send_pending_sms
from telephony.registry import Providers

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05  # how soon the dispatch loop looks again at due callbacks it could not claim
MAX_SLEEP_SECONDS = 5.0  # the dispatch loop's longest sleep without being woken: a safety net

# Once per cluster per period. A lease is how long a run may take before another worker
# takes it for dead and runs the job again (the jobs are idempotent; a repeat is harmless).
EXTEND_SLOTS = PeriodicJob("extend_slots", period=timedelta(hours=1), lease=timedelta(minutes=10))
FORGET_EXPIRED = PeriodicJob("forget_expired", period=timedelta(hours=1), lease=timedelta(minutes=10))
ANONYMISE = PeriodicJob("anonymise", period=timedelta(days=1), lease=timedelta(hours=1))
# How often each worker asks whether one of them is due: a job starts at most this late.
PERIODIC_CHECK_SECONDS = 60
FOLLOW_UP_SECONDS = 5  # machine redirects retried (20 s apart), TaskRouter tasks closed
# Every worker offers each queue's ECBT sample this often; one per queue per bucket is kept
# (scheduler/wallboard.py SAMPLE_SECONDS), whichever worker offers it first.
ECBT_SAMPLE_SECONDS = 60

_started_in_this_process = False


class SchedulerAlreadyRunning(RuntimeError):
    """A second scheduler in one process: a bug (say, a web process starting one), refused loudly."""


class Worker:
    def __init__(
        self, db: Database, clock: Clock, settings: Settings, providers: Providers, demo_app: Flask | None = None
    ) -> None:
        self.db = db
        # In demo mode, the app whose phone simulator's agents this worker runs (app/simulated_agents.py).
        self.demo_app = demo_app if settings.demo_mode else None
        self.clock = clock
        self.settings = settings
        self.providers = providers
        self.dialer = Dialer(db, providers, clock, settings)
        self.events = EventSender(db, clock, settings, owner=self.dialer.worker_id)
        self.taskrouter = TaskRouterPoller(
            db,
            clock,
            lambda: self.providers.figure_source(TASKROUTER),
            owner=self.dialer.worker_id,
            poll_seconds=settings.taskrouter_poll_seconds,
        )
        self.dispatch_window: float | None = None  # how long the dispatch loop runs (None: until stopped)
        # Run the periodic jobs whenever asked, however recently they ran (``run(once=True)``).
        self.force_periodic = False
        self._dispatching = threading.Lock()
        self._delivering = threading.Lock()
        self._last_beat: float | None = None  # time.monotonic() of the last heartbeat written
        self._outage = outage.Outage()  # shared by every tick: the database is away, or not
        self._outage_lock = threading.Lock()
        self._wakeups: Wakeups | None = None  # made by the dispatch loop's thread, on first use

    def wakeups(self) -> Wakeups:
        if self._wakeups is None:
            self._wakeups = wakeups_for(self.db)
        return self._wakeups

    def alive(self) -> bool:
        """Whether this worker wrote its heartbeat recently (its scheduler runs and the
        database answers): the worker's own /healthz (WORKER_METRICS_PORT)."""
        beat = self._last_beat
        return beat is not None and time.monotonic() - beat <= self.settings.worker_heartbeat_max_age_seconds

    def dispatch(self) -> None:
        """The dispatch tick. APScheduler calls it every second; the first call runs the
        dialing loop until the worker stops, and later calls return at once while it runs
        (so that a loop that died on an error, say the database going away, is restarted
        a second later). A loop, not a tick per second: a tick that ran into the next one
        would be skipped by APScheduler, leaving up to a second in which nothing is dialed."""
        if not self._dispatching.acquire(blocking=False):
            return
        try:
            self.dispatch_loop()
        finally:
            self._dispatching.release()

    def dispatch_loop(self) -> None:
        """Dial what is due, on time: claim batch after batch while there is a backlog (a
        saver thread records each batch's dials meanwhile), then sleep until the next due
        time, woken at once when a callback falls due meanwhile (PostgreSQL: NOTIFY; SQLite:
        its data_version polled every 50 ms: infra/wakeups.py), never longer than
        MAX_SLEEP_SECONDS. ``dispatch_window`` None: until the worker stops; 0: one pass."""
        until = None if self.dispatch_window is None else time.monotonic() + self.dispatch_window
        stopping = self.dialer.stopping
        try:
            while not stopping.is_set():
                while self.dialer.dispatch(wait=False) > 0 and not stopping.is_set():
                    pass
                self.database_answered()
                left = float("inf") if until is None else until - time.monotonic()
                if left <= 0 or stopping.is_set():
                    return
                wait = self.dialer.seconds_until_next_due()
                if wait <= 0:  # due, but not to be claimed now (the pacer, a queue's limit): look again soon
                    time.sleep(min(POLL_SECONDS, left))
                else:  # until it falls due, or a change wakes us (infra/wakeups.py), or the safety net
                    self.wakeups().wait(min(wait, MAX_SLEEP_SECONDS, left))
        finally:
            self._flush_all()

    def _flush_all(self) -> None:
        """Wait for every batch handed to the saver, even after one of them failed (the
        database going away fails them all), and re-raise the first error: each surfaces
        once, here, not in the next loop after the database is back."""
        first: Exception | None = None
        while True:
            try:
                self.dialer.flush()  # takes each batch off its list before waiting for it
                break
            except Exception as error:
                first = first or error
        if first is not None:
            raise first

    # --- the database going away ----------------------------------------------------------

    def guarded(self, tick: Callable[[], None]) -> Callable[[], None]:
        """``tick`` as the scheduler runs it. While the database is away it waits out the
        backoff without touching it; a tick that finds it away logs that once for all the
        ticks (a line, no traceback) rather than raising; a tick that ran through says the
        database answers. Any other error is raised, for APScheduler to log."""
        # These two may return at once without touching the database (their loop runs in
        # another thread); the dispatch loop says itself when a pass went through.
        proves = tick not in (self.dispatch, self.deliver_events)

        def run() -> None:
            if not self._may_use_database():
                return
            try:
                tick()
            except Exception as error:
                if not is_unavailable(error):
                    raise
                self.database_failed(error)
                return
            if proves:
                self.database_answered()

        run.__name__ = tick.__name__
        return run

    def _may_use_database(self) -> bool:
        with self._outage_lock:
            return outage.may_try(self._outage, time.monotonic())

    def database_failed(self, error: BaseException) -> None:
        with self._outage_lock:
            self._outage, started = outage.failed(self._outage, time.monotonic())
        if started:
            log.warning("database unavailable: %s; retrying until it answers", describe(error))

    def database_answered(self) -> None:
        if not self._outage.active:  # the usual case, without the lock
            return
        with self._outage_lock:
            self._outage, lasted = outage.succeeded(self._outage, time.monotonic())
        if lasted is not None:
            log.warning("database reachable again after %.1f s: resuming", lasted)

    def reconcile(self) -> None:
        handled = self.dialer.reconcile()
        if handled:
            log.info("reconciled %d callbacks whose lease ran out", handled)

    def send_texts(self) -> None:
        stopping = self.dialer.stopping
        while (
            not stopping.is_set()
            and send_pending_sms(self.db, self.providers, self.clock, self.settings, stopping=stopping) > 0
        ):
            pass

    def apply_call_events(self) -> None:
        """Apply the call-progress reports the status webhook stored (services/call_inbox.py)."""
        while (
            call_inbox.apply_call_events(self.db, self.clock, self.settings, providers=self.providers)
            == call_inbox.BATCH
            and not self.dialer.stopping.is_set()
        ):
            pass

    def follow_up_calls(self) -> None:
        """What an ended or answered call still needs from a provider, outside any transaction:
        machine redirects no provider took yet, TaskRouter tasks of attempts that ended."""
        retry_redirects(self.db, self.providers, self.clock)
        close_tasks(self.db, self.providers, self.clock)

    def deliver_events(self) -> None:
        """CRM events: the sender's loop (events/sender.py), like the dispatch loop: the first
        call runs it until the worker stops, later calls return at once while it runs (and
        restart it a second later if it died on an error). It hands POSTs to its own threads
        and never waits for one; once stopping, it claims nothing more (events.close lets
        the POSTs in flight finish and settles them)."""
        if not self._delivering.acquire(blocking=False):
            return
        try:
            self.events.run(self.dialer.stopping, self.dispatch_window)
        finally:
            self._delivering.release()

    def extend_slots(self) -> None:
        """Keep every queue's slot rows reaching its booking horizon."""
        with self.db.read() as session:
            keys = list(session.scalars(select(Queue.key)))
        for key in keys:
            if self.dialer.stopping.is_set():
                return
            with self.db.write() as session:
                queue = session.scalars(select(Queue).where(Queue.key == key)).one()
                changed = sync_slots(session, queue, self.clock.now())
            if changed:
                log.info("queue %s: %d slot rows made or changed", key, changed)

    def forget_expired(self) -> None:
        """Idempotency keys past their time, booking links long expired, delivery reports
        no text of ours ever claimed, console sign-in failures a day old, inbound calls
        (the callers' numbers) a day after they ended or stopped counting, the wallboard's
        ECBT samples two days old."""
        with self.db.write() as session:
            keys = forget_expired_keys(session, self.clock.now())
            links = forget_expired_links(session, self.clock.now())
            forget_early_reports(session, self.clock.now())
            forget_old(session, self.clock.now(), self.settings.event_retention_days)
            forget_old_login_failures(session, self.clock.now())
            forget_old_inbound_calls(session, self.clock.now())
            forget_old_samples(session, self.clock.now())
        if keys or links:
            log.info("forgot %d expired idempotency keys, %d expired booking links", keys, links)

    def simulated_agents(self) -> None:
        """Demo mode: the simulator's agents hang up after their handle time and report
        themselves as every queue's live agent figures."""
        assert self.demo_app is not None
        with self.demo_app.app_context():
            simulated_agents_tick(self.demo_app)

    def taskrouter_figures(self) -> None:
        """Queues naming a Twilio TaskRouter task queue: read their live agent figures,
        once per cluster per TASKROUTER_POLL_SECONDS (services/taskrouter_figures.py)."""
        if not self.dialer.stopping.is_set():
            self.taskrouter.tick(force=self.force_periodic)

    def sample_ecbt(self) -> None:
        """Each queue's ECBT for the wallboard's trend (services/wallboard.py): one sample per
        queue per bucket in the cluster, the other workers' offers ignored."""
        with self.db.write() as session:
            record_samples(session, self.clock.now(), self.settings.agent_figures_max_age)

    def heartbeat(self) -> None:
        """Tell /readyz this worker is alive (app/health.py)."""
        health.beat(self.db, self.clock.now())
        self._last_beat = time.monotonic()

    def anonymise(self) -> None:
        """The daily retention pass (services/personal_data.py), a batch per transaction."""
        while True:
            with self.db.write() as session:
                done = anonymise_due(session, self.settings.retention_days, self.clock.now())
            if done:
                log.info("anonymised %d finished callbacks past their retention", done)
            if done < ANONYMISE_BATCH:
                return

    def periodic_jobs(self) -> list[tuple[PeriodicJob, Callable[[], None]]]:
        """The jobs that run once per cluster per period, with what each runs."""
        return [(EXTEND_SLOTS, self.extend_slots), (FORGET_EXPIRED, self.forget_expired), (ANONYMISE, self.anonymise)]

    def run_periodic(self, job: PeriodicJob, body: Callable[[], None]) -> bool:
        """Run ``job`` if it is due and this worker wins its claim; True if it ran to the end."""
        if self.dialer.stopping.is_set():
            return False
        return periodic.run_if_due(
            self.db,
            self.clock,
            job,
            self.dialer.worker_id,
            body,
            force=self.force_periodic,
            stopping=self.dialer.stopping,
        )

    def _periodic_tick(self, job: PeriodicJob, body: Callable[[], None]) -> Callable[[], None]:
        def tick() -> None:
            self.run_periodic(job, body)

        tick.__name__ = job.name
        return tick

    def ticks(self) -> list[tuple[Callable[[], None], int]]:
        """(tick, interval in seconds). A periodic job's tick only asks whether it is due."""
        return [
            (self.dispatch, 1),
            (self.apply_call_events, 1),
            (self.follow_up_calls, FOLLOW_UP_SECONDS),
            (self.send_texts, 2),
            (self.deliver_events, 1),
            (self.reconcile, 15),
            (self.heartbeat, 5),
            (self.sample_ecbt, ECBT_SAMPLE_SECONDS),
            (self.taskrouter_figures, self.settings.taskrouter_poll_seconds),
            *(((self.simulated_agents, 1),) if self.demo_app and simulator_with_agents(self.demo_app) else ()),
            *((self._periodic_tick(job, body), PERIODIC_CHECK_SECONDS) for job, body in self.periodic_jobs()),
        ]

    def _overdue(self) -> None:
        """The stop took longer than WORKER_SHUTDOWN_SECONDS (a provider API hanging, a
        database gone away): exit anyway. Nothing is lost: a dial that went out is
        reconciled with the provider when its lease runs out, like a killed worker's."""
        log.error(
            "still stopping after %d s: exiting now; its unfinished dials are reconciled when their leases run out",
            self.settings.worker_shutdown_seconds,
        )
        logging.shutdown()
        os._exit(1)

    def run(self, once: bool = False) -> None:
        """Run the ticks. Any number of worker processes may share a database (leases keep
        them from dialing one callback twice), but one process runs one scheduler."""
        global _started_in_this_process
        if _started_in_this_process:
            raise SchedulerAlreadyRunning("a worker scheduler is already running in this process")
        _started_in_this_process = not once
        if once:
            self.dispatch_window = 0.0  # one pass, no waiting for what falls due later
            # Every periodic job runs now (and counts as its period's run for the other
            # workers), unless another worker's run of it holds the lease at this moment.
            self.force_periodic = True
            try:
                for tick, _ in self.ticks():
                    tick()
                self.events.wait_idle(2 * self.settings.event_timeout_seconds)
            finally:
                self.dialer.close()
                self.events.close()
            return
        # APScheduler logs every run of every tick at INFO (several lines a second); keep
        # its warnings and errors (a tick that raised), not the heartbeat.
        logging.getLogger("apscheduler.executors.default").setLevel(logging.WARNING)
        scheduler = BlockingScheduler(
            # A tick that runs late still runs (once): the default grace time would skip it silently.
            job_defaults={"misfire_grace_time": None, "coalesce": True, "max_instances": 1},
        )
        for tick, seconds in self.ticks():
            # The dispatch loop holds its job for as long as it runs: a second instance may
            # start (and returns at once) rather than be logged as skipped every second.
            instances = 2 if tick in (self.dispatch, self.deliver_events) else 1
            scheduler.add_job(
                self.guarded(tick),
                "interval",
                seconds=seconds,
                next_run_time=self.clock.now(),
                max_instances=instances,
            )

        def stop(signum: int, _frame: FrameType | None) -> None:
            if self.dialer.stopping.is_set():
                log.info("signal %d: already stopping", signum)
                return
            log.info(
                "signal %d: claiming nothing more, finishing the current dials, then stopping (within %d s)",
                signum,
                self.settings.worker_shutdown_seconds,
            )
            self.dialer.stopping.set()  # the dispatch loop, the placing of a batch and the ticks check it
            if self._wakeups is not None:
                self._wakeups.wake()  # the dispatch loop may be asleep
            watchdog = threading.Timer(self.settings.worker_shutdown_seconds, self._overdue)
            watchdog.daemon = True
            watchdog.start()
            scheduler.shutdown(wait=True)

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        metrics_server = None
        if self.settings.worker_metrics_port is not None:  # a worker-only machine's own /metrics
            metrics_server = WorkerMetricsServer(self.settings, self.db, self.clock, alive=self.alive)
            metrics_server.start()
        log.info("worker started as %s: %s", self.dialer.worker_id, ", ".join(t.__name__ for t, _ in self.ticks()))
        try:
            scheduler.start()
        finally:
            self.dialer.close()
            self.events.close()
            if self._wakeups is not None:
                self._wakeups.close()
            if metrics_server is not None:
                metrics_server.stop()
        log.info("worker stopped")

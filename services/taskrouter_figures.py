"""Live agent figures polled from Twilio TaskRouter: every TASKROUTER_POLL_SECONDS the
worker reads the real-time statistics of each queue that names a TaskRouter task queue
(``taskrouter_workspace_sid``, ``taskrouter_task_queue_sid``) and stores them as the
queue's figures (services/agent_figures.py), as a push to the agents API would.

Several workers on several hosts: once per cluster per poll, not once per worker. Each
worker asks every TASKROUTER_POLL_SECONDS; the run is claimed in ``job_run`` like the
periodic jobs (services/periodic.py, a conditional UPDATE: one claimant wins), so the
cluster makes one request per queue per poll however many workers there are. Should two
runs still overlap (a run slower than its lease, taken over by another worker), nothing
is wrong: ``report`` keeps the report measured last, and a repeated poll stores the same
figures again. No database transaction is open while TaskRouter is asked.

A queue whose poll fails (a ProviderError: the SIDs name nothing, the credentials are
wrong, Twilio is unreachable) is logged once, when it starts failing, and once more when
it works again; the other queues are polled all the same. Its last figures age out
(AGENT_FIGURES_MAX_AGE_SECONDS) and the queue falls back to its static staffing. A queue
naming TaskRouter on an installation without Twilio's credentials is logged once per
worker and keeps its static staffing: documents are accepted without it (they may be
imported before the credentials are set, as a queue's primary_provider may be).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Final

from sqlalchemy import select

from infra.clock import Clock
from infra.db import Database
from infra.models import Queue
from scheduler.agents import AgentFigures
from services import periodic
from services.agent_figures import report
from telephony.base import AgentFiguresSource, ProviderError

log = logging.getLogger(__name__)

SOURCE: Final = "twilio_taskrouter"  # in telephony/registry.py's FIGURE_SOURCES
JOB: Final = "taskrouter_figures"  # its row in job_run
# A run started this much less than a poll ago counts as this poll's: the workers' ticks
# come a few milliseconds late, and an exact period would skip every other poll.
CLAIM_SLACK: Final = timedelta(seconds=1)
MIN_LEASE: Final = timedelta(seconds=60)  # how long a run may take (10 s a request at most)


@dataclass(frozen=True)
class TaskRouterQueue:
    id: int
    key: str
    workspace_sid: str
    task_queue_sid: str
    average_handle_seconds: int


@dataclass
class TaskRouterPoller:
    db: Database
    clock: Clock
    source: Callable[[], AgentFiguresSource | None]  # the configured source, None without Twilio
    owner: str  # this worker's id, in the claim
    poll_seconds: int
    failing: dict[str, str] = field(default_factory=dict)  # queue key -> the failure logged
    unconfigured: set[str] = field(default_factory=set)  # queue keys logged as without Twilio

    @property
    def period(self) -> timedelta:
        return max(timedelta(seconds=self.poll_seconds) - CLAIM_SLACK, timedelta(0))

    @property
    def lease(self) -> timedelta:
        return max(MIN_LEASE, 2 * timedelta(seconds=self.poll_seconds))

    def tick(self, force: bool = False) -> int:
        """Poll every TaskRouter queue if this worker wins this poll's claim (``force``:
        whatever the last poll, ``worker --once``). Returns how many figures were stored."""
        queues = configured_queues(self.db)
        if not queues:
            return 0
        source = self.source()
        if source is None:
            self._without_twilio(queues)
            return 0
        now = self.clock.now()
        if not periodic.claim(self.db, JOB, self.owner, now, timedelta(0) if force else self.period, self.lease):
            return 0
        stored = self.poll(source, queues)
        periodic.finish(self.db, JOB, self.owner, self.clock.now())
        return stored

    def poll(self, source: AgentFiguresSource, queues: list[TaskRouterQueue]) -> int:
        """Ask TaskRouter for each queue's figures, then store those it gave in one transaction."""
        read: list[tuple[TaskRouterQueue, AgentFigures]] = []
        for queue in queues:
            try:
                figures = source.figures(
                    queue.workspace_sid,
                    queue.task_queue_sid,
                    now=self.clock.now(),
                    average_handle_seconds=queue.average_handle_seconds,
                )
            except ProviderError as error:
                self._failed(queue, error)
                continue
            read.append((queue, figures))
        if not read:
            return 0
        with self.db.write() as session:
            now = self.clock.now()
            for queue, figures in read:
                row = session.get(Queue, queue.id)
                if row is not None:  # not deleted meanwhile
                    report(session, row, figures, now)
        for queue, _ in read:
            if self.failing.pop(queue.key, None) is not None:
                log.info("queue %s: TaskRouter figures read again", queue.key)
        return len(read)

    def _failed(self, queue: TaskRouterQueue, error: ProviderError) -> None:
        if queue.key in self.failing:
            return
        self.failing[queue.key] = error.message
        log.warning(
            "queue %s: cannot read TaskRouter task queue %s (%s): its static staffing counts once its"
            " last figures are too old; logged again when it works",
            queue.key,
            queue.task_queue_sid,
            error.message,
        )

    def _without_twilio(self, queues: list[TaskRouterQueue]) -> None:
        for queue in queues:
            if queue.key not in self.unconfigured:
                self.unconfigured.add(queue.key)
                log.warning(
                    "queue %s names a TaskRouter task queue but Twilio is not configured (TWILIO_ACCOUNT_SID,"
                    " TWILIO_AUTH_TOKEN): its static staffing counts",
                    queue.key,
                )


def configured_queues(db: Database) -> list[TaskRouterQueue]:
    with db.read() as session:
        rows = session.execute(
            select(
                Queue.id,
                Queue.key,
                Queue.taskrouter_workspace_sid,
                Queue.taskrouter_task_queue_sid,
                Queue.average_handle_seconds,
            )
            .where(Queue.taskrouter_workspace_sid.is_not(None), Queue.taskrouter_task_queue_sid.is_not(None))
            .order_by(Queue.key)
        ).all()
    return [
        TaskRouterQueue(queue_id, key, workspace, task_queue, handle)
        for queue_id, key, workspace, task_queue, handle in rows
        if workspace is not None and task_queue is not None  # as the WHERE says
    ]

"""Agent-first through Twilio TaskRouter: the agent is reserved, and accepts, before the
customer is rung.

A queue with ``dial_mode: agent_first`` and a ``taskrouter_workflow_sid`` (and its
workspace) has its due callbacks claimed like any other; its claim's agent target is the
workflow (``taskrouter:WS…/WW…``), and the dialer, instead of ringing a number, creates a
voice task in that workflow (``create_task``) carrying the attempt's signed token. When
TaskRouter reserves a worker, it posts the workflow's assignment callback
(``/webhooks/twilio/taskrouter/assignment``); ``answer_assignment`` answers with a
``call`` instruction: Twilio rings the worker and accepts the reservation when they
answer, and our answer URL offers them the callback (press 1 to take it,
ivr_flows/callback_script.agent_offer); then the customer is rung and bridged, as on any
agent-first call. The call's end comes to the attempt's event URL, like any call's.

After the attempt ended, the workers' follow-up tick (every 5 s) closes its task (``close_tasks``):
completed when the agent took it, cancelled otherwise, so that nobody else is reserved for
a callback already dealt with. A task nobody took within ``TASK_TIMEOUT_SECONDS`` is
cancelled by TaskRouter; the lease reconciliation (services/dialer/reconcile.py) then
finds it closed with no call and ends the attempt as ``agent_unavailable`` (retried soon).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from infra.clock import Clock
from infra.db import Database
from infra.models import Attempt, Callback, Queue
from infra.settings import Settings
from scheduler.dialing import CALL_WATCH
from scheduler.lifecycle import ON_CALL_STATES
from services.dialer.urls import WebhookUrls
from telephony.base import AgentReservations, ProviderError, TaskAssignment
from telephony.registry import Providers

log = logging.getLogger(__name__)

TARGET_PREFIX: Final = "taskrouter:"
TASK_ATTEMPT_KEY: Final = "callback_attempt"  # the task attribute naming our attempt (its signed token)
TASK_TIMEOUT_SECONDS: Final = 120  # a task no worker took by then is cancelled by TaskRouter
CLOSE_BATCH: Final = 50


@dataclass(frozen=True)
class Workflow:
    workspace_sid: str
    workflow_sid: str


def target(workspace_sid: str, workflow_sid: str) -> str:
    """A claim's agent target naming a TaskRouter workflow (services/dialer/claims.py)."""
    return f"{TARGET_PREFIX}{workspace_sid}/{workflow_sid}"


def workflow_of(agent_target: str | None) -> Workflow | None:
    """The workflow an agent target names, or None for a number or SIP address."""
    if agent_target is None or not agent_target.startswith(TARGET_PREFIX):
        return None
    workspace, _, workflow = agent_target.removeprefix(TARGET_PREFIX).partition("/")
    return Workflow(workspace, workflow)


def router(providers: Providers, provider: str) -> AgentReservations:
    """The provider's agent reservations (TaskRouter on Twilio's client); ProviderError
    when the provider has none here."""
    found = providers.reservations(provider)
    if found is None:
        raise ProviderError(
            f"TaskRouter reservations need the Twilio provider (set up), not {provider!r}", code="no_taskrouter"
        )
    return found


def create_task(
    providers: Providers,
    provider: str,
    workflow: Workflow,
    urls: WebhookUrls,
    attempt_id: int,
    ref: str | None,
    in_line_since: datetime | None = None,
) -> str:
    """The task that reserves an agent for this attempt; returns its SID. ``in_line_since``:
    the callback's place in the ACD's line (Claim.in_line_since), the task's age."""
    attributes: dict[str, Any] = {"type": "callback", TASK_ATTEMPT_KEY: urls.token(attempt_id)}
    if ref:
        attributes["callback_ref"] = ref
    return router(providers, provider).create_task(
        workflow.workspace_sid, workflow.workflow_sid, attributes, TASK_TIMEOUT_SECONDS, in_line_since
    )


def answer_assignment(
    session: Session,
    reservations: AgentReservations,
    assignment: TaskAssignment,
    urls: WebhookUrls,
    settings: Settings,
    now: datetime,
) -> dict[str, Any]:
    """What TaskRouter does with a worker reserved for one of our tasks: ring them (the
    ``call`` instruction), or reject it when the task is not an attempt still on its call."""
    token = assignment.attributes.get(TASK_ATTEMPT_KEY)
    try:
        attempt_id = urls.attempt_id(token if isinstance(token, str) else "")
    except LookupError:
        return reservations.reject()
    attempt = session.get(Attempt, attempt_id, with_for_update=True)
    if attempt is None or attempt.task_sid != assignment.task_sid or attempt.outcome is not None:
        return reservations.reject()
    callback = session.get_one(Callback, attempt.callback_id, with_for_update=True)
    if callback.state not in ON_CALL_STATES:
        return reservations.reject()
    callback.lease_until = now + CALL_WATCH  # a worker's phone is ringing: news will come
    log.info(
        "callback %s: TaskRouter reserved worker %s (task %s): ringing them",
        callback.ref,
        assignment.worker_sid,
        assignment.task_sid,
        extra={"callback": callback.ref, "attempt": attempt.id, "provider": attempt.provider},
    )
    return reservations.ring_worker(
        urls.answer(attempt.provider, attempt.id),
        urls.event(attempt.provider, attempt.id),
        callback.queue.caller_id or settings.caller_id,
    )


def close_tasks(db: Database, providers: Providers, clock: Clock) -> int:
    """Close the tasks of ended attempts (outside any transaction); returns how many were
    closed. A task TaskRouter had closed already (cancelled on its timeout, say) is refused
    with a 4xx: closed all the same. One it could not reach is tried again next tick."""
    with db.read() as session:
        rows = session.execute(
            select(Attempt.id, Attempt.task_sid, Attempt.provider, Attempt.outcome, Attempt.agent_answered_at,
                   Queue.taskrouter_workspace_sid)
            .join(Callback, Callback.id == Attempt.callback_id)
            .join(Queue, Queue.id == Callback.queue_id)
            .where(Attempt.task_sid.is_not(None), Attempt.outcome.is_not(None), Attempt.task_closed_at.is_(None))
            .order_by(Attempt.id)
            .limit(CLOSE_BATCH)
        ).all()  # fmt: skip
    closed = 0
    for attempt_id, task_sid, provider, outcome, taken_at, workspace in rows:
        assert task_sid is not None
        try:
            if workspace is None:
                raise ProviderError("the queue no longer names its TaskRouter workspace", permanent=True)
            router(providers, provider).close_task(
                workspace, task_sid, completed=taken_at is not None, reason=f"callback attempt ended: {outcome}"
            )
        except ProviderError as error:
            if _passing(error):
                log.warning("task %s of attempt %s not closed yet: %s", task_sid, attempt_id, error.message)
                continue
            log.info("task %s of attempt %s was closed already: %s", task_sid, attempt_id, error.message)
        with db.write() as session:
            session.execute(update(Attempt).where(Attempt.id == attempt_id).values(task_closed_at=clock.now()))
        closed += 1
    return closed


# Failures that say nothing about the task: try again. Any other refusal by Twilio (a task
# already completed or cancelled, one that no longer exists) means it needs no closing.
PASSING_CODES: Final = frozenset({"auth", "connection", "timeout", "transport", "sdk", "unexpected", "20429"})


def _passing(error: ProviderError) -> bool:
    code = error.code or ""
    return error.uncertain or code in PASSING_CODES or code.startswith("5") or code.startswith("205")


def task_still_open(providers: Providers, provider: str, workspace_sid: str | None, task_sid: str) -> bool:
    """For the lease reconciliation: whether the task may still reserve, or has, a worker."""
    if workspace_sid is None:
        return False
    return router(providers, provider).task_open(workspace_sid, task_sid)

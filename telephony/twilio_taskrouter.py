"""Twilio TaskRouter as a source of live agent figures: a task queue's real-time
statistics, read through the official ``twilio`` SDK on the Twilio adapter's own client
(same credentials, timeout and ``http_client``).

One request per queue and poll: ``GET /v1/Workspaces/{WS}/TaskQueues/{WQ}/RealTimeStatistics``
for the voice channel. What it gives, and what we make of it (Twilio's spec,
twilio_taskrouter_v1.json):

- signed in: ``total_eligible_workers`` (the queue's workers whatever their activity)
  less those in an offline activity (``activity_statistics``, by name: ``Offline``, the
  one offline activity of every new workspace);
- available: ``total_available_workers`` (workers in an activity marked available),
  never more than signed in;
- longest wait: ``longest_task_waiting_age`` in seconds;
- callers waiting: the tasks ``pending`` and ``reserved`` in ``tasks_by_status`` (waiting
  for a worker, or offered to one and not yet accepted).

TaskRouter reports no handle time: its cumulative statistics have the wait until a task is
accepted (``avg_task_acceptance_time``, ``wait_duration_until_accepted``), which is time
in the queue, not time with an agent. So the figures carry the queue's own static
``average_handle_seconds``, and the cumulative statistics are not fetched.

Also agent-first reservations (services/dialer/reservations.py): a callback's attempt is a
task (``POST /v1/Workspaces/{WS}/Tasks`` in the queue's workflow, voice channel) that
TaskRouter reserves for a worker; the workflow's assignment callback answers with a
``call`` instruction (``assignment_instruction``) so that Twilio rings the worker, who
accepts by answering and taking it (press 1) before the customer is rung. Once the attempt
ended, the task is completed (accepted) or cancelled (``POST /v1/Workspaces/{WS}/Tasks/{WT}``).

No SDK exception or SDK object leaves this module: failures become ``ProviderError`` as in
the adapter (telephony/twilio_adapter.py).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from twilio.base import values
from twilio.rest import Client

from scheduler.agents import MAX_AGENTS, MAX_CALLERS, MAX_SECONDS, AgentFigures
from scheduler.errors import ValidationFailed
from telephony.base import ProviderError, TaskAssignment
from telephony.twilio_adapter import TwilioTelephony, _cause, _provider_error

if TYPE_CHECKING:
    from telephony.base import AgentFiguresSource, AgentReservations

SOURCE: Final = "twilio_taskrouter"
TASK_CHANNEL: Final = "voice"  # callbacks are calls: the workers with voice capacity
OFFLINE_ACTIVITIES: Final = frozenset({"offline"})  # activity names, compared case-insensitively

OPEN_TASK_STATES: Final = frozenset({"pending", "reserved", "assigned", "wrapping"})
WORKER_CALL_TIMEOUT_SECONDS: Final = 30  # how long Twilio rings the reserved worker

# The real-time statistics fields read (the SDK instance's attributes, the API's JSON keys).
FIELDS: Final = (
    "total_eligible_workers",
    "total_available_workers",
    "activity_statistics",
    "longest_task_waiting_age",
    "tasks_by_status",
)
# The tasks waiting for a worker: not yet offered (pending) or offered, not accepted (reserved).
WAITING_TASK_STATES: Final = ("pending", "reserved")


def figures_from_statistics(
    statistics: Mapping[str, Any], *, now: datetime, average_handle_seconds: int
) -> AgentFigures:
    """A task queue's real-time statistics as agent figures. Pure. A statistics answer
    without the worker counts, or with counts that are not numbers, raises ValueError."""
    eligible = _count(statistics.get("total_eligible_workers"), "total_eligible_workers")
    available = _count(statistics.get("total_available_workers"), "total_available_workers")
    offline = sum(
        _count(activity.get("workers"), "activity_statistics.workers")
        for activity in _activities(statistics.get("activity_statistics"))
        if str(activity.get("friendly_name") or "").strip().casefold() in OFFLINE_ACTIVITIES
    )
    signed_in = min(max(eligible - offline, 0), MAX_AGENTS)
    waiting = statistics.get("longest_task_waiting_age")
    return AgentFigures(
        signed_in=signed_in,
        available=min(available, signed_in),
        average_handle_seconds=min(max(average_handle_seconds, 1), MAX_SECONDS),
        longest_wait_seconds=None if waiting is None else min(_count(waiting, "longest_task_waiting_age"), MAX_SECONDS),
        reported_at=now,
        source=SOURCE,
        callers_waiting=_waiting_tasks(statistics.get("tasks_by_status")),
    )


def _waiting_tasks(by_status: object) -> int | None:
    """The tasks waiting for a worker (``tasks_by_status``: counts by status, which Twilio
    sends as strings); None when the answer has no such counts."""
    if by_status is None:
        return None
    if not isinstance(by_status, Mapping):
        raise ValueError(f"tasks_by_status is not counts by status: {by_status!r}")
    total = sum(_count(by_status.get(status, 0), f"tasks_by_status.{status}") for status in WAITING_TASK_STATES)
    return min(total, MAX_CALLERS)


def _count(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise ValueError(f"{name} is not a whole number: {value!r}")
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} is not a whole number: {value!r}") from None
    return max(number, 0)


def _activities(value: object) -> Sequence[Mapping[str, Any]]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, Mapping) for item in value):
        raise ValueError(f"activity_statistics is not a list of activities: {value!r}")
    return value


def parse_assignment(form: Mapping[str, str]) -> TaskAssignment:
    """The assignment callback's fields; ValueError when it is not one."""
    missing = [name for name in ("TaskSid", "ReservationSid", "WorkerSid") if not form.get(name)]
    if missing:
        raise ValueError(f"not a TaskRouter assignment: no {', '.join(missing)}")
    try:
        attributes = json.loads(form.get("TaskAttributes") or "{}")
    except ValueError:
        raise ValueError("the task's attributes are not JSON") from None
    if not isinstance(attributes, dict):
        raise ValueError("the task's attributes are not a JSON object")
    return TaskAssignment(form["TaskSid"], form["ReservationSid"], form["WorkerSid"], attributes)


def assignment_instruction(answer_url: str, status_url: str, caller_id: str) -> dict[str, Any]:
    """The answer to an assignment of one of our tasks: Twilio rings the worker (their
    ``contact_uri``) from ``caller_id``, accepts the reservation when they answer, and asks
    ``answer_url`` what they hear (the callback offered them: press 1 to take it); the
    call's end is reported to ``status_url``."""
    return {
        "instruction": "call",
        "from": caller_id,
        "url": answer_url,
        "status_callback_url": status_url,
        "accept": True,
        "timeout": WORKER_CALL_TIMEOUT_SECONDS,
    }


REJECT: Final = {"instruction": "reject"}  # a task whose callback is no longer ours to ring


class TwilioTaskRouter:
    """Reads TaskRouter task queues' real-time statistics, and makes and closes the tasks
    that reserve agents, with the Twilio adapter's client."""

    name = SOURCE

    def __init__(self, client: Client) -> None:
        self._client = client

    def figures(
        self, workspace_sid: str, task_queue_sid: str, *, now: datetime, average_handle_seconds: int
    ) -> AgentFigures:
        try:
            statistics = (
                self._client.taskrouter.v1.workspaces(workspace_sid)
                .task_queues(task_queue_sid)
                .real_time_statistics()
                .fetch(task_channel=TASK_CHANNEL)
            )
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        try:
            return figures_from_statistics(
                {name: getattr(statistics, name, None) for name in FIELDS},
                now=now,
                average_handle_seconds=average_handle_seconds,
            )
        except (ValueError, ValidationFailed) as exc:
            raise ProviderError(
                f"TaskRouter answered statistics that cannot be read: {exc}", code="unexpected_response"
            ) from exc

    def create_task(
        self,
        workspace_sid: str,
        workflow_sid: str,
        attributes: Mapping[str, Any],
        timeout_seconds: int,
        in_line_since: datetime | None = None,
    ) -> str:
        """A voice task in ``workflow_sid``; returns its SID (WT…). ``in_line_since`` is its
        ``VirtualStartTime``: TaskRouter ranks tasks of a priority by their age from it, so
        the callback's task goes before the callers who came after its caller."""
        try:
            task = self._client.taskrouter.v1.workspaces(workspace_sid).tasks.create(
                workflow_sid=workflow_sid,
                task_channel=TASK_CHANNEL,
                attributes=json.dumps(dict(attributes)),
                timeout=timeout_seconds,
                # The SDK writes the time as given with a "Z": it must be UTC already.
                virtual_start_time=in_line_since.astimezone(UTC) if in_line_since is not None else values.unset,
            )
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        return str(task.sid)

    def task_open(self, workspace_sid: str, task_sid: str) -> bool:
        """Whether the task's assignment status is pending, reserved, assigned or wrapping
        (not completed or canceled)."""
        try:
            task = self._client.taskrouter.v1.workspaces(workspace_sid).tasks(task_sid).fetch()
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        return str(task.assignment_status) in OPEN_TASK_STATES

    def parse_assignment(self, form: Mapping[str, str]) -> TaskAssignment:
        return parse_assignment(form)

    def ring_worker(self, answer_url: str, status_url: str, caller_id: str) -> dict[str, Any]:
        return assignment_instruction(answer_url, status_url, caller_id)

    def reject(self) -> dict[str, Any]:
        return dict(REJECT)

    def close_task(self, workspace_sid: str, task_sid: str, *, completed: bool, reason: str) -> None:
        """Complete a task its worker took, or cancel one nobody took, with ``reason``."""
        try:
            self._client.taskrouter.v1.workspaces(workspace_sid).tasks(task_sid).update(
                assignment_status="completed" if completed else "canceled", reason=reason[:200]
            )
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)


def configure(adapter: object) -> TwilioTaskRouter | None:
    """The source on the configured Twilio adapter (telephony/registry.py, FIGURE_SOURCES)."""
    return TwilioTaskRouter(adapter.rest_client) if isinstance(adapter, TwilioTelephony) else None


if TYPE_CHECKING:

    def _conforms(source: TwilioTaskRouter) -> AgentFiguresSource:
        """Lets mypy check the source against the Protocol."""
        return source

    def _reserves(reservations: TwilioTaskRouter) -> AgentReservations:
        """Lets mypy check the reservations against theirs."""
        return reservations

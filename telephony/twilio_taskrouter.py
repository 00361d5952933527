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
- longest wait: ``longest_task_waiting_age`` in seconds.

TaskRouter reports no handle time: its cumulative statistics have the wait until a task is
accepted (``avg_task_acceptance_time``, ``wait_duration_until_accepted``), which is time
in the queue, not time with an agent. So the figures carry the queue's own static
``average_handle_seconds``, and the cumulative statistics are not fetched.

No SDK exception or SDK object leaves this module: failures become ``ProviderError`` as in
the adapter (telephony/twilio_adapter.py).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from twilio.rest import Client

from scheduler.agents import MAX_AGENTS, MAX_SECONDS, AgentFigures
from scheduler.errors import ValidationFailed
from telephony.base import ProviderError
from telephony.twilio_adapter import TwilioTelephony, _cause, _provider_error

if TYPE_CHECKING:
    from telephony.base import AgentFiguresSource

SOURCE: Final = "twilio_taskrouter"
TASK_CHANNEL: Final = "voice"  # callbacks are calls: the workers with voice capacity
OFFLINE_ACTIVITIES: Final = frozenset({"offline"})  # activity names, compared case-insensitively

# The real-time statistics fields read (the SDK instance's attributes, the API's JSON keys).
FIELDS: Final = ("total_eligible_workers", "total_available_workers", "activity_statistics", "longest_task_waiting_age")


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
    )


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


class TwilioTaskRouter:
    """Reads TaskRouter task queues' real-time statistics with the Twilio adapter's client."""

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


def configure(adapter: object) -> TwilioTaskRouter | None:
    """The source on the configured Twilio adapter (telephony/registry.py, FIGURE_SOURCES)."""
    return TwilioTaskRouter(adapter.rest_client) if isinstance(adapter, TwilioTelephony) else None


if TYPE_CHECKING:

    def _conforms(source: TwilioTaskRouter) -> AgentFiguresSource:
        """Lets mypy check the source against the Protocol."""
        return source

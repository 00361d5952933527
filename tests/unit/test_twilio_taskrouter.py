"""TaskRouter's real-time statistics as live agent figures (telephony/twilio_taskrouter.py):
the pure parsing, and the real SDK's request and error mapping at its HTTP boundary."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import requests

from scheduler.agents import MAX_SECONDS, AgentFigures
from telephony.base import ProviderError
from telephony.twilio_adapter import TwilioTelephony
from telephony.twilio_taskrouter import TwilioTaskRouter, configure, figures_from_statistics
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
WORKSPACE = "WS" + "0123456789abcdef" * 2
TASK_QUEUE = "WQ" + "fedcba9876543210" * 2


def statistics(**changes: Any) -> dict[str, Any]:
    """A task queue's real-time statistics as TaskRouter answers them (its spec's shape)."""
    payload: dict[str, Any] = {
        "account_sid": ACCOUNT_SID,
        "workspace_sid": WORKSPACE,
        "task_queue_sid": TASK_QUEUE,
        "total_eligible_workers": 12,
        "total_available_workers": 3,
        "activity_statistics": [
            {"friendly_name": "Available", "workers": 3, "sid": "WA" + "1" * 32},
            {"friendly_name": "Unavailable", "workers": 5, "sid": "WA" + "2" * 32},
            {"friendly_name": "Offline", "workers": 4, "sid": "WA" + "3" * 32},
        ],
        "longest_task_waiting_age": 95,
        "longest_task_waiting_sid": "WT" + "4" * 32,
        "tasks_by_status": {"pending": 2, "reserved": 0, "assigned": 8, "wrapping": 1},
        "total_tasks": 11,
        "url": f"https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE}/TaskQueues/{TASK_QUEUE}/RealTimeStatistics",
    }
    payload.update(changes)
    return payload


def parsed(**changes: Any) -> AgentFigures:
    return figures_from_statistics(statistics(**changes), now=NOW, average_handle_seconds=300)


def test_signed_in_is_the_eligible_workers_not_offline_and_available_those_free() -> None:
    assert parsed() == AgentFigures(
        signed_in=8,  # 12 eligible, 4 offline
        available=3,
        average_handle_seconds=300,  # TaskRouter has no handle time: the queue's own
        longest_wait_seconds=95,
        reported_at=NOW,
        source="twilio_taskrouter",
        callers_waiting=2,  # pending 2 + reserved 0: assigned and wrapping tasks are with agents
    )


def test_callers_waiting_are_the_pending_and_reserved_tasks_sent_as_numbers_or_strings() -> None:
    assert parsed(tasks_by_status={"pending": "4", "reserved": "3", "assigned": "2"}).callers_waiting == 7
    assert parsed(tasks_by_status={"assigned": 5}).callers_waiting == 0
    assert parsed(tasks_by_status={}).callers_waiting == 0
    assert parsed(tasks_by_status=None).callers_waiting is None  # not reported: the static figure counts


def test_offline_is_found_by_name_whatever_its_case_and_other_activities_count_as_signed_in() -> None:
    activities = [{"friendly_name": " OFFLINE ", "workers": 2}, {"friendly_name": "Break", "workers": 6}]
    assert parsed(activity_statistics=activities).signed_in == 10
    assert parsed(activity_statistics=[]).signed_in == 12
    assert parsed(activity_statistics=None).signed_in == 12


def test_the_counts_are_kept_consistent() -> None:
    # available workers are never more than those signed in, nor anything below zero
    assert (parsed(total_available_workers=20).available, parsed(total_available_workers=20).signed_in) == (8, 8)
    assert parsed(activity_statistics=[{"friendly_name": "Offline", "workers": 30}]).signed_in == 0
    assert parsed(total_available_workers=-1).available == 0
    assert parsed(longest_task_waiting_age=None).longest_wait_seconds is None
    assert parsed(longest_task_waiting_age=10**9).longest_wait_seconds == MAX_SECONDS
    assert figures_from_statistics(statistics(), now=NOW, average_handle_seconds=0).average_handle_seconds == 1


@pytest.mark.parametrize(
    "changes",
    [
        {"total_eligible_workers": None},
        {"total_available_workers": "many"},
        {"total_eligible_workers": True},
        {"activity_statistics": "Offline"},
        {"activity_statistics": [{"friendly_name": "Offline", "workers": None}]},
        {"tasks_by_status": [1, 2]},
        {"tasks_by_status": {"pending": "some"}},
    ],
)
def test_statistics_that_cannot_be_read_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        parsed(**changes)


def source(*outcomes: Any) -> tuple[TwilioTaskRouter, FakeTwilioHttp]:
    http = FakeTwilioHttp(*outcomes)
    found = configure(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    assert found is not None
    return found, http


def test_the_source_reads_the_voice_channel_of_the_task_queue_with_the_adapters_credentials() -> None:
    router, http = source(json_response(200, statistics()))

    figures = router.figures(WORKSPACE, TASK_QUEUE, now=NOW, average_handle_seconds=240)

    request = http.only_request
    assert request.method == "GET"
    assert request.url == (
        f"https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE}/TaskQueues/{TASK_QUEUE}"
        "/RealTimeStatistics?TaskChannel=voice"
    )
    assert request.auth == (ACCOUNT_SID, AUTH_TOKEN)
    assert (figures.signed_in, figures.available, figures.average_handle_seconds) == (8, 3, 240)


def test_failures_are_provider_errors() -> None:
    not_found = json_response(404, {"code": 20404, "message": "The requested resource was not found", "status": 404})
    router, _ = source(
        not_found,
        requests.exceptions.ConnectionError("refused"),
        json_response(200, statistics(total_eligible_workers=None)),
    )
    with pytest.raises(ProviderError) as missing:
        router.figures(WORKSPACE, TASK_QUEUE, now=NOW, average_handle_seconds=240)
    assert missing.value.code == "20404"
    with pytest.raises(ProviderError) as unreachable:
        router.figures(WORKSPACE, TASK_QUEUE, now=NOW, average_handle_seconds=240)
    assert unreachable.value.code == "connection"
    with pytest.raises(ProviderError) as unreadable:
        router.figures(WORKSPACE, TASK_QUEUE, now=NOW, average_handle_seconds=240)
    assert unreadable.value.code == "unexpected_response"


def test_only_a_twilio_adapter_gives_a_taskrouter_source() -> None:
    assert configure(object()) is None

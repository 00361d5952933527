"""The TaskRouter figures source (telephony/twilio_taskrouter.py) + the real ``twilio`` SDK
against Prism serving Twilio's TaskRouter v1 spec (``--errors``: a request the spec does
not allow is a 4xx, raised as ProviderError). The poll's request conforms, the figures
are read from the spec's example answer, and a broken request does fail."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit
from zoneinfo import ZoneInfo

import pytest
import requests

from telephony.base import ProviderError
from telephony.twilio_adapter import TwilioTelephony
from telephony.twilio_taskrouter import TwilioTaskRouter, configure
from tests.contract.conftest import (
    TWILIO_ACCOUNT_SID,
    TWILIO_AUTH_TOKEN,
    PrismTwilioHttp,
    RefusedDestination,
)

pytestmark = pytest.mark.contract

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
WORKSPACE = "WS" + "0123456789abcdef" * 2
TASK_QUEUE = "WQ" + "fedcba9876543210" * 2
STATISTICS = f"/v1/Workspaces/{WORKSPACE}/TaskQueues/{TASK_QUEUE}/RealTimeStatistics"


@pytest.fixture
def taskrouter(taskrouter_http: PrismTwilioHttp) -> TwilioTaskRouter:
    source = configure(TwilioTelephony(TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN, http_client=taskrouter_http))
    assert source is not None
    return source


def test_the_poll_conforms_and_the_figures_are_read_from_the_answer(
    taskrouter: TwilioTaskRouter, taskrouter_http: PrismTwilioHttp
) -> None:
    figures = taskrouter.figures(WORKSPACE, TASK_QUEUE, now=NOW, average_handle_seconds=240)

    exchange = taskrouter_http.traffic.only
    assert exchange.status == 200, f"Prism refused {exchange.method} {exchange.url}: {exchange.response_text}"
    assert exchange.violations() is None, exchange.violations()
    assert (exchange.header("Authorization") or "").startswith("Basic ")
    assert (exchange.method, urlsplit(exchange.url).path) == ("GET", STATISTICS)
    assert parse_qsl(urlsplit(exchange.url).query) == [("TaskChannel", "voice")]
    assert not taskrouter_http.traffic.refused
    # Prism answers the spec's example: 100 eligible, 6 of them "Offline", 100 available.
    answer = json.loads(exchange.response_text)
    offline = sum(a["workers"] for a in answer["activity_statistics"] if a["friendly_name"] == "Offline")
    signed_in = answer["total_eligible_workers"] - offline
    assert (figures.signed_in, figures.available) == (signed_in, min(answer["total_available_workers"], signed_in))
    assert figures.longest_wait_seconds == answer["longest_task_waiting_age"]
    by_status = answer["tasks_by_status"]
    assert figures.callers_waiting == int(by_status["pending"]) + int(by_status["reserved"])
    assert (figures.average_handle_seconds, figures.reported_at, figures.source) == (240, NOW, "twilio_taskrouter")
    assert offline > 0 and figures.signed_in < answer["total_eligible_workers"]  # the example tests the rule


# --- negative controls: the same path must be able to fail -----------------------------------


def test_a_malformed_task_queue_sid_is_refused(taskrouter: TwilioTaskRouter, taskrouter_http: PrismTwilioHttp) -> None:
    with pytest.raises(ProviderError) as raised:
        taskrouter.figures(WORKSPACE, "WQ-not-a-task-queue", now=NOW, average_handle_seconds=240)

    exchange = taskrouter_http.traffic.only
    assert 400 <= exchange.status < 500, exchange.response_text
    assert raised.value.code == str(exchange.status)


def test_a_request_without_credentials_is_refused(
    taskrouter: TwilioTaskRouter, taskrouter_http: PrismTwilioHttp, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tampered on its way out: the Authorization header removed, as a broken client would send it."""
    send = taskrouter_http.session.send

    def without_auth(prepared: requests.PreparedRequest, **kwargs: object) -> requests.Response:
        del prepared.headers["Authorization"]
        return send(prepared, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(taskrouter_http.session, "send", without_auth)
    with pytest.raises(ProviderError) as raised:
        taskrouter.figures(WORKSPACE, TASK_QUEUE, now=NOW, average_handle_seconds=240)

    assert taskrouter_http.traffic.only.status == 401
    assert raised.value.code == "auth"


def test_the_poll_client_talks_to_taskrouter_only(taskrouter_http: PrismTwilioHttp) -> None:
    with pytest.raises(RefusedDestination):
        taskrouter_http.request("GET", "https://api.twilio.com/2010-04-01/Accounts.json")
    with pytest.raises(RefusedDestination):
        taskrouter_http.request("GET", "https://taskrouter.twilio.com.example.net/v1/Workspaces")
    assert taskrouter_http.traffic.exchanges == []


# --- agent-first reservations: the task that reserves an agent ------------------------------

WORKFLOW = "WW" + "00112233445566778899aabbccddeeff"
TASK = "WT" + "ffeeddccbbaa99887766554433221100"
TASKS = f"/v1/Workspaces/{WORKSPACE}/Tasks"


def test_a_reservation_task_is_created_as_the_spec_allows(
    taskrouter: TwilioTaskRouter, taskrouter_http: PrismTwilioHttp
) -> None:
    in_line = datetime(2027, 1, 4, 11, 58, 30, tzinfo=ZoneInfo("Europe/Paris"))  # 10:58:30 UTC
    sid = taskrouter.create_task(
        WORKSPACE, WORKFLOW, {"type": "callback", "callback_attempt": "7.sig"}, 120, in_line_since=in_line
    )

    exchange = taskrouter_http.traffic.only
    assert exchange.status == 201, f"Prism refused {exchange.method} {exchange.url}: {exchange.response_text}"
    assert exchange.violations() is None, exchange.violations()
    assert (exchange.method, urlsplit(exchange.url).path) == ("POST", TASKS)
    sent = dict(parse_qsl(exchange.body.decode()))
    assert (sent["WorkflowSid"], sent["TaskChannel"], sent["Timeout"]) == (WORKFLOW, "voice", "120")
    assert sent["VirtualStartTime"] == "2027-01-04T10:58:30Z"  # in UTC, whatever the zone given
    assert json.loads(sent["Attributes"]) == {"type": "callback", "callback_attempt": "7.sig"}
    assert sid == json.loads(exchange.response_text)["sid"]


def test_a_task_is_read_and_closed_as_the_spec_allows(
    taskrouter: TwilioTaskRouter, taskrouter_http: PrismTwilioHttp
) -> None:
    is_open = taskrouter.task_open(WORKSPACE, TASK)
    taskrouter.close_task(WORKSPACE, TASK, completed=True, reason="callback attempt ended: connected")
    taskrouter.close_task(WORKSPACE, TASK, completed=False, reason="callback attempt ended: no_answer")

    fetched, completed, cancelled = taskrouter_http.traffic.exchanges
    for exchange in (fetched, completed, cancelled):
        assert exchange.status == 200, f"Prism refused {exchange.method} {exchange.url}: {exchange.response_text}"
        assert exchange.violations() is None, exchange.violations()
        assert urlsplit(exchange.url).path == f"{TASKS}/{TASK}"
    status = json.loads(fetched.response_text)["assignment_status"]
    assert is_open == (status in ("pending", "reserved", "assigned", "wrapping"))
    assert dict(parse_qsl(completed.body.decode()))["AssignmentStatus"] == "completed"
    assert dict(parse_qsl(cancelled.body.decode())) == {
        "AssignmentStatus": "canceled",
        "Reason": "callback attempt ended: no_answer",
    }


def test_a_task_in_a_malformed_workflow_is_refused(
    taskrouter: TwilioTaskRouter, taskrouter_http: PrismTwilioHttp
) -> None:
    with pytest.raises(ProviderError) as raised:
        taskrouter.create_task(WORKSPACE, "WW-not-a-workflow", {"type": "callback"}, 120)

    exchange = taskrouter_http.traffic.only
    assert 400 <= exchange.status < 500, exchange.response_text
    assert raised.value.code == str(exchange.status)

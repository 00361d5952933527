"""Agent-first through Twilio TaskRouter (services/dialer/reservations.py), through the real
Twilio adapter and SDK, caught at its HTTP boundary: the dialer makes a task instead of
ringing anyone; TaskRouter's assignment callback (signed like every Twilio webhook) gets a
``call`` instruction; the worker Twilio rings hears the callback offered and takes it (1);
only then is the customer rung. The task is completed once the call ended, cancelled when
nobody took it, and a task nobody took before its timeout ends the attempt as
agent_unavailable (retried soon)."""

from __future__ import annotations

import json
from datetime import UTC, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback
from scheduler.dialing import CALL_WATCH
from services.dialer.dialer import Dialer
from services.dialer.reservations import close_tasks
from telephony.twilio_adapter import TwilioTelephony
from tests.integration.helpers import apply_call_events, book
from tests.integration.test_dialer_twilio import post_signed, twiml
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response, twilio_error

WORKSPACE = "WS" + "c" * 32
WORKFLOW = "WW" + "d" * 32
TASK_SID = "WT" + "b" * 32
CALL_SID = "CA" + "e" * 32
AGENT_LINE = "+442079460000"


def task_payload(**changes: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "sid": TASK_SID,
        "account_sid": ACCOUNT_SID,
        "workspace_sid": WORKSPACE,
        "workflow_sid": WORKFLOW,
        "assignment_status": "pending",
        "attributes": "{}",
        "task_channel_unique_name": "voice",
        "timeout": 120,
    }
    payload.update(changes)
    return payload


@pytest.fixture
def twilio_http(app: Flask) -> FakeTwilioHttp:
    http = FakeTwilioHttp(json_response(201, task_payload()))
    app.extensions["providers"].register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    return http


@pytest.fixture
def reserving_queue(make_queue):  # type: ignore[no-untyped-def]
    return make_queue(
        estimated_wait_seconds=0,
        primary_provider="twilio",
        dial_mode="agent_first",
        taskrouter_workspace_sid=WORKSPACE,
        taskrouter_workflow_sid=WORKFLOW,
    )


def only_attempt(db: Database) -> Attempt:
    with db.read() as session:
        return session.scalars(select(Attempt)).one()


def state_of(db: Database, ref: str) -> str:
    with db.read() as session:
        return session.scalars(select(Callback.state).where(Callback.ref == ref)).one()


def assignment(app: Flask, attributes: dict[str, Any], task_sid: str = TASK_SID) -> tuple[str, dict[str, str]]:
    url = f"{app.extensions['settings'].public_base_url}/webhooks/twilio/taskrouter/assignment"
    form = {
        "AccountSid": ACCOUNT_SID,
        "WorkspaceSid": WORKSPACE,
        "WorkflowSid": WORKFLOW,
        "TaskSid": task_sid,
        "ReservationSid": "WR" + "f" * 32,
        "WorkerSid": "WK" + "a" * 32,
        "TaskAttributes": json.dumps(attributes),
        "WorkerAttributes": json.dumps({"contact_uri": AGENT_LINE}),
    }
    return url, form


def test_the_agent_is_reserved_and_takes_the_callback_before_the_customer_is_rung(
    app: Flask,
    client: FlaskClient,
    reserving_queue: str,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,
) -> None:
    booked_at = clock.now()
    ref = book(client, 1).get_json()["ref"]
    clock.advance(seconds=40)  # due a little later: the task still keeps the caller's place
    dialer = Dialer(db, app.extensions["providers"], clock, app.extensions["settings"])
    assert dialer.dispatch() == 1

    made = twilio_http.only_request  # a task, and no call to anyone
    assert made.method == "POST" and made.url == f"https://taskrouter.twilio.com/v1/Workspaces/{WORKSPACE}/Tasks"
    assert (made.values("WorkflowSid"), made.values("TaskChannel")) == ([WORKFLOW], ["voice"])
    # as old as the booking: TaskRouter ranks it before the callers who came after its caller
    assert made.values("VirtualStartTime") == [booked_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")]
    attributes = json.loads(made.values("Attributes")[0])
    assert attributes["callback_ref"] == ref and "7400000001" not in made.values("Attributes")[0]
    attempt = only_attempt(db)
    assert (attempt.task_sid, attempt.call_id, attempt.agent_first) == (TASK_SID, None, True)
    assert state_of(db, ref) == "dialing"

    # TaskRouter reserves a worker: Twilio is told to ring them and accept when they answer.
    url, form = assignment(app, attributes)
    answer = post_signed(client, app, url, form)
    assert answer.status_code == 200
    instruction = answer.get_json()
    assert (instruction["instruction"], instruction["accept"]) == ("call", True)
    assert "to" not in instruction  # the worker's contact_uri

    # The worker answers: offered the callback; nobody else rung yet.
    base = {"CallSid": CALL_SID, "AccountSid": ACCOUNT_SID, "To": AGENT_LINE}
    offer = twiml(post_signed(client, app, instruction["url"], {**base, "CallStatus": "in-progress"}))
    gather = offer.find("Gather")
    assert gather is not None and "press 1" in "".join(say.text or "" for say in gather.iter("Say"))
    assert only_attempt(db).call_id == CALL_SID  # the call Twilio placed is the attempt's now
    taken = twiml(post_signed(client, app, gather.get("action", ""), {**base, "Digits": "1"}))
    dial = taken.find("Dial")
    assert dial is not None and dial.findtext("Number") == "+447400000001"  # now the customer is rung
    answered = post_signed(client, app, dial.get("action", ""), {**base, "DialCallStatus": "answered"})
    assert answered.status_code == 200
    assert state_of(db, ref) == "connected"

    ended = {**base, "CallStatus": "completed", "CallDuration": "240"}
    assert post_signed(client, app, instruction["status_callback_url"], ended).status_code == 204
    apply_call_events(app)
    assert state_of(db, ref) == "completed"
    assert only_attempt(db).outcome == "connected"

    # The task is completed: the worker is free for the next.
    twilio_http.outcomes.append(json_response(200, task_payload(assignment_status="completed")))
    assert close_tasks(db, app.extensions["providers"], clock) == 1
    closing = twilio_http.requests[-1]
    assert closing.url.endswith(f"/Tasks/{TASK_SID}") and closing.values("AssignmentStatus") == ["completed"]
    assert close_tasks(db, app.extensions["providers"], clock) == 0  # once


def test_an_assignment_that_is_not_a_live_attempt_of_ours_is_rejected(
    app: Flask,
    client: FlaskClient,
    reserving_queue: str,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,
) -> None:
    book(client, 1)
    Dialer(db, app.extensions["providers"], clock, app.extensions["settings"]).dispatch()
    attributes = json.loads(twilio_http.only_request.values("Attributes")[0])
    for attrs, task in (
        ({"type": "callback", "callback_attempt": "1.forged"}, TASK_SID),  # a token we did not sign
        ({"type": "callback"}, TASK_SID),  # another application's task
        (attributes, "WT" + "0" * 32),  # our attempt, another task
    ):
        url, form = assignment(app, attrs, task)
        assert post_signed(client, app, url, form).get_json() == {"instruction": "reject"}
    url, form = assignment(app, attributes)
    assert post_signed(client, app, url, form, token="not-the-token").status_code == 403
    bad = {key: value for key, value in form.items() if key != "TaskSid"}
    assert post_signed(client, app, url, bad).status_code == 400


def test_a_task_nobody_took_ends_the_attempt_as_agent_unavailable_and_is_retried_soon(
    app: Flask,
    client: FlaskClient,
    reserving_queue: str,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    dialer = Dialer(db, app.extensions["providers"], clock, app.extensions["settings"])
    dialer.dispatch()
    clock.advance(seconds=int(CALL_WATCH.total_seconds()) + 1)
    twilio_http.outcomes.append(json_response(200, task_payload(assignment_status="reserved")))
    dialer.reconcile()  # still reserving a worker: watched longer
    assert state_of(db, ref) == "dialing" and only_attempt(db).outcome is None
    clock.advance(seconds=int(CALL_WATCH.total_seconds()) + 1)
    twilio_http.outcomes.append(json_response(200, task_payload(assignment_status="canceled")))
    dialer.reconcile()  # TaskRouter cancelled it on its timeout, and no worker was rung
    attempt = only_attempt(db)
    assert attempt.outcome == "agent_unavailable"
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
    assert callback.state == "retry_wait" and callback.next_attempt_at == clock.now() + timedelta(minutes=2)
    # Closing it: TaskRouter says it is closed already; it counts as closed.
    twilio_http.outcomes.append(twilio_error(400, 20001, "Task is already canceled"))
    assert close_tasks(db, app.extensions["providers"], clock) == 1
    assert only_attempt(db).task_closed_at == clock.now()


def test_a_task_not_closed_for_a_passing_failure_is_closed_on_a_later_tick(
    app: Flask,
    client: FlaskClient,
    reserving_queue: str,
    db: Database,
    clock: FixedClock,
    twilio_http: FakeTwilioHttp,
) -> None:
    book(client, 1)
    Dialer(db, app.extensions["providers"], clock, app.extensions["settings"]).dispatch()
    attributes = json.loads(twilio_http.only_request.values("Attributes")[0])
    url, form = assignment(app, attributes)
    instruction = post_signed(client, app, url, form).get_json()
    base = {"CallSid": CALL_SID, "AccountSid": ACCOUNT_SID, "To": AGENT_LINE}
    post_signed(client, app, instruction["status_callback_url"], {**base, "CallStatus": "no-answer"})
    apply_call_events(app)  # the worker never answered
    assert only_attempt(db).outcome == "agent_unavailable"
    twilio_http.outcomes.append(twilio_error(503, 20503, "Service unavailable"))
    assert close_tasks(db, app.extensions["providers"], clock) == 0
    twilio_http.outcomes.append(json_response(200, task_payload(assignment_status="canceled")))
    assert close_tasks(db, app.extensions["providers"], clock) == 1
    assert twilio_http.requests[-1].values("AssignmentStatus") == ["canceled"]  # nobody took it

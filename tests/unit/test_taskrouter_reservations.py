"""Agent-first through TaskRouter, the pure parts: reading the assignment callback, the
``call`` instruction that rings the reserved worker, a claim's workflow target."""

from __future__ import annotations

import json

import pytest

from services.dialer.reservations import target, workflow_of
from telephony.twilio_taskrouter import assignment_instruction, parse_assignment

WS = "WS" + "0" * 32
WW = "WW" + "1" * 32


def test_an_assignment_is_read_with_its_task_attributes() -> None:
    form = {
        "TaskSid": "WT" + "2" * 32,
        "ReservationSid": "WR" + "3" * 32,
        "WorkerSid": "WK" + "4" * 32,
        "TaskAttributes": json.dumps({"type": "callback", "callback_attempt": "7.abc"}),
        "WorkerAttributes": json.dumps({"contact_uri": "+442079460000"}),
    }
    assignment = parse_assignment(form)
    assert (assignment.task_sid, assignment.worker_sid) == (form["TaskSid"], form["WorkerSid"])
    assert assignment.attributes["callback_attempt"] == "7.abc"


@pytest.mark.parametrize(
    "form",
    [
        {"ReservationSid": "WR1", "WorkerSid": "WK1"},  # no task
        {"TaskSid": "WT1", "ReservationSid": "WR1", "WorkerSid": "WK1", "TaskAttributes": "{"},
        {"TaskSid": "WT1", "ReservationSid": "WR1", "WorkerSid": "WK1", "TaskAttributes": "[1]"},
    ],
)
def test_what_is_not_an_assignment_is_refused(form: dict[str, str]) -> None:
    with pytest.raises(ValueError):
        parse_assignment(form)


def test_the_instruction_rings_the_worker_and_accepts_when_they_answer() -> None:
    instruction = assignment_instruction("https://x/answer", "https://x/event", "+442071838750")
    assert instruction["instruction"] == "call" and instruction["accept"] is True
    assert (instruction["url"], instruction["status_callback_url"], instruction["from"]) == (
        "https://x/answer",
        "https://x/event",
        "+442071838750",
    )
    assert "to" not in instruction  # Twilio rings the worker's contact_uri


def test_a_workflow_target_round_trips_and_numbers_are_not_workflows() -> None:
    assert workflow_of(target(WS, WW)) == type(workflow_of(target(WS, WW)))(WS, WW)
    assert workflow_of("+442079460000") is None and workflow_of(None) is None and workflow_of("sim:agent") is None

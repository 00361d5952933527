"""Answering machines (scheduler/machine.py): which action a queue takes, when it acts on
a verdict, and how the attempt then ends (scheduler/outcomes.py, scheduler/retry.py)."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from scheduler.calendar import Interval, QueueCalendar
from scheduler.machine import AfterMessage, MachineAction, act_on_verdict, closes_callback, machine_action
from scheduler.outcomes import SILENT, CallFacts, classify
from scheduler.retry import Decision, GiveUp, Outcome, OutcomeRule, Retry, RetryPolicy, decide

OPEN_ALWAYS = QueueCalendar("UTC", {wd: [Interval(time(0), time(0), 60, 2)] for wd in range(7)})
NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)  # Monday
WINDOW_END = NOW + timedelta(hours=4)
MESSAGE = "This was Support returning your call; we will try again."


def machine_call() -> CallFacts:
    """A callback call a machine took: answered, then completed when we hung up."""
    return CallFacts(
        final_state="completed", answered=True, answered_by="machine", menu_choice=None, agent_answered=False
    )


def test_unset_leaves_the_message_when_the_queue_has_one_else_hangs_up() -> None:
    assert machine_action(None, MESSAGE) is MachineAction.LEAVE_MESSAGE
    assert machine_action(None, None) is MachineAction.HANG_UP
    assert machine_action(None, "") is MachineAction.HANG_UP


def test_a_configured_action_is_kept_but_a_message_needs_words() -> None:
    assert machine_action("hang_up", MESSAGE) is MachineAction.HANG_UP
    assert machine_action("leave_message", MESSAGE) is MachineAction.LEAVE_MESSAGE
    assert machine_action("leave_message", None) is MachineAction.HANG_UP


def test_a_message_waits_for_the_end_of_the_greeting() -> None:
    assert act_on_verdict(MachineAction.LEAVE_MESSAGE, greeting_ended=False, already_handled=False) is None
    assert act_on_verdict(MachineAction.LEAVE_MESSAGE, greeting_ended=True, already_handled=False) is (
        MachineAction.LEAVE_MESSAGE
    )


def test_hanging_up_needs_no_beep() -> None:
    assert act_on_verdict(MachineAction.HANG_UP, greeting_ended=False, already_handled=False) is MachineAction.HANG_UP


@pytest.mark.parametrize("action", list(MachineAction))
def test_a_verdict_is_acted_on_once(action: MachineAction) -> None:
    assert act_on_verdict(action, greeting_ended=True, already_handled=True) is None


def test_a_machine_call_is_a_machine_outcome_whatever_we_did() -> None:
    assert classify(machine_call()) is Outcome.MACHINE


def test_a_person_who_says_nothing_still_goes_through_the_silence_rules() -> None:
    facts = CallFacts(
        final_state="completed", answered=True, answered_by="human", menu_choice=SILENT, agent_answered=False
    )
    assert classify(facts) is Outcome.NO_ANSWER


@pytest.mark.parametrize(
    ("handled_as", "after_message", "closes"),
    [
        ("leave_message", "close", True),
        ("leave_message", "retry", False),
        ("hang_up", "close", False),  # no message was left: nothing to close on
        ("hang_up", "retry", False),
        (None, "close", False),  # the verdict never came in time: no message
    ],
)
def test_only_a_message_left_closes_and_only_when_the_queue_says_so(
    handled_as: str | None, after_message: str, closes: bool
) -> None:
    assert closes_callback(Outcome.MACHINE, handled_as, after_message) is closes


def test_nothing_but_a_machine_outcome_closes() -> None:
    for outcome in (o for o in Outcome if o is not Outcome.MACHINE):
        assert not closes_callback(outcome, "leave_message", AfterMessage.CLOSE.value)
    assert not closes_callback(None, "leave_message", AfterMessage.CLOSE.value)


def decide_machine(attempts: int, *, closed_by_message: bool, policy: RetryPolicy | None = None) -> Decision:
    return decide(
        Outcome.MACHINE,
        attempts,
        NOW,
        WINDOW_END,
        policy or RetryPolicy(),
        OPEN_ALWAYS,
        "UTC",
        closed_by_message=closed_by_message,
    )


def test_hang_up_or_a_message_then_retry_follows_the_machine_rule() -> None:
    assert decide_machine(1, closed_by_message=False) == Retry(NOW + timedelta(minutes=30))
    custom = RetryPolicy(rules={Outcome.MACHINE: OutcomeRule(15 * 60, 2)})
    assert decide_machine(1, closed_by_message=False, policy=custom) == Retry(NOW + timedelta(minutes=15))
    assert isinstance(decide_machine(2, closed_by_message=False, policy=custom), GiveUp)


def test_a_message_left_with_close_ends_the_callback_on_the_first_attempt() -> None:
    assert decide_machine(1, closed_by_message=True) == GiveUp("a message was left on the answering machine")

"""The life cycle: legal steps, illegal ones raise, repeats are no-ops."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scheduler.errors import IllegalTransition, NotCancellable, NotReschedulable
from scheduler.lifecycle import LIVE_STATES, TERMINAL_STATES, TRANSITIONS, State, is_live, next_state


def test_the_happy_path() -> None:
    state = State.REQUESTED
    for step, expected in [
        ("schedule", State.SCHEDULED),
        ("start_dial", State.DIALING),
        ("connect", State.CONNECTED),
        ("complete", State.COMPLETED),
    ]:
        new = next_state(state, step)
        assert new == expected
        state = new


def test_a_missed_call_waits_and_is_dialed_again() -> None:
    assert next_state(State.DIALING, "retry") == State.RETRY_WAIT
    assert next_state(State.RETRY_WAIT, "start_dial") == State.DIALING
    assert next_state(State.RETRY_WAIT, "give_up") == State.UNREACHABLE


def test_cancelling_twice_is_a_no_op_but_a_completed_call_cannot_be_cancelled() -> None:
    assert next_state(State.SCHEDULED, "cancel") == State.CANCELLED
    assert next_state(State.CANCELLED, "cancel") is None
    with pytest.raises(NotCancellable):
        next_state(State.COMPLETED, "cancel")
    with pytest.raises(NotCancellable):
        next_state(State.DIALING, "cancel")


def test_a_replayed_webhook_changes_nothing() -> None:
    assert next_state(State.CONNECTED, "connect") is None
    assert next_state(State.COMPLETED, "complete") is None


def test_terminal_states_do_not_regress() -> None:
    for terminal in TERMINAL_STATES:
        with pytest.raises(IllegalTransition):
            next_state(terminal, "start_dial")


def test_reschedule_keeps_the_callback_scheduled_and_refuses_finished_ones() -> None:
    assert next_state(State.SCHEDULED, "reschedule") == State.SCHEDULED
    assert next_state(State.RETRY_WAIT, "reschedule") == State.SCHEDULED
    with pytest.raises(NotReschedulable):
        next_state(State.CANCELLED, "reschedule")


def test_live_and_terminal_states_partition_all_states() -> None:
    assert set(State) == LIVE_STATES | TERMINAL_STATES
    assert not LIVE_STATES & TERMINAL_STATES
    assert is_live("scheduled") and not is_live("completed")


@given(st.lists(st.sampled_from(sorted(TRANSITIONS)), max_size=40))
def test_any_sequence_of_steps_stays_in_known_states_and_never_leaves_a_terminal_one(steps: list[str]) -> None:
    state = State.REQUESTED
    for step in steps:
        try:
            new = next_state(state, step)
        except (IllegalTransition, NotCancellable, NotReschedulable):
            continue
        if state in TERMINAL_STATES:
            assert new is None
        if new is not None:
            state = new
    assert state in set(State)

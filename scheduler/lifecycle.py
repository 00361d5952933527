"""The callback life cycle: states and the one table of legal transitions.

requested -> scheduled -> dialing -> connected -> completed, with retry_wait,
unreachable and cancelled. Every transition is a named step; a step the current state
does not allow raises ``IllegalTransition``. A step that would land where the callback
already is (a replayed webhook, a double-clicked cancel) is reported as a no-op so the
caller writes nothing.
"""

from __future__ import annotations

from enum import StrEnum

from scheduler.errors import IllegalTransition, NotCancellable, NotReschedulable


class State(StrEnum):
    REQUESTED = "requested"
    SCHEDULED = "scheduled"
    DIALING = "dialing"
    CONNECTED = "connected"
    COMPLETED = "completed"
    RETRY_WAIT = "retry_wait"
    UNREACHABLE = "unreachable"
    CANCELLED = "cancelled"


LIVE_STATES = frozenset({State.REQUESTED, State.SCHEDULED, State.DIALING, State.CONNECTED, State.RETRY_WAIT})
TERMINAL_STATES = frozenset({State.COMPLETED, State.UNREACHABLE, State.CANCELLED})
# Due for a dial when their time comes; on a call now (a dial placed, or talking).
DUE_STATES = (State.SCHEDULED.value, State.RETRY_WAIT.value)
ON_CALL_STATES = (State.DIALING.value, State.CONNECTED.value)
BOOKED = State.SCHEDULED  # the state a new callback starts in (its step: "book")

# step -> (states it may start from, state it leads to)
TRANSITIONS: dict[str, tuple[frozenset[State], State]] = {
    "schedule": (frozenset({State.REQUESTED}), State.SCHEDULED),
    "start_dial": (frozenset({State.SCHEDULED, State.RETRY_WAIT}), State.DIALING),
    "connect": (frozenset({State.DIALING}), State.CONNECTED),
    "complete": (frozenset({State.CONNECTED}), State.COMPLETED),
    "retry": (frozenset({State.DIALING, State.CONNECTED}), State.RETRY_WAIT),
    "give_up": (frozenset({State.DIALING, State.CONNECTED, State.RETRY_WAIT}), State.UNREACHABLE),
    "cancel": (frozenset({State.REQUESTED, State.SCHEDULED, State.RETRY_WAIT}), State.CANCELLED),
    # The customer, on the callback call itself, cancels or asks for another time.
    "decline": (frozenset({State.DIALING, State.CONNECTED}), State.CANCELLED),
    # A lease ran out and the provider never placed the call: back in line.
    "release": (frozenset({State.DIALING}), State.RETRY_WAIT),
    # A new slot is an event, not a state: the callback stays (or becomes again) scheduled.
    "reschedule": (frozenset({State.REQUESTED, State.SCHEDULED, State.RETRY_WAIT}), State.SCHEDULED),
}

_STEP_ERRORS = {"cancel": NotCancellable, "reschedule": NotReschedulable}
# Steps that are idempotent: repeating them where they already led changes nothing.
_IDEMPOTENT = frozenset({"start_dial", "connect", "complete", "give_up", "cancel", "decline"})


def next_state(current: State | str, step: str) -> State | None:
    """The state ``step`` leads to from ``current``; None when it is an idempotent repeat."""
    sources, target = TRANSITIONS[step]
    state = State(current)
    if state in sources:
        return target
    if state == target and step in _IDEMPOTENT:
        return None
    error = _STEP_ERRORS.get(step, IllegalTransition)
    raise error(f"cannot {step.replace('_', ' ')} a callback that is {state.value}", {"state": state.value})


def is_live(state: State | str) -> bool:
    return State(state) in LIVE_STATES

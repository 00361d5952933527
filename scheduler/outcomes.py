"""How an attempt ended, from what the provider reported and what the customer did."""

from __future__ import annotations

from dataclasses import dataclass

from scheduler.retry import Outcome

# Menu choices the customer can make on the callback call (see ivr_flows/callback_script.py).
CONNECT = "connect"
RESCHEDULE = "reschedule"
CANCEL = "cancel"
SILENT = "silent"


@dataclass(frozen=True)
class CallFacts:
    final_state: str  # telephony.base.CallState value of the customer leg's last report
    answered: bool
    answered_by: str | None  # human | machine | unknown
    menu_choice: str | None
    agent_answered: bool
    agent_first: bool = False
    customer_leg_state: str | None = None  # agent-first: how the customer's leg ended


def classify(facts: CallFacts) -> Outcome | None:
    """The outcome of an ended attempt; None when the customer settled it in the call
    (cancelled or asked for another time), so no retry policy applies."""
    if facts.agent_first:
        return _classify_agent_first(facts)
    if facts.menu_choice in (CANCEL, RESCHEDULE):
        return None
    if facts.agent_answered:
        return Outcome.CONNECTED
    state = facts.final_state
    if state == "busy":
        return Outcome.BUSY
    if state == "rejected":
        return Outcome.REJECTED
    if state == "failed":
        return Outcome.FAILED
    if state in ("no_answer", "canceled") or not facts.answered:
        return Outcome.NO_ANSWER
    if facts.answered_by == "machine":
        return Outcome.MACHINE
    if facts.menu_choice == CONNECT:
        return Outcome.AGENT_UNAVAILABLE  # they asked to be connected and no agent took the call
    if facts.menu_choice == SILENT:
        return Outcome.NO_ANSWER  # answered, but nobody responded to the menu
    return Outcome.CUSTOMER_HUNG_UP


def _classify_agent_first(facts: CallFacts) -> Outcome:
    """Agent-first: the call we placed rang an agent; the customer was the second leg."""
    if not facts.answered or not facts.agent_answered:
        return Outcome.AGENT_UNAVAILABLE  # no agent picked up, or none took it: not the customer's doing
    if facts.menu_choice == CONNECT:
        return Outcome.CONNECTED  # the customer's leg was answered and bridged
    leg = facts.customer_leg_state
    if leg == "busy":
        return Outcome.BUSY
    if leg == "rejected":
        return Outcome.REJECTED
    if leg == "failed":
        return Outcome.FAILED
    return Outcome.NO_ANSWER

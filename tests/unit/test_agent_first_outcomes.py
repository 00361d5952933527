"""How an agent-first attempt ends (scheduler/outcomes.py): the agent must pick up and
take the callback (press 1) before the customer is rung; the customer's leg decides the rest."""

from __future__ import annotations

import pytest

from scheduler.outcomes import CONNECT, CallFacts, classify
from scheduler.retry import Outcome


def facts(answered: bool, taken: bool, choice: str | None = None, leg: str | None = None) -> CallFacts:
    return CallFacts(
        final_state="completed" if answered else "no_answer",
        answered=answered,
        answered_by=None,
        menu_choice=choice,
        agent_answered=taken,
        agent_first=True,
        customer_leg_state=leg,
    )


@pytest.mark.parametrize(
    ("call", "outcome"),
    [
        (facts(answered=False, taken=False), Outcome.AGENT_UNAVAILABLE),  # nobody picked up
        (facts(answered=True, taken=False), Outcome.AGENT_UNAVAILABLE),  # picked up, did not take it
        (facts(answered=True, taken=True, choice=CONNECT, leg="answered"), Outcome.CONNECTED),
        (facts(answered=True, taken=True, leg="busy"), Outcome.BUSY),
        (facts(answered=True, taken=True, leg="no_answer"), Outcome.NO_ANSWER),
        (facts(answered=True, taken=True), Outcome.NO_ANSWER),  # taken, the agent hung up before the customer answered
    ],
)
def test_agent_first_outcomes(call: CallFacts, outcome: Outcome) -> None:
    assert classify(call) == outcome

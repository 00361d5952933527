"""The simulated day's people (bench/simulated_day.py): when callers ring in, what they
press at each prompt they hear, how patient they are on hold, and how the customers we
call back answer. Seeded: the same seed gives the same people, the same day."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any


@dataclass(frozen=True)
class Behaviour:
    """The shares and times the people follow (the defaults: a plausible support line)."""

    asap: float = 0.55  # at the offer: 1, call me back as soon as possible
    choose_time: float = 0.20  # 2, choose a time; the rest press * (keep holding)
    patience_seconds: float = 150.0  # mean of a holder's patience (exponential)
    think_seconds: tuple[float, float] = (2.0, 6.0)  # before pressing a key
    answers: float = 0.9  # a customer we call answers (else lets it ring out)
    answer_after_seconds: tuple[float, float] = (3.0, 12.0)
    ring_out_seconds: float = 30.0


def arrival_times(calls: int, opens: datetime, closes: datetime, rng: random.Random) -> list[datetime]:
    """A Poisson process with a morning peak, ``calls`` expected over [opens, closes): the
    rate is a base plus a bump a fifth of the day after opening (a normal curve an eighth
    of the day wide: 10:00 and 75 minutes for 08:00–18:00), the bump carrying as many calls
    as the base (a little less: its tails past the day are cut). Drawn by thinning."""
    span = (closes - opens).total_seconds()
    peak, width = span / 5, span / 8

    def shape(t: float) -> float:
        return 1.0 + (span / (width * math.sqrt(2 * math.pi))) * math.exp(-0.5 * ((t - peak) / width) ** 2)

    total = span * 2.0  # the integral of ``shape`` over the day (the bump's mass: span)
    top = max(shape(peak), shape(0.0))
    rate_max = calls / total * top
    times, t = [], 0.0
    while True:
        t += rng.expovariate(rate_max)
        if t >= span:
            return times
        if rng.random() < shape(t) / top:
            times.append(opens + timedelta(seconds=t))


def heard(script: dict[str, Any] | None) -> str:
    """Everything the script says, prompts of its gathers included."""
    lines = []
    for action in (script or {}).get("actions", []):
        if action["type"] in ("say", "play"):
            lines.append(str(action.get("text") or ""))
        for prompt in action.get("prompt", []):
            if prompt["type"] in ("say", "play"):
                lines.append(str(prompt.get("text") or ""))
    return " ".join(lines)


def waits_for_keys(script: dict[str, Any] | None) -> bool:
    return any(a["type"] == "gather" for a in (script or {}).get("actions", []))


OFFER = "To keep holding, press star."
CLOSED_OFFER = "We are closed now."
WHICH_NUMBER = "To be called back on the number you are calling from, press 1."
SLOTS = "The next available times are:"
TEXT_OFFER = "To get a text confirming this, press 1."
CALLBACK_MENU = "To be connected to an agent now, press 1."


class People:
    """The seeded choices of everyone in the day."""

    def __init__(self, behaviour: Behaviour, rng: random.Random) -> None:
        self.behaviour = behaviour
        self.rng = rng

    def think(self) -> timedelta:
        return timedelta(seconds=self.rng.uniform(*self.behaviour.think_seconds))

    def patience(self) -> timedelta:
        return timedelta(seconds=self.rng.expovariate(1 / self.behaviour.patience_seconds))

    def at_offer(self) -> str:
        """ "1" (ASAP), "2" (choose a time) or "*" (keep holding)."""
        draw = self.rng.random()
        if draw < self.behaviour.asap:
            return "1"
        if draw < self.behaviour.asap + self.behaviour.choose_time:
            return "2"
        return "*"

    def key_for(self, said: str) -> str | None:
        """What a caller presses at the prompt they hear; None: they hang up."""
        if CLOSED_OFFER in said:
            return "2"
        if OFFER in said:
            return self.at_offer()
        if WHICH_NUMBER in said:
            return "1"  # the number they call from
        if SLOTS in said:
            offered = sum(1 for key in "123" if f"Press {key} for" in said)
            return str(self.rng.randint(1, offered)) if offered else None
        if TEXT_OFFER in said:
            return "2"  # no text, thanks: goodbye
        if CALLBACK_MENU in said:
            return "1"  # put me through
        return None

    def answers(self) -> tuple[bool, timedelta]:
        """Whether a customer we ring answers, and after how long (or when it rings out)."""
        if self.rng.random() < self.behaviour.answers:
            return True, timedelta(seconds=self.rng.uniform(*self.behaviour.answer_after_seconds))
        return False, timedelta(seconds=self.behaviour.ring_out_seconds)

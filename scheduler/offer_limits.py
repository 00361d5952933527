"""Mindful-style limits on taking callbacks, per queue: a switch for taking new ones
(``register_enabled``), and thresholds past which callers hold instead (``max_pending``
callbacks waiting, an estimated callback time above ``max_ecbt_seconds``). The dialer's
own switch (``process_enabled``) is apart: a queue may stop taking callbacks while it
still dials those it has, or the reverse. Pure: the figures are arguments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Withheld = Literal["paused", "too_many_pending", "wait_too_long"]


@dataclass(frozen=True)
class OfferLimits:
    register_enabled: bool = True
    max_pending: int | None = None
    max_ecbt_seconds: int | None = None


def withheld(limits: OfferLimits, pending: int, ecbt_seconds: int | None) -> Withheld | None:
    """Why no new callback is taken now, or None. ``pending``: the queue's callbacks
    waiting to be dialled; ``ecbt_seconds``: an ASAP callback's estimated callback time
    now (None: not an ASAP request)."""
    if not limits.register_enabled:
        return "paused"
    if limits.max_pending is not None and pending >= limits.max_pending:
        return "too_many_pending"
    if limits.max_ecbt_seconds is not None and ecbt_seconds is not None and ecbt_seconds > limits.max_ecbt_seconds:
        return "wait_too_long"
    return None

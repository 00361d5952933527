"""Estimated wait time (EWT) for a caller joining a queue now, from the queue's own figures.

Pure: the figures are arguments. The estimate is the classic one a supervisor can check
by hand: the callers ahead, each taking an average handle time (AHT), shared among the
agents answering. Providers that report a live queue (Twilio ``<Enqueue>``) can replace
it later; the offer rules only need a number of seconds.
"""

from __future__ import annotations

import math


def estimated_wait_seconds(callers_waiting: int, average_handle_seconds: int, agents: int) -> int:
    """callers waiting × AHT ÷ agents, rounded up to a whole second; no agents means no end."""
    if callers_waiting < 0 or average_handle_seconds < 0:
        raise ValueError("callers waiting and handle time cannot be negative")
    if callers_waiting == 0:
        return 0
    if agents <= 0:
        return 86_400  # nobody answers today: as good as forever, so always offer
    return math.ceil(callers_waiting * average_handle_seconds / agents)


def should_offer(estimate_seconds: int, threshold_seconds: int, *, offer_at_entry: bool, open_now: bool) -> bool:
    """Offer a callback when the wait would hurt, when the queue always offers, or when closed."""
    return offer_at_entry or not open_now or estimate_seconds >= threshold_seconds

"""Estimated wait time (EWT) for a caller joining a queue now, and when to offer a callback.

Pure: the figures are arguments. Our own estimate is the classic one a supervisor can
check by hand: the callers ahead, each taking an average handle time (AHT), shared among
the agents answering. A provider that reports its live queue (Twilio's ``<Enqueue>``
wait URL: QueuePosition, QueueTime, AvgQueueTime, CurrentQueueSize) gives a better one:
``wait_estimate`` prefers it wherever it was given.
"""

from __future__ import annotations

import math

FOREVER = 86_400  # nobody answers today: as good as forever, so always offer


def estimated_wait_seconds(callers_waiting: int, average_handle_seconds: int, agents: int) -> int:
    """callers waiting × AHT ÷ agents, rounded up to a whole second; no agents means no end."""
    if callers_waiting < 0 or average_handle_seconds < 0:
        raise ValueError("callers waiting and handle time cannot be negative")
    if callers_waiting == 0:
        return 0
    if agents <= 0:
        return FOREVER
    return math.ceil(callers_waiting * average_handle_seconds / agents)


def wait_estimate(
    own_estimate_seconds: int,
    *,
    average_handle_seconds: int,
    agents: int,
    provider_average_wait_seconds: int | None = None,
    provider_position: int | None = None,
    provider_queue_size: int | None = None,
) -> int:
    """The wait to tell a caller and to decide the offer on.

    The provider's average wait in its queue (AvgQueueTime) when it reports one; else the
    caller's place in the provider's queue (QueuePosition: 1 is next), or failing that the
    queue's size, each taking our AHT shared among the agents; else our own estimate.
    Negative figures from a provider are ignored as if not sent."""
    if provider_average_wait_seconds is not None and provider_average_wait_seconds >= 0:
        return provider_average_wait_seconds
    for ahead in (provider_position, provider_queue_size):
        if ahead is not None and ahead >= 0:
            return estimated_wait_seconds(ahead, max(average_handle_seconds, 0), agents)
    return own_estimate_seconds


def should_offer(
    estimate_seconds: int,
    threshold_seconds: int,
    *,
    offer_at_entry: bool,
    open_now: bool,
    waited_seconds: int = 0,
) -> bool:
    """Offer a callback when the wait would hurt, when the caller has already waited as
    long as the threshold (QueueTime, from the provider), when the queue always offers,
    or when closed."""
    return (
        offer_at_entry or not open_now or estimate_seconds >= threshold_seconds or waited_seconds >= threshold_seconds
    )


def ring_seconds_before_offer(threshold_seconds: int, waited_seconds: int = 0) -> int:
    """How long to keep a caller with a short wait holding before offering a callback:
    what is left of the threshold after the time they have already waited."""
    return max(threshold_seconds - max(waited_seconds, 0), 0)


# --- holding in a provider's queue (Twilio <Enqueue>) -----------------------------------
#
# The provider asks the queue's wait URL again as soon as our answer to it has played, with
# how long the caller has waited (QueueTime). The URL is fixed when the caller is enqueued,
# so nothing remembers the last offer: it is made when QueueTime reaches a point of the
# schedule (the first offer, then every repeat), and each hold lasts up to the next point, so
# that the next request comes at it. A request in the few seconds after a point offers; one
# later (the caller declined the offer and holds on) waits for the next.

OFFER_WINDOW_SECONDS = 10  # shorter than any offer takes to say and answer
MAX_QUEUE_HOLD_SECONDS = 30  # one hold in the queue: the caller hears of us at least this often


def queue_offer_due(waited_seconds: int, first_offer_seconds: int, repeat_seconds: int) -> bool:
    """Whether a caller who has waited ``waited_seconds`` in the provider's queue is offered
    a callback now: at ``first_offer_seconds`` and every ``repeat_seconds`` after it."""
    since = waited_seconds - first_offer_seconds
    if since < 0:
        return False
    repeat = max(repeat_seconds, 1)
    return since % repeat < min(OFFER_WINDOW_SECONDS, max(repeat // 2, 1))


def queue_hold_seconds(waited_seconds: int, first_offer_seconds: int, repeat_seconds: int) -> int:
    """How long to hold the caller before the provider asks again: up to the next offer,
    at least a second, at most MAX_QUEUE_HOLD_SECONDS."""
    since = waited_seconds - first_offer_seconds
    repeat = max(repeat_seconds, 1)
    left = -since if since < 0 else repeat - since % repeat
    return min(max(left, 1), MAX_QUEUE_HOLD_SECONDS)

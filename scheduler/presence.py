"""How long an inbound call counts as up, from where we last put the caller (in the IVR,
ringing the agents, with an agent). Pure: ``now`` is an argument.

A provider reports an inbound call's end only where its status URL is set (the number's
status callback on Twilio, the application's event URL on Vonage; docs/providers.md), so
every answer we give to the call also says how long to presume it up without hearing of
it again: in the IVR, a couple of minutes (its gathers come back within seconds); holding,
the ring plus a minute; put through to an agent, two hours (a conversation sends us
nothing); waiting in the provider's queue (Twilio <Enqueue>), two hours as well, because
an agent may take the caller from it at any moment, and then we hear nothing until that
conversation ends. A script that hangs up ends it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

IN_IVR = timedelta(minutes=2)
AFTER_RING = timedelta(minutes=1)
WITH_AGENT = timedelta(hours=2)


@dataclass(frozen=True)
class Presence:
    stage: str  # ivr | holding | queued | with_agent | ended
    until: datetime | None  # presumed up until then (None: ended)


def in_ivr(now: datetime) -> Presence:
    return Presence("ivr", now + IN_IVR)


def holding(now: datetime, ring_seconds: int) -> Presence:
    return Presence("holding", now + timedelta(seconds=ring_seconds) + AFTER_RING)


def in_queue(now: datetime) -> Presence:
    """Waiting in the provider's queue: an agent may take the caller from it unannounced."""
    return Presence("queued", now + WITH_AGENT)


ENDED = Presence("ended", None)


def with_agent(now: datetime) -> Presence:
    return Presence("with_agent", now + WITH_AGENT)

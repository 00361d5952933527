"""How long an inbound call counts as up, from what we last told the provider to play.
Pure: the script and ``now`` are arguments.

A provider reports an inbound call's end only where its status URL is set (the number's
status callback on Twilio, the application's event URL on Vonage; docs/providers.md), so
every answer we give to the call also says how long to presume it up without hearing of
it again: in the IVR, a couple of minutes (its gathers come back within seconds); holding,
the ring plus a minute; put through to an agent, two hours (a conversation sends us
nothing). A script that hangs up ends it at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from telephony.script import Connect, Gather, Hangup, VoiceScript

IN_IVR = timedelta(minutes=2)
AFTER_RING = timedelta(minutes=1)
WITH_AGENT = timedelta(hours=2)


@dataclass(frozen=True)
class Presence:
    stage: str  # ivr | holding | with_agent | ended
    until: datetime | None  # presumed up until then (None: ended)


def after_script(script: VoiceScript, now: datetime) -> Presence:
    """Where the caller is once ``script`` plays: still in the IVR, ringing the agents, or gone."""
    actions = script.actions
    connect = next((a for a in actions if isinstance(a, Connect)), None)
    if connect is not None:
        return Presence("holding", now + timedelta(seconds=connect.timeout_seconds) + AFTER_RING)
    if any(isinstance(a, Gather) for a in actions):
        return Presence("ivr", now + IN_IVR)
    if any(isinstance(a, Hangup) for a in actions):
        return Presence("ended", None)
    return Presence("ivr", now + IN_IVR)  # nothing said: the provider carries on with its call


def with_agent(now: datetime) -> Presence:
    return Presence("with_agent", now + WITH_AGENT)

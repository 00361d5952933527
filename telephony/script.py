"""A provider-neutral voice script: what the caller hears and can do, rendered by each
adapter as TwiML (Twilio), NCCO (Vonage) or JSON (the simulator).

Semantics both providers can honour: actions run in order; a ``Gather`` posts what the
caller pressed (or nothing, after its timeout) to its ``action_url``, whose answer is
the next script; ``Connect`` bridges the call to an agent target; the call ends after
the last action.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Say:
    text: str
    language: str = "en-GB"  # BCP 47, as both providers' text-to-speech take it


@dataclass(frozen=True)
class Play:
    """A recording, played instead of text-to-speech. ``text`` is what it says: the
    simulator shows it, providers only fetch ``url``."""

    url: str
    text: str = ""


@dataclass(frozen=True)
class Pause:
    seconds: int = 1


@dataclass(frozen=True)
class Gather:
    prompt: tuple[Say | Play | Pause, ...]
    action_url: str
    num_digits: int = 1
    timeout_seconds: int = 6
    speech: bool = False  # accept spoken answers as well as keys
    speech_language: str = "en-GB"


@dataclass(frozen=True)
class Connect:
    """Bridge to an agent: ``tel:+E164``/``+E164``, ``sip:user@host``, or ``queue:NAME``
    (a provider-side queue, Twilio only)."""

    target: str
    caller_id: str | None = None
    timeout_seconds: int = 30
    status_url: str | None = None


@dataclass(frozen=True)
class Enqueue:
    """Hold the caller in the provider's own queue ``name`` (Twilio's ``<Enqueue>``; only
    an adapter whose ``supports_enqueue`` is true renders it). While they wait, the provider
    requests ``wait_url`` again and again with their place in line, and plays what it answers
    (prompts, a Gather, Leave or Hangup: never a Connect or another Enqueue); once they are
    out of the queue (an agent's conversation ended, they left, hung up, or the queue failed)
    it requests ``action_url``, whose answer is the next script."""

    name: str
    wait_url: str
    action_url: str


@dataclass(frozen=True)
class Leave:
    """Take the caller out of the provider's queue (said in a wait URL's script): the
    provider then requests the Enqueue's action URL."""


@dataclass(frozen=True)
class Hangup:
    pass


Action = Say | Play | Pause | Gather | Connect | Enqueue | Leave | Hangup


@dataclass(frozen=True)
class VoiceScript:
    actions: tuple[Action, ...] = field(default_factory=tuple)

    def __add__(self, other: VoiceScript) -> VoiceScript:
        return VoiceScript(self.actions + other.actions)


def script(*actions: Action) -> VoiceScript:
    return VoiceScript(tuple(actions))

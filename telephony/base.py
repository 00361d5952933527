"""One interface for every provider: place and inspect calls, send texts, speak a
provider-neutral voice script, and read and verify webhooks.

Adapters translate vendor vocabulary into these types and vendor failures into
``ProviderError``; no SDK exception or SDK type leaves an adapter.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Protocol, runtime_checkable

from telephony.script import VoiceScript


class ProviderError(Exception):
    """A provider call failed. ``permanent`` says retrying cannot help (an invalid or
    blocked number); otherwise (5xx, timeout, rate limit, connection refused) it may."""

    def __init__(self, message: str, *, permanent: bool = False, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.code = code


class SignatureError(Exception):
    """A webhook's signature is missing or wrong: answer 403 and change nothing."""


class CallState(StrEnum):
    """Provider-neutral call progress. Terminal: completed, busy, no_answer, failed, canceled."""

    QUEUED = "queued"
    RINGING = "ringing"
    ANSWERED = "answered"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"
    REJECTED = "rejected"


TERMINAL_CALL_STATES = frozenset(
    {CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.CANCELED, CallState.REJECTED}
)


class AnsweredBy(StrEnum):
    HUMAN = "human"
    MACHINE = "machine"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class OutboundCall:
    to: str  # E.164
    from_: str  # E.164 caller id
    answer_url: str  # what the provider fetches when the call is answered (our script)
    status_url: str  # where the provider posts call progress
    machine_detection: bool = True
    ring_timeout_seconds: int = 30


@dataclass(frozen=True)
class PlacedCall:
    provider: str
    call_id: str


@dataclass(frozen=True)
class CallEvent:
    """One call-progress report, from a webhook or from fetching the call."""

    provider: str
    call_id: str
    state: CallState
    answered_by: AnsweredBy | None = None
    sequence: int | None = None  # the provider's ordering of its reports, when it gives one
    duration_seconds: int | None = None
    billable_seconds: int | None = None
    started_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    recording_url: str | None = None
    error_code: str | None = None
    dedupe_key: str = ""  # identifies this report: a redelivery has the same key


@dataclass(frozen=True)
class GatherResult:
    """What the caller pressed or said in answer to a gather."""

    call_id: str
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None


@dataclass(frozen=True)
class DialResult:
    """How the bridge to the agent went (the Connect action's status_url), reported on
    the customer's call: ANSWERED while the agent talks, then COMPLETED, or BUSY /
    NO_ANSWER / FAILED when no agent took the call."""

    call_id: str
    state: CallState
    duration_seconds: int | None = None


@dataclass(frozen=True)
class InboundSms:
    provider: str
    message_id: str
    from_: str
    to: str
    text: str


@dataclass(frozen=True)
class SentSms:
    provider: str
    message_id: str


@dataclass(frozen=True)
class WebhookRequest:
    """An inbound HTTP request as the adapter needs it, independent of Flask.

    ``url`` is the public URL the provider called (rebuilt from PUBLIC_BASE_URL, never
    from the proxied request), because signatures are computed over it."""

    method: str
    url: str
    headers: Mapping[str, str]
    form: Mapping[str, str] = field(default_factory=dict)
    query: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""


@dataclass(frozen=True)
class RenderedScript:
    body: str
    content_type: str


@runtime_checkable
class Telephony(Protocol):
    name: str

    def place_call(self, call: OutboundCall) -> PlacedCall: ...

    def fetch_call(self, call_id: str) -> CallEvent: ...

    def find_call(self, to: str, placed_after: datetime) -> CallEvent | None:
        """The most recent call to ``to`` placed after the given instant, if any: how a
        dial whose call id was never saved (the worker died) is found again."""
        ...

    def send_sms(self, to: str, from_: str, text: str, status_url: str | None = None) -> SentSms: ...

    def render(self, script: VoiceScript) -> RenderedScript: ...

    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError unless the request is signed by the provider."""
        ...

    def parse_call_event(self, request: WebhookRequest) -> CallEvent: ...

    def parse_gather(self, request: WebhookRequest) -> GatherResult: ...

    def parse_dial_result(self, request: WebhookRequest) -> DialResult: ...

    def parse_inbound_sms(self, request: WebhookRequest) -> InboundSms: ...

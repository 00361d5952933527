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
from typing import Any, Protocol, TypeVar, runtime_checkable

from scheduler.agents import AgentFigures
from telephony.script import VoiceScript


class ProviderError(Exception):
    """A provider call failed. ``permanent`` says retrying cannot help (an invalid or
    blocked number); otherwise (5xx, timeout, rate limit, connection refused) it may.
    ``uncertain`` says the request may have reached the provider all the same (it timed
    out after being sent): a dial that may be ringing is neither redialled nor failed over."""

    def __init__(
        self, message: str, *, permanent: bool = False, uncertain: bool = False, code: str | None = None
    ) -> None:
        super().__init__(message)
        self.message = message
        self.permanent = permanent
        self.uncertain = uncertain
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
    # A machine verdict given once the machine's greeting ended (Twilio's machine_end_*,
    # Vonage's beep): a message said from now on is recorded.
    greeting_ended: bool = False


_T = TypeVar("_T")

CALL_EVENT_FORMAT = 1  # the version of call_event_to_json's document


def call_event_to_json(event: CallEvent) -> dict[str, Any]:
    """A JSON document of the report, to store it and apply it later (the webhook inbox).
    Spelled out field by field (enums by value, instants in ISO 8601 with their offset) so
    that what is stored does not change when the dataclass does without us noticing."""
    return {
        "v": CALL_EVENT_FORMAT,
        "provider": event.provider,
        "call_id": event.call_id,
        "state": event.state.value,
        "answered_by": event.answered_by.value if event.answered_by is not None else None,
        "sequence": event.sequence,
        "duration_seconds": event.duration_seconds,
        "billable_seconds": event.billable_seconds,
        "started_at": _instant_to_json(event.started_at),
        "answered_at": _instant_to_json(event.answered_at),
        "ended_at": _instant_to_json(event.ended_at),
        "recording_url": event.recording_url,
        "error_code": event.error_code,
        "dedupe_key": event.dedupe_key,
        "greeting_ended": event.greeting_ended,
    }


def call_event_from_json(document: object) -> CallEvent:
    """The report call_event_to_json stored; ValueError when the document is not one."""
    if not isinstance(document, dict):
        raise ValueError("a stored call event must be a JSON object")
    if document.get("v") != CALL_EVENT_FORMAT:
        raise ValueError(f"unknown stored call event format {document.get('v')!r}")
    answered_by = _optional(document, "answered_by", str)
    return CallEvent(
        provider=_required_str(document, "provider"),
        call_id=_required_str(document, "call_id"),
        state=CallState(_required_str(document, "state")),
        answered_by=AnsweredBy(answered_by) if answered_by is not None else None,
        sequence=_optional(document, "sequence", int),
        duration_seconds=_optional(document, "duration_seconds", int),
        billable_seconds=_optional(document, "billable_seconds", int),
        started_at=_instant_from_json(document, "started_at"),
        answered_at=_instant_from_json(document, "answered_at"),
        ended_at=_instant_from_json(document, "ended_at"),
        recording_url=_optional(document, "recording_url", str),
        error_code=_optional(document, "error_code", str),
        dedupe_key=_optional(document, "dedupe_key", str) or "",
        greeting_ended=document.get("greeting_ended") is True,  # absent in reports stored before it
    )


def _instant_to_json(value: datetime | None) -> str | None:
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("a call event holds a naive datetime: adapters must give aware instants")
    return value.isoformat()


def _instant_from_json(document: dict[str, Any], key: str) -> datetime | None:
    text = _optional(document, key, str)
    if text is None:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"stored call event {key} has no time zone")
    return value


def _required_str(document: dict[str, Any], key: str) -> str:
    value = _optional(document, key, str)
    if value is None:
        raise ValueError(f"stored call event lacks {key}")
    return value


def _optional(document: dict[str, Any], key: str, kind: type[_T]) -> _T | None:
    value = document.get(key)
    if value is None:
        return None
    if not isinstance(value, kind) or isinstance(value, bool):
        raise ValueError(f"stored call event {key} is not a {kind.__name__}: {value!r}")
    return value


@dataclass(frozen=True)
class QueueData:
    """What a provider reports about a caller's place in its own queue (Twilio posts
    these to an ``<Enqueue>`` wait URL); each figure is None when not sent. Vonage and the
    simulator have no queue of their own: they never give one."""

    position: int | None = None  # QueuePosition: 1 is next
    waited_seconds: int | None = None  # QueueTime: how long this caller has waited in it
    average_wait_seconds: int | None = None  # AvgQueueTime: the queue's average wait
    size: int | None = None  # CurrentQueueSize: callers in the queue


class QueueExit(StrEnum):
    """How a caller got out of the provider's queue (the Enqueue's action URL; Twilio's
    QueueResult): they left it (our Leave), talked to an agent who took them from it (the
    conversation has ended), hung up while waiting, or the queue could not hold them
    (full, an error, redirected out of it)."""

    LEFT = "left"
    BRIDGED = "bridged"
    HUNG_UP = "hung_up"
    FAILED = "failed"


@dataclass(frozen=True)
class GatherResult:
    """What the caller pressed or said in answer to a gather; on a provider queue's wait
    URL, their place in it (``queue_data``); on its action URL, how they left it."""

    call_id: str
    digits: str | None = None
    speech: str | None = None
    confidence: float | None = None
    queue_data: QueueData | None = None
    queue_exit: QueueExit | None = None


@dataclass(frozen=True)
class DialResult:
    """How the bridge to the agent went (the Connect action's status_url), reported on
    the customer's call: ANSWERED while the agent talks, then COMPLETED, or BUSY /
    NO_ANSWER / FAILED when no agent took the call."""

    call_id: str
    state: CallState
    duration_seconds: int | None = None
    queue_data: QueueData | None = None


@dataclass(frozen=True)
class InboundCall:
    """A caller dialled one of our numbers: the provider asks what to play (the answer URL
    set on the number). ``from_`` is the caller id as the provider gave it, normalised to
    ``+digits`` where it is digits; it may be empty, ``anonymous`` or a client name when
    withheld, so it is parsed (and may be refused) by whoever uses it."""

    provider: str
    call_id: str
    from_: str
    to: str
    queue_data: QueueData | None = None


@dataclass(frozen=True)
class InboundSms:
    provider: str
    message_id: str
    from_: str
    to: str
    text: str
    # One part of a concatenated text (Vonage SMS API): the sms module keeps the parts
    # until all ``concat_total`` have come, then handles the whole text once.
    concat_ref: str | None = None
    concat_part: int | None = None
    concat_total: int | None = None


SMS_STATUSES = ("queued", "sent", "delivered", "undelivered", "failed")
TERMINAL_SMS_STATUSES = frozenset({"delivered", "undelivered", "failed"})


@dataclass(frozen=True)
class SmsStatus:
    """A delivery report for one outgoing text. ``status`` is one of SMS_STATUSES;
    ``raw_status`` is the provider's own word for it."""

    provider: str
    message_id: str
    status: str
    error_code: str | None = None
    raw_status: str = ""

    def __post_init__(self) -> None:
        if self.status not in SMS_STATUSES:
            raise ValueError(f"unknown SMS status {self.status!r}")


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


# A hold's status URL carries the caller's own call id under this query parameter: a
# provider whose bridge reports name only the agent's leg (Vonage) reads it from there.
CALLER_CALL_ID_PARAM = "call_id"


@runtime_checkable
class Telephony(Protocol):
    """A provider. Besides calls, texts and webhooks, each adapter states its quirks here
    so that nothing outside telephony/ branches on a provider's name."""

    name: str
    # Where a call is put through when the queue names no agent (the simulator's stand-in
    # agent); None: a queue on this provider must name its agent_target to be bridged.
    default_agent_target: str | None
    # Whether callers may hold in the provider's own queue (the script's Enqueue and Leave):
    # a queue whose hold_mode is "enqueue" holds them there; otherwise it rings agent_target.
    supports_enqueue: bool
    # Whether the webhooks' signatures are checked (the credentials to check them are set).
    verifies_webhooks: bool
    # Whether the provider answers an opt-out keyword itself (ours would then be refused).
    confirms_opt_out: bool

    def opted_out_by_provider(self, text: str) -> bool:
        """Whether the provider itself took this inbound text as an opt-out and blocks
        every later text to its sender, whatever our webhook answers (Twilio's bare CANCEL)."""
        ...

    def sms_webhook_answer(self) -> RenderedScript | None:
        """What an inbound-text webhook answers once handled (None: an empty 204)."""
        ...

    def place_call(self, call: OutboundCall) -> PlacedCall: ...

    def fetch_call(self, call_id: str) -> CallEvent: ...

    def redirect_call(self, call_id: str, script: VoiceScript) -> None:
        """Replace what a live call is playing with ``script`` (an answering machine is
        taken away from the human menu). ProviderError when the provider refuses, or the
        call has ended meanwhile."""
        ...

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

    def parse_sms_status(self, request: WebhookRequest) -> SmsStatus:
        """A delivery report for a text we sent; ValueError when it is not one."""
        ...

    def parse_inbound_call(self, request: WebhookRequest) -> InboundCall: ...


@dataclass(frozen=True)
class TaskAssignment:
    """An ACD reserved a worker for one of the tasks we made (TaskRouter's assignment callback)."""

    task_sid: str
    reservation_sid: str
    worker_sid: str
    attributes: Mapping[str, Any]  # the task's own, as we made it


class AgentReservations(Protocol):
    """Agent-first through a provider's ACD (services/dialer/reservations.py): a task
    reserves a worker, who is rung and accepts, before the customer is rung. Twilio
    TaskRouter is the one yet (telephony/twilio_taskrouter.py). Failures raise ProviderError."""

    def create_task(
        self,
        workspace_sid: str,
        workflow_sid: str,
        attributes: Mapping[str, Any],
        timeout_seconds: int,
        in_line_since: datetime | None = None,
    ) -> str:
        """A task that reserves a worker; ``in_line_since`` is its place in the ACD's line
        (the callback keeps its caller's: the task is as old as that)."""
        ...

    def task_open(self, workspace_sid: str, task_sid: str) -> bool:
        """Whether the task may still reserve a worker, or has one."""
        ...

    def close_task(self, workspace_sid: str, task_sid: str, *, completed: bool, reason: str) -> None: ...

    def parse_assignment(self, form: Mapping[str, str]) -> TaskAssignment:
        """ValueError when the request is not an assignment."""
        ...

    def ring_worker(self, answer_url: str, status_url: str, caller_id: str) -> dict[str, Any]:
        """The answer to an assignment: ring the worker, accept when they answer."""
        ...

    def reject(self) -> dict[str, Any]: ...


class AgentFiguresSource(Protocol):
    """A queue's live agent figures as a provider's own ACD reports them, read by the
    worker (services/taskrouter_figures.py). Twilio TaskRouter is the one source yet
    (telephony/twilio_taskrouter.py), hence its two SIDs. Failures raise ProviderError."""

    name: str

    def figures(
        self, workspace_sid: str, task_queue_sid: str, *, now: datetime, average_handle_seconds: int
    ) -> AgentFigures: ...

"""The inbound flow's vocabulary (ivr_flows/inbound.py): what it knows (the signed state
of the call, the facts the shell loads), what it asks the shell to do (effects) and what
it hears back (outcomes), and the reply it gives."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from scheduler.errors import DomainError
from telephony.base import QueueData
from telephony.script import VoiceScript

# --- what the flow knows --------------------------------------------------------------


@dataclass(frozen=True)
class IvrState:
    """Everything the flow remembers between two webhooks of one call. It travels signed
    in the gather's action URL (see ``encode``/``decode`` in services/inbound_calls.py)."""

    queue: str
    call_id: str
    step: str
    language: str = "en"
    caller: str | None = None  # the caller id, E.164, when it is a number we could call
    chosen: str | None = None  # the number to call back, once known
    entered: str | None = None  # a keyed-in number waiting for "press 1 if that is right"
    choice: str | None = None  # "asap" | "time" | "link"
    offered: tuple[int, ...] = ()  # the slot starts just read out, epoch seconds (UTC)
    page: int = 0
    tries: int = 0
    existing_ref: str | None = None  # changing this callback's time instead of booking one
    held: int = 0  # seconds spent ringing the agents so far
    booked: int | None = None  # once booked: its slot start (or ASAP range's start), epoch seconds, for the text
    booked_until: int | None = None  # and for ASAP the range's end
    # Holding in the provider's queue (Twilio <Enqueue>): the script answers its wait URL,
    # where a Connect or another Enqueue cannot run and "keep holding" keeps the caller's place.
    queued: bool = False
    first_offer: int = 0  # in the queue: the wait (QueueTime, seconds) at which the first offer comes
    # The queue figures the wait URL brought with the offer: a keypress's request carries none,
    # and the menu's wait and the ASAP callback's estimate follow what the caller was told.
    queue_data: QueueData | None = None

    def to_json(self) -> dict[str, object]:
        document: dict[str, object] = {"q": self.queue, "c": self.call_id, "s": self.step, "l": self.language}
        for key, value in (
            ("f", self.caller),
            ("n", self.chosen),
            ("e", self.entered),
            ("k", self.choice),
            ("r", self.existing_ref),
        ):
            if value is not None:
                document[key] = value
        if self.offered:
            document["o"] = list(self.offered)
        if self.page:
            document["p"] = self.page
        if self.tries:
            document["t"] = self.tries
        if self.booked is not None:
            document["b"] = self.booked
        if self.booked_until is not None:
            document["u"] = self.booked_until
        if self.held:
            document["h"] = self.held
        if self.queued:
            document["w"] = 1
        if self.first_offer:
            document["a"] = self.first_offer
        if self.queue_data is not None:
            data = self.queue_data
            document["d"] = [data.position, data.waited_seconds, data.average_wait_seconds, data.size]
        return document

    @classmethod
    def from_json(cls, document: object) -> IvrState:
        if not isinstance(document, dict):
            raise ValueError("an IVR state is a JSON object")
        offered = document.get("o", [])
        if not isinstance(offered, list) or not all(isinstance(o, int) for o in offered):
            raise ValueError("offered slots must be a list of instants")
        figures = document.get("d")
        if figures is not None and (
            not isinstance(figures, list)
            or len(figures) != 4
            or not all(f is None or isinstance(f, int) for f in figures)
        ):
            raise ValueError("queue figures must be a list of four whole numbers or nulls")
        return cls(
            queue=str(document["q"]),
            call_id=str(document["c"]),
            step=str(document["s"]),
            language=str(document.get("l", "en")),
            caller=_opt(document.get("f")),
            chosen=_opt(document.get("n")),
            entered=_opt(document.get("e")),
            choice=_opt(document.get("k")),
            offered=tuple(offered),
            page=int(document.get("p", 0)),
            tries=int(document.get("t", 0)),
            existing_ref=_opt(document.get("r")),
            booked=int(document["b"]) if "b" in document else None,
            booked_until=int(document["u"]) if "u" in document else None,
            held=int(document.get("h", 0)),
            queued=bool(document.get("w", 0)),
            first_offer=int(document.get("a", 0)),
            queue_data=QueueData(*figures) if figures is not None else None,
        )


def _opt(value: object) -> str | None:
    return None if value is None else str(value)


@dataclass(frozen=True)
class QueueFacts:
    key: str
    name: str
    timezone: str
    language: str
    region: str
    allowed_countries: tuple[str, ...]
    agent_target: str | None  # None: nobody to put a caller through to (a provider with no target)
    open_now: bool
    estimated_wait_seconds: int
    offer_threshold_seconds: int
    offer_at_entry: bool
    offer_repeat_seconds: int = 60
    average_handle_seconds: int = 300  # with ``agents``: what a provider's queue position is worth
    agents: int = 1
    # Why no callback is offered now (scheduler/offer_limits.py): "paused", "too_many_pending",
    # "wait_too_long"; None: offered as usual. The caller holds instead, told why.
    callbacks_withheld: str | None = None
    # Recordings to play instead of text-to-speech, by prompt key (RECORDABLE_PROMPTS only).
    prompt_audio: Mapping[str, str] = field(default_factory=dict)
    # The provider's queue a holding caller waits in (hold_mode "enqueue" on a provider that
    # has one: Twilio); None: holding rings agent_target.
    enqueue_as: str | None = None
    # The caller's own wait in the line, before the callbacks due ahead of them that
    # ``estimated_wait_seconds`` counts too (they are served first as they fall due): what
    # an ASAP booking counts the callbacks ahead from. None: ``estimated_wait_seconds``.
    line_wait_seconds: int | None = None


@dataclass(frozen=True)
class ExistingCallback:
    ref: str
    kind: str  # "asap" | "scheduled"
    at: datetime  # the slot's start (scheduled), or ASAP: the start of the range told (else its due time)
    until: datetime | None = None  # ASAP: the end of the range told (scheduler/ecbt.py)


@dataclass(frozen=True)
class Facts:
    queue: QueueFacts
    existing: ExistingCallback | None = None
    slots: tuple[datetime, ...] = ()  # the next slot starts with seats left, in order
    queue_data: QueueData | None = None  # the provider's own queue figures, where this webhook has them
    # Once the caller left the provider's queue to hear it: what they took there, the
    # callback they booked (still live) or the text with a link.
    taken: Booked | None = None
    texted_link: bool = False


# --- what the shell does for the flow ---------------------------------------------------


@dataclass(frozen=True)
class Book:
    phone: str
    kind: str  # "asap" | "scheduled"
    slot_start: datetime | None = None
    estimated_wait_seconds: int | None = None


@dataclass(frozen=True)
class Reschedule:
    ref: str
    slot_start: datetime


@dataclass(frozen=True)
class Cancel:
    ref: str


@dataclass(frozen=True)
class TextLink:
    phone: str
    body_template: str  # the SMS text with {link} still to fill


@dataclass(frozen=True)
class Resolve:
    """The caller reached an agent while their callback was still waiting: close it, so
    that nobody dials them for what is already done."""

    ref: str


@dataclass(frozen=True)
class TextConfirmation:
    """The caller pressed 1 for a text confirming their callback: send it, and note
    their consent to texts on the callback."""

    phone: str
    body: str


Effect = Book | Reschedule | Cancel | TextLink | TextConfirmation | Resolve


@dataclass(frozen=True)
class Booked:
    """The callback the effect left: booked now, or the one the number already had."""

    kind: str
    at: datetime  # slot start (scheduled), or ASAP: the start of the range told (else its due time)
    phone: str
    until: datetime | None = None  # ASAP: the end of the range told
    ref: str | None = None


@dataclass(frozen=True)
class Failed:
    error: DomainError


Outcome = Booked | Failed | None


@dataclass(frozen=True)
class Reply:
    script: VoiceScript
    state: IvrState | None = None  # the state the script's gather carries, if any
    effect: Effect | None = None


UrlFor = Callable[[IvrState], str]

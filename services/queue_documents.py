"""Queues as code: a queue with its weekly template and date overrides as one JSON document.

``callbacks queue import FILE.json`` creates or replaces a queue from a document;
``callbacks queue export KEY`` prints one. The schema is in docs/queues.md.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from itertools import pairwise
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

import phonenumbers
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.models import DateOverride, Queue, WeeklyHours
from ivr_flows.inbound import PROMPTS, RECORDABLE_PROMPTS
from scheduler.calendar import Interval
from scheduler.errors import ValidationFailed
from scheduler.slot_plan import capacity_from_staffing
from services.queues import QUEUE_KEY
from services.slot_sync import sync_slots
from telephony.registry import PROVIDERS

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
Weekday = Literal["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
ClockTime = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def _time(value: str) -> time:
    return time.fromisoformat(value)


class HoursDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    opens: ClockTime
    closes: ClockTime  # "00:00" = midnight
    slot_minutes: Annotated[int, Field(ge=5, le=1440)]
    # Seats per slot: given as a number, or derived from staffing (agents on shift and the
    # share of their time kept for callbacks, with the queue's average_handle_seconds).
    capacity: Annotated[int, Field(ge=0, le=10_000)] | None = None
    agents: Annotated[int, Field(ge=0, le=10_000)] | None = None
    callback_percent: Annotated[int, Field(ge=0, le=100)] | None = None

    def interval(self, average_handle_seconds: int = 0) -> Interval:
        return Interval(_time(self.opens), _time(self.closes), self.slot_minutes, self.seats(average_handle_seconds))

    def staffing_percent(self) -> int | None:
        """The callback share kept with staffing (100 when left out); None without staffing."""
        if self.agents is None:
            return None
        return 100 if self.callback_percent is None else self.callback_percent

    def seats(self, average_handle_seconds: int) -> int:
        if self.capacity is not None:
            return self.capacity
        assert self.agents is not None
        if average_handle_seconds <= 0:
            return 0  # refused by the queue's own check (QueueDoc._consistent)
        percent = self.staffing_percent()
        assert percent is not None
        return capacity_from_staffing(self.agents, self.slot_minutes, percent, average_handle_seconds)

    @model_validator(mode="after")
    def _closes_after_opens(self) -> HoursDoc:
        if (self.capacity is None) == (self.agents is None):
            raise ValueError("give either capacity (seats per slot) or agents (seats derived from staffing)")
        if self.callback_percent is not None and self.agents is None:
            raise ValueError("callback_percent goes with agents")
        try:
            self.interval()
        except ValueError as exc:
            raise ValueError(str(exc)) from None
        return self


class WeeklyDoc(HoursDoc):
    weekday: Weekday


class OverrideDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    date: Annotated[str, StringConstraints(pattern=r"^\d{4}-\d{2}-\d{2}$")]
    closed: bool = False
    hours: list[HoursDoc] = []
    note: Annotated[str, StringConstraints(max_length=200)] | None = None

    @model_validator(mode="after")
    def _closed_or_hours(self) -> OverrideDoc:
        date.fromisoformat(self.date)
        if self.closed == bool(self.hours):
            raise ValueError("an override is either closed: true or has hours, not both or neither")
        _no_overlap([h.interval() for h in self.hours], self.date)
        return self


OutcomeName = Literal["busy", "no_answer", "machine", "rejected", "failed", "customer_hung_up", "agent_unavailable"]


def _known_provider(name: str) -> str:
    if name not in PROVIDERS:
        raise ValueError(f"{name!r} is not a provider; providers: {', '.join(PROVIDERS)}")
    return name


Provider = Annotated[str, AfterValidator(_known_provider)]  # one of telephony/registry.py's


class RuleDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    delay_seconds: Annotated[int, Field(ge=0, le=86_400)]
    max_attempts: Annotated[int, Field(ge=1, le=20)]


class QuietHoursDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    enabled: bool = True
    starts: ClockTime = "21:00"
    ends: ClockTime = "08:00"


class RetryPolicyDoc(BaseModel):
    """Per outcome: the delay before the next attempt and the attempt budget (defaults in
    scheduler/retry.py); and the customer's quiet hours, in their own zone."""

    model_config = ConfigDict(extra="forbid", strict=True)

    rules: dict[OutcomeName, RuleDoc] = {}
    quiet_hours: QuietHoursDoc = QuietHoursDoc()


class RemindersDoc(BaseModel):
    """Texts to a customer who agreed to them (sms/reminders.py): a confirmation when the
    callback is booked, and reminders this many minutes before a scheduled callback. One
    that would fall in the customer's quiet hours (``retry_policy.quiet_hours``, their own
    zone) is sent just before those hours begin ("earlier") or not at all ("skip")."""

    model_config = ConfigDict(extra="forbid", strict=True)

    confirmation: bool = True
    before_minutes: list[Annotated[int, Field(ge=5, le=10_080)]] = [1440, 15]
    in_quiet_hours: Literal["earlier", "skip"] = "earlier"

    @field_validator("before_minutes")
    @classmethod
    def _distinct(cls, value: list[int]) -> list[int]:
        if len(value) != len(set(value)):
            raise ValueError("a reminder time is listed twice")
        if len(value) > 5:
            raise ValueError("at most 5 reminders")
        return value


# TaskRouter SIDs, as Twilio's own spec defines them (twilio_taskrouter_v1.json).
TaskRouterWorkspace = Annotated[str, StringConstraints(pattern=r"^WS[0-9a-fA-F]{32}$")]
TaskRouterTaskQueue = Annotated[str, StringConstraints(pattern=r"^WQ[0-9a-fA-F]{32}$")]
TaskRouterWorkflow = Annotated[str, StringConstraints(pattern=r"^WW[0-9a-fA-F]{32}$")]

# A Twilio queue's friendly name: 1 to 64 characters (Twilio's limit), no control characters.
TwilioQueueName = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")]

Slug = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")]
Label = Annotated[str, StringConstraints(min_length=1, max_length=80, pattern=r"^[^\x00-\x1f\x7f]*$")]
Origin = Annotated[str, StringConstraints(pattern=r"^https?://[a-z0-9.-]+(:\d{1,5})?$")]


class WidgetFieldDoc(BaseModel):
    """An extra field the web widget and booking page ask for (kept in the callback's ``fields``)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    name: Slug
    label: Label
    required: bool = False


class WidgetUnitDoc(BaseModel):
    """A unit (department) a visitor may choose; its ``id`` is stored as the callback's ``unit``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    id: Slug
    name: Label


class WidgetDoc(BaseModel):
    """The web widget and the hosted booking page (web_widget/, docs/widget.md)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    # Sites that may embed the widget (CORS): scheme, host and port exactly, e.g.
    # "https://www.example.com". Empty: no other site (the hosted page still works).
    allowed_origins: list[Origin] = []
    fields: Annotated[list[WidgetFieldDoc], Field(max_length=5)] = []
    tags: Annotated[list[Annotated[str, StringConstraints(min_length=1, max_length=100)]], Field(max_length=10)] = []
    units: Annotated[list[WidgetUnitDoc], Field(max_length=50)] = []
    # Numbers or prefixes (E.164, "+" and digits) never accepted from the web.
    blocked_numbers: list[Annotated[str, StringConstraints(pattern=r"^\+[0-9]{1,15}$")]] = []
    requests_per_phone_per_hour: Annotated[int, Field(ge=1, le=1000)] = 3

    @model_validator(mode="after")
    def _distinct(self) -> WidgetDoc:
        if len({f.name for f in self.fields}) != len(self.fields):
            raise ValueError("a field name is listed twice")
        if len({u.id for u in self.units}) != len(self.units):
            raise ValueError("a unit id is listed twice")
        return self


class QueueDoc(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    key: Annotated[str, StringConstraints(pattern=QUEUE_KEY.pattern)]
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    timezone: str
    language: Literal["en", "ru", "fr"] = "en"
    region: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")] = "GB"
    # Where agents answer: +E164 (or tel:+E164), sip:user@host, or queue:NAME (a Twilio queue).
    agent_target: (
        Annotated[str, StringConstraints(max_length=255, pattern=r"^(tel:)?\+[1-9]\d{6,14}$|^sip:\S+$|^queue:\S+$")]
        | None
    ) = None
    dial_mode: Literal["customer_first", "agent_first"] = "customer_first"
    # Inbound calls (ivr_flows/inbound.py): the numbers this queue answers, and when it
    # offers a callback instead of holding (docs/queues.md, "Inbound calls").
    inbound_numbers: list[Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")]] = []
    offer_threshold_seconds: Annotated[int, Field(ge=0, le=86_400)] = 60
    offer_at_entry: bool = False
    offer_repeat_seconds: Annotated[int, Field(ge=10, le=3_600)] = 60
    # How a holding caller waits: ringing agent_target ("dial"), or, on Twilio, in the Twilio
    # queue twilio_queue (None: named like the queue's key) that agents dequeue from ("enqueue").
    hold_mode: Literal["dial", "enqueue"] = "dial"
    twilio_queue: TwilioQueueName | None = None
    callers_waiting: Annotated[int, Field(ge=0, le=100_000)] = 0
    agents: Annotated[int, Field(ge=1, le=100_000)] = 1
    average_handle_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    estimated_wait_seconds: Annotated[int, Field(ge=0, le=86_400)] = 300
    lead_minutes: Annotated[int, Field(ge=0, le=10_080)] = 30
    horizon_days: Annotated[int, Field(ge=0, le=366)] = 14
    asap_reserve_percent: Annotated[int, Field(ge=0, le=100)] = 0
    collect_off_hours: bool = False
    allowed_countries: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]] = []
    max_concurrent_calls: Annotated[int, Field(ge=1, le=10_000)] = 10
    # Pacing by live agents (PUT /api/v1/queues/{key}/agents): no more calls ringing than
    # agents free plus this share of them (0.25: 5 free agents, 6 calls out).
    over_dial_ratio: Annotated[float, Field(ge=0, le=2)] = 0.0
    # Limits on taking callbacks (scheduler/offer_limits.py): new callbacks taken at all,
    # callbacks dialled at all, and the thresholds past which callers hold instead.
    register_enabled: bool = True
    process_enabled: bool = True
    max_pending: Annotated[int, Field(ge=0, le=1_000_000)] | None = None
    max_ecbt_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    # Live agent figures read from Twilio TaskRouter (the worker polls them: services/taskrouter_figures.py):
    # the workspace and the task queue whose real-time statistics are this queue's agents. Both or neither.
    taskrouter_workspace_sid: TaskRouterWorkspace | None = None
    taskrouter_task_queue_sid: TaskRouterTaskQueue | None = None
    # Agent-first through TaskRouter (services/dialer/reservations.py): a task in this workflow
    # reserves the agent, who accepts it, before the customer is rung. Needs the workspace.
    taskrouter_workflow_sid: TaskRouterWorkflow | None = None
    caller_id: Annotated[str, StringConstraints(pattern=r"^\+[1-9]\d{6,14}$")] | None = None
    primary_provider: Provider | None = None
    secondary_provider: Provider | None = None
    voicemail_text: Annotated[str, StringConstraints(max_length=500)] | None = None
    # An answering machine takes the call (scheduler/machine.py): hang up, or leave
    # voicemail_text after the beep (None: leave it when there is one); then retry or close.
    machine_action: Literal["hang_up", "leave_message"] | None = None
    after_message: Literal["retry", "close"] = "retry"
    # Inbound prompts played from a recording (in the queue's language) instead of
    # text-to-speech: prompt key -> https URL; only prompts said the same on every call.
    prompt_audio: dict[str, Annotated[str, StringConstraints(max_length=1000)]] = {}
    retry_policy: RetryPolicyDoc = RetryPolicyDoc()
    reminders: RemindersDoc = RemindersDoc()
    widget: WidgetDoc = WidgetDoc()
    # Days after which this queue's finished callbacks are anonymised (None: RETENTION_DAYS).
    retention_days: Annotated[int, Field(ge=1, le=3650)] | None = None
    weekly_hours: list[WeeklyDoc] = []
    date_overrides: list[OverrideDoc] = []

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        if value not in _zones():
            raise ValueError(f"{value!r} is not an IANA time zone such as Europe/London")
        try:
            ZoneInfo(value)
        except ZoneInfoNotFoundError:  # pragma: no cover - listed but not loadable
            raise ValueError(f"{value!r} cannot be loaded") from None
        return value

    @field_validator("twilio_queue")
    @classmethod
    def _with_enqueue(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and info.data.get("hold_mode") != "enqueue":
            raise ValueError("names the Twilio queue callers hold in: it goes with hold_mode enqueue")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        if value not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phone numbers can be read in")
        return value

    @field_validator("prompt_audio")
    @classmethod
    def _recordings(cls, value: dict[str, str]) -> dict[str, str]:
        for key, url in value.items():
            if key not in PROMPTS:
                raise ValueError(
                    f"{key!r} is not a prompt; recordable prompts: {', '.join(sorted(RECORDABLE_PROMPTS))}"
                )
            if key not in RECORDABLE_PROMPTS:
                raise ValueError(
                    f"{key!r} says something that changes from call to call (a time, a wait, a number) or is not"
                    " said on a queue's calls, so it cannot be pre-recorded"
                )
            parsed = urlsplit(url)
            if parsed.scheme != "https" or not parsed.hostname or any(c.isspace() for c in url):
                raise ValueError(f"the recording of {key!r} must be an https:// URL, not {url!r}")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> QueueDoc:
        for name in WEEKDAYS:
            _no_overlap([w.interval() for w in self.weekly_hours if w.weekday == name], name)
        if self.secondary_provider and self.secondary_provider == self.primary_provider:
            raise ValueError("the secondary provider must differ from the primary")
        staffed = [
            h for h in (*self.weekly_hours, *(h for o in self.date_overrides for h in o.hours)) if h.agents is not None
        ]
        if staffed and self.average_handle_seconds <= 0:
            raise ValueError("seats derived from staffing (agents) need average_handle_seconds above 0")
        uses_taskrouter = self.taskrouter_task_queue_sid is not None or self.taskrouter_workflow_sid is not None
        if uses_taskrouter and self.taskrouter_workspace_sid is None:
            raise ValueError(
                "TaskRouter figures (taskrouter_task_queue_sid) and reservations (taskrouter_workflow_sid)"
                " need taskrouter_workspace_sid"
            )
        if self.taskrouter_workspace_sid is not None and not uses_taskrouter:
            raise ValueError(
                "taskrouter_workspace_sid needs taskrouter_task_queue_sid (figures) or taskrouter_workflow_sid"
                " (reservations), or both"
            )
        if self.machine_action == "leave_message" and not self.voicemail_text:
            raise ValueError("machine_action leave_message needs a voicemail_text to say")
        if len(self.inbound_numbers) != len(set(self.inbound_numbers)):
            raise ValueError("an inbound number is listed twice")
        dates = [o.date for o in self.date_overrides]
        if len(dates) != len(set(dates)):
            raise ValueError("each date may have one override (list several hours inside it)")
        return self


_ZONES: set[str] = set()


def _zones() -> set[str]:
    if not _ZONES:
        _ZONES.update(available_timezones())
    return _ZONES


def _no_overlap(intervals: list[Interval], where: str) -> None:
    spans = sorted(i.open_minutes for i in intervals)
    for (_, end), (start, _) in pairwise(spans):
        if start < end:
            raise ValueError(f"hours on {where} overlap")


def parse_queue_document(document: Any) -> QueueDoc:
    if not isinstance(document, dict):
        raise ValidationFailed("a queue document is a JSON object", {"body": "expected an object"})
    try:
        return QueueDoc.model_validate(document)
    except ValidationError as exc:
        details = {".".join(str(p) for p in e["loc"]) or "queue": e["msg"] for e in exc.errors(include_url=False)}
        raise ValidationFailed("the queue document is not valid", details) from None


def import_queue(session: Session, doc: QueueDoc, now: datetime) -> tuple[Queue, bool]:
    """Create the queue, or replace its settings, template and overrides; then re-plan its slots."""
    queue = session.scalars(select(Queue).where(Queue.key == doc.key).with_for_update()).one_or_none()
    _numbers_are_free(session, doc)
    created = queue is None
    if queue is None:
        queue = Queue(key=doc.key, created_at=now)
        session.add(queue)
    settings = doc.model_dump(exclude={"key", "weekly_hours", "date_overrides"}, exclude_none=False)
    for name, value in settings.items():
        setattr(queue, name, value)
    queue.updated_at = now
    queue.calendar_tag = uuid.uuid4().hex
    # Old rows go before new ones arrive: they share unique keys (weekday, opens).
    queue.weekly_hours.clear()
    queue.date_overrides.clear()
    session.flush()
    queue.weekly_hours = [
        WeeklyHours(
            weekday=WEEKDAYS.index(w.weekday),
            opens=_time(w.opens),
            closes=_time(w.closes),
            slot_minutes=w.slot_minutes,
            capacity=w.seats(doc.average_handle_seconds),
            agents=w.agents,
            callback_percent=w.staffing_percent(),
        )
        for w in doc.weekly_hours
    ]
    overrides: list[DateOverride] = []
    for o in doc.date_overrides:
        day = date.fromisoformat(o.date)
        if o.closed:
            overrides.append(DateOverride(day=day, closed=True, note=o.note))
        for h in o.hours:
            overrides.append(
                DateOverride(
                    day=day,
                    closed=False,
                    opens=_time(h.opens),
                    closes=_time(h.closes),
                    slot_minutes=h.slot_minutes,
                    capacity=h.seats(doc.average_handle_seconds),
                    agents=h.agents,
                    callback_percent=h.staffing_percent(),
                    note=o.note,
                )
            )
    queue.date_overrides = overrides
    session.flush()
    sync_slots(session, queue, now)
    return queue, created


def _numbers_are_free(session: Session, doc: QueueDoc) -> None:
    """An inbound number routes to one queue: refuse a number another queue answers."""
    wanted = set(doc.inbound_numbers)
    if not wanted:
        return
    for key, numbers in session.execute(select(Queue.key, Queue.inbound_numbers).where(Queue.key != doc.key)):
        taken = wanted & set(numbers or [])
        if taken:
            raise ValidationFailed(
                "an inbound number belongs to another queue",
                {"inbound_numbers": f"{', '.join(sorted(taken))} is answered by queue {key!r}"},
            )


def export_queue(queue: Queue) -> dict[str, Any]:
    overrides: dict[date, dict[str, Any]] = {}
    for o in queue.date_overrides:
        entry = overrides.setdefault(o.day, {"date": o.day.isoformat(), "closed": o.closed, "hours": []})
        if o.note:
            entry["note"] = o.note
        if not o.closed:
            assert o.opens and o.closes
            entry["hours"].append(_hours(o.opens, o.closes, o.slot_minutes, o.capacity, o.agents, o.callback_percent))
    document: dict[str, Any] = {
        name: getattr(queue, name) for name in QueueDoc.model_fields if name not in ("weekly_hours", "date_overrides")
    }
    document["weekly_hours"] = [
        {
            "weekday": WEEKDAYS[w.weekday],
            **_hours(w.opens, w.closes, w.slot_minutes, w.capacity, w.agents, w.callback_percent),
        }
        for w in queue.weekly_hours
    ]
    document["date_overrides"] = [overrides[d] for d in sorted(overrides)]
    return document


def _hours(
    opens: time, closes: time, slot_minutes: int | None, capacity: int | None, agents: int | None, percent: int | None
) -> dict[str, Any]:
    hours: dict[str, Any] = {"opens": _hhmm(opens), "closes": _hhmm(closes), "slot_minutes": slot_minutes}
    if agents is None:
        hours["capacity"] = capacity
    else:
        hours["agents"], hours["callback_percent"] = agents, percent
    return hours


def _hhmm(t: time) -> str:
    return t.strftime("%H:%M")

"""Request bodies of the JSON API: strict shapes, unknown fields refused, per-field errors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from app.request_input import parse_instant
from scheduler.attribution import MAX_SESSION_KEY, MAX_URL, MAX_UTM
from scheduler.errors import ValidationFailed

# Control characters have no place in names or tags (and PostgreSQL cannot store NUL);
# free-text values may keep tabs and line breaks.
NO_CONTROL = r"^[^\x00-\x1f\x7f]*$"
NO_CONTROL_BUT_LINES = r"^[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f]*$"

QueueKey = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=NO_CONTROL)]
PhoneText = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=NO_CONTROL)]
PersonName = Annotated[str, StringConstraints(max_length=200, strip_whitespace=True, pattern=NO_CONTROL)]
FieldName = Annotated[str, StringConstraints(min_length=1, max_length=64, strip_whitespace=True, pattern=NO_CONTROL)]
FieldValue = Annotated[str, StringConstraints(max_length=255, pattern=NO_CONTROL_BUT_LINES)]
Tag = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NO_CONTROL)]
Unit = Annotated[str, StringConstraints(max_length=100, pattern=NO_CONTROL)]
UtmValue = Annotated[str, StringConstraints(max_length=MAX_UTM, pattern=NO_CONTROL)]
UrlText = Annotated[str, StringConstraints(max_length=MAX_URL, pattern=NO_CONTROL)]
SessionKey = Annotated[str, StringConstraints(max_length=MAX_SESSION_KEY, pattern=r"^[A-Za-z0-9_-]*$")]


def _loc(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc) or "body"


def validate(model: type[BaseModel], document: Any) -> Any:
    if not isinstance(document, dict):
        raise ValidationFailed("the body must be a JSON object", {"body": "expected an object"})
    try:
        return model.model_validate(document)
    except ValidationError as exc:
        details = {_loc(err["loc"]): err["msg"] for err in exc.errors(include_url=False)}
        raise ValidationFailed("some fields are not valid", details) from None


class CustomField(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: FieldName
    value: FieldValue


class Attribution(BaseModel):
    """Where a web visitor came from (scheduler/attribution.py, docs/widget.md#attribution)."""

    model_config = ConfigDict(extra="forbid", strict=True)

    session_key: SessionKey | None = None
    first_visit_at: str | None = None
    source: UtmValue | None = None
    medium: UtmValue | None = None
    campaign: UtmValue | None = None
    term: UtmValue | None = None
    content: UtmValue | None = None
    referrer: UrlText | None = None
    landing_page: UrlText | None = None

    @field_validator("first_visit_at")
    @classmethod
    def _instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_instant(value)
        return value


class CreateCallback(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    queue: QueueKey
    phone: PhoneText
    kind: Literal["asap", "scheduled"]
    slot_start: str | None = None
    name: PersonName | None = None
    fields: Annotated[list[CustomField], Field(max_length=5)] = []
    tags: Annotated[list[Tag], Field(max_length=10)] = []
    unit: Unit | None = None
    locale: Literal["en", "ru", "fr"] | None = None
    sms_consent: bool = False
    attribution: Attribution | None = None
    # A honeypot: forms carry it hidden from people; a bot that fills every input fills it.
    website: str = ""

    @field_validator("website")
    @classmethod
    def _honeypot(cls, value: str) -> str:
        if value:
            raise ValueError("must be left empty")
        return value

    @field_validator("slot_start")
    @classmethod
    def _instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_instant(value)
        return value

    @model_validator(mode="after")
    def _slot_matches_kind(self) -> CreateCallback:
        # Raised as our own error (not ValueError) so the detail names the field.
        if self.kind == "scheduled" and self.slot_start is None:
            raise ValidationFailed("some fields are not valid", {"slot_start": "required when kind is scheduled"})
        if self.kind == "asap" and self.slot_start is not None:
            raise ValidationFailed("some fields are not valid", {"slot_start": "must be left out when kind is asap"})
        return self

    @property
    def slot_instant(self) -> datetime | None:
        return parse_instant(self.slot_start) if self.slot_start else None


class Reschedule(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    slot_start: str

    @field_validator("slot_start")
    @classmethod
    def _instant(cls, value: str) -> str:
        parse_instant(value)
        return value


class SwitchesBody(BaseModel):
    """PUT /api/v1/switches: take new callbacks, dial the waiting ones, in every queue."""

    model_config = ConfigDict(extra="forbid", strict=True)

    register_enabled: bool
    process_enabled: bool


class AgentFiguresBody(BaseModel):
    """PUT /api/v1/queues/{key}/agents: a queue's live agents, as an ACD or WFM tool sees them."""

    model_config = ConfigDict(extra="forbid", strict=True)

    signed_in: Annotated[int, Field(ge=0, le=100_000)]
    available: Annotated[int, Field(ge=0, le=100_000)]
    average_handle_seconds: Annotated[int, Field(ge=1, le=86_400)]
    longest_wait_seconds: Annotated[int, Field(ge=0, le=86_400)] | None = None
    callers_waiting: Annotated[int, Field(ge=0, le=100_000)] | None = None  # in the ACD's line now
    at: str | None = None  # when they were measured (ISO 8601 with offset); the time of the request when absent

    @field_validator("at")
    @classmethod
    def _instant(cls, value: str | None) -> str | None:
        if value is not None:
            parse_instant(value)
        return value

"""Request bodies of the JSON API: strict shapes, unknown fields refused, per-field errors."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any, Literal

from flask import Request
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from infra.json_input import loads
from scheduler.errors import DomainError, ValidationFailed

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


class BadJSON(DomainError):
    type = "malformed_json"
    http_status = 400


class UnsupportedMediaType(DomainError):
    type = "unsupported_media_type"
    http_status = 415


def json_body(request: Request) -> Any:
    """The request's JSON document, or a clear 4xx: wrong type, bad encoding, bad JSON."""
    if request.mimetype != "application/json":
        raise UnsupportedMediaType("send the body as application/json", {"content_type": request.mimetype or None})
    raw = request.get_data(cache=True)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadJSON("the body is not valid UTF-8", {"byte": exc.start}) from None
    try:
        return loads(text)
    except ValueError as exc:
        raise BadJSON(f"the body is not valid JSON: {exc}", {}) from None


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


RFC3339 = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:\d{2})?$")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def parse_instant(value: str) -> datetime:
    """An RFC 3339 date-time with its offset (what the slot list gives), nothing looser."""
    if not RFC3339.match(value):
        raise ValueError("must be an ISO 8601 date-time such as 2026-11-24T09:00:00+00:00")
    try:
        instant = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError("must be an ISO 8601 date-time such as 2026-11-24T09:00:00+00:00") from None
    if instant.tzinfo is None:
        raise ValueError("must include a UTC offset (Z or +HH:MM)")
    return instant


class CustomField(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)

    name: FieldName
    value: FieldValue


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


def parse_query_date(raw: str | None, name: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        if not ISO_DATE.match(raw):
            raise ValueError(raw)
        return date.fromisoformat(raw)
    except ValueError:
        raise ValidationFailed(f"{name} must be a date like 2026-11-24", {name: "expected YYYY-MM-DD"}) from None


def parse_query_int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    if not raw.isdigit() or len(raw) > 4:
        raise ValidationFailed(f"{name} must be a whole number", {name: "expected a whole number"})
    return int(raw)

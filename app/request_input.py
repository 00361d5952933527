"""Reading a request's input, the same for every channel (the API, the booking page,
events' API, the console): its JSON body, a date-time, a query's date or number. Each
refusal is a DomainError with its type, answered 4xx by app/errors.py."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any

from flask import Request

from infra.json_input import loads
from scheduler.errors import DomainError, ValidationFailed


class BadJSON(DomainError):
    type = "malformed_json"


class UnsupportedMediaType(DomainError):
    type = "unsupported_media_type"


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

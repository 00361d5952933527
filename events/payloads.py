"""What a subscriber receives: an event as a document, then as JSON or XML bytes.

The document is the event's own row (its type, time, the callback's facts and state as of
the event, what changed) plus what is read at send time: the callback's personal fields
(phone, name, form fields), an attempt's call detail record, a text's number and body.
docs/events.md shows both formats.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from xml.etree import ElementTree

from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.event_models import OutboxEvent
from infra.models import Attempt, Callback
from infra.text_models import InboundText, SmsMessage


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def call_detail_record(attempt: Attempt) -> dict[str, Any]:
    return {
        "number": attempt.number,
        "provider": attempt.provider,
        "failover_from": attempt.failover_from,
        "call_id": attempt.call_id,
        "requested_at": _iso(attempt.requested_at),
        "started_at": _iso(attempt.started_at),
        "answered_at": _iso(attempt.answered_at),
        "ended_at": _iso(attempt.ended_at),
        "duration_seconds": attempt.duration_seconds,
        "billable_seconds": attempt.billable_seconds,
        "result": attempt.outcome,
        "answered_by": attempt.answered_by,
        "recording_url": attempt.recording_url,
    }


def preload(session: Session, events: Iterable[OutboxEvent]) -> list[object]:
    """Read, in one statement per table, the rows ``document`` will look up for these
    events; the caller holds the list while it renders, so each lookup hits the session."""
    wanted: dict[type[Any], set[int]] = {Callback: set(), Attempt: set(), InboundText: set(), SmsMessage: set()}
    for event in events:
        if event.callback_id is not None:
            wanted[Callback].add(event.callback_id)
        for key, model in (("attempt_id", Attempt), ("inbound_text_id", InboundText), ("sms_message_id", SmsMessage)):
            if key in event.data:
                wanted[model].add(event.data[key])
    loaded: list[object] = []
    for model, ids in wanted.items():
        if ids:
            loaded.extend(session.scalars(select(model).where(model.id.in_(ids))))
    return loaded


def document(session: Session, event: OutboxEvent) -> dict[str, Any]:
    """The event as a subscriber gets it (the same for every subscriber)."""
    data = event.data
    doc: dict[str, Any] = {"id": event.event_id, "type": event.type, "occurred_at": _iso(event.at)}
    callback = session.get(Callback, event.callback_id) if event.callback_id is not None else None
    if callback is not None:
        doc["callback"] = {
            **data.get("callback", {}),
            "phone": callback.phone,
            "name": callback.name,
            "fields": [dict(field) for field in callback.fields or []],
            "attribution": dict(callback.attribution) if callback.attribution else None,
        }
    else:
        doc["callback"] = None
    if "change" in data:
        doc["change"] = data["change"]
    if "attempt_id" in data:
        attempt = session.get(Attempt, data["attempt_id"])
        doc["attempt"] = call_detail_record(attempt) if attempt is not None else {"result": data.get("outcome")}
    if "inbound_text_id" in data:
        text = session.get(InboundText, data["inbound_text_id"])
        doc["sms"] = {"direction": "in", "command": data.get("command")}
        if text is not None:
            doc["sms"] |= {"from": text.from_, "to": text.to, "body": text.body, "received_at": _iso(text.received_at)}
    if "sms_message_id" in data:
        message = session.get(SmsMessage, data["sms_message_id"])
        doc["sms"] = {"direction": "out", **data.get("sms", {})}
        if message is not None:
            doc["sms"] |= {"to": message.to, "body": message.body, "sent_at": _iso(message.sent_at)}
    return doc


def to_json(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":")).encode()


# A list's items are named after the list (fields → field); anything else is an item.
_ITEM_NAMES = {"fields": "field", "tags": "tag"}


def _fill(element: ElementTree.Element, value: Any) -> None:
    if value is None:
        element.set("null", "true")
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ElementTree.SubElement(element, key), item)
    elif isinstance(value, list):
        for item in value:
            _fill(ElementTree.SubElement(element, _ITEM_NAMES.get(element.tag, "item")), item)
    else:
        element.text = str(value)


def to_xml(doc: dict[str, Any]) -> bytes:
    """``<event id="…" type="…">`` with one element per field; null is ``null="true"``."""
    root = ElementTree.Element("event", {"id": doc["id"], "type": doc["type"]})
    _fill(root, {key: value for key, value in doc.items() if key not in ("id", "type")})
    body: bytes = ElementTree.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


CONTENT_TYPES = {"json": "application/json", "xml": "application/xml"}


def render(doc: dict[str, Any], format_: str) -> bytes:
    return to_xml(doc) if format_ == "xml" else to_json(doc)

"""Small helpers shared by the integration tests."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient

from app import call_inbox


def phone(n: int) -> str:
    """A distinct valid UK mobile number per n (07400 000000 + n)."""
    return f"+447400{n:06d}"


def slots(client: FlaskClient, queue: str = "support", **params: object) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/queues/{queue}/slots", query_string=params)
    assert response.status_code == 200, response.get_json()
    result: list[dict[str, Any]] = response.get_json()["slots"]
    return result


def book(client: FlaskClient, n: int, slot_start: str | None = None, **extra: object) -> Any:
    body: dict[str, object] = {"queue": "support", "phone": phone(n), "kind": "scheduled" if slot_start else "asap"}
    if slot_start:
        body["slot_start"] = slot_start
    body.update(extra)
    return client.post("/api/v1/callbacks", json=body)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def weekday_hours(
    slot_minutes: int = 60,
    capacity: int = 2,
    opens: str = "09:00",
    closes: str = "17:00",
    days: tuple[str, ...] = WEEKDAYS,
) -> list[dict[str, object]]:
    """A queue document's weekly_hours: the same interval on each of ``days``."""
    return [
        {"weekday": d, "opens": opens, "closes": closes, "slot_minutes": slot_minutes, "capacity": capacity}
        for d in days
    ]


def apply_call_events(app: Flask) -> int:
    """What the worker's apply_call_events tick does, run to the end: apply the call-progress
    reports the status webhook stored in the inbox. Returns how many rows it took."""
    ext = app.extensions
    taken = 0
    while batch := call_inbox.apply_call_events(ext["db"], ext["clock"], ext["settings"]):
        taken += batch
    return taken


SHORT_LINK = re.compile(r"(https?://\S+?/b/([A-Za-z0-9]{10}))(?=\s|$)")


def short_link_in(body: str) -> str:
    """The one short link (``{PUBLIC_BASE_URL}/b/<code>``) a text carries."""
    found = SHORT_LINK.findall(body)
    assert len(found) == 1, body
    return str(found[0][0])


def follow_link(client: FlaskClient, body: str) -> tuple[str, str]:
    """Follow the short link in a text: (the booking page's path, the signed token)."""
    link = short_link_in(body)
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302, response.get_data(as_text=True)
    target = urlsplit(response.headers["Location"])
    return target.path, parse_qs(target.query)["t"][0]

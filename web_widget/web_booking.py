"""What a booking from the web (the widget, the booking page) must carry beyond the API's
shape, from the queue's ``widget`` settings: its required extra fields and, when the queue
has units, one of them; and the queue's web tags, added to the visitor's. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

MAX_TAGS = 10


def web_form_problems(widget: Mapping[str, Any], fields: Mapping[str, str], unit: str | None) -> dict[str, str]:
    """Per field (``fields.<name>``, ``unit``), what is wrong; empty when nothing is."""
    problems: dict[str, str] = {}
    for spec in widget.get("fields", ()):
        if spec.get("required") and not (fields.get(spec["name"]) or "").strip():
            problems[f"fields.{spec['name']}"] = "required"
    units = [u["id"] for u in widget.get("units", ())]
    if units and unit not in units:
        problems["unit"] = f"must be one of {', '.join(units)}"
    return problems


def web_tags(widget: Mapping[str, Any], tags: list[str]) -> list[str]:
    """The visitor's tags and the queue's web tags, each once, at most ``MAX_TAGS``."""
    merged = list(dict.fromkeys([*tags, *widget.get("tags", ())]))
    return merged[:MAX_TAGS]

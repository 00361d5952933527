"""Where a web visitor came from (the widget's ``attribution``, docs/widget.md#attribution):
the first-visit session key and its time, the UTM parameters, the referrer and the landing
page. Pure: what is kept of a booking's attribution, what anonymising leaves of it, and the
group a callback counts in for the reports' breakdowns."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

UTM_KEYS = ("source", "medium", "campaign", "term", "content")
# Personal or identifying: dropped when a callback is anonymised (the UTM values stay for reports).
IDENTIFYING_KEYS = ("session_key", "first_visit_at", "referrer", "landing_page")
KEYS = ("session_key", "first_visit_at", *UTM_KEYS, "referrer", "landing_page")

MAX_UTM = 200
MAX_URL = 2000
MAX_SESSION_KEY = 64

# The reports' group of a callback without the value (no attribution, or none for that key).
NONE_LABEL = "(none)"
BREAKDOWNS = ("source", "campaign")


def kept(attribution: Mapping[str, Any] | None) -> dict[str, str] | None:
    """The values worth storing, in the order of ``KEYS``: empty strings and nulls left
    out; None when nothing is left (a booking without attribution stores nothing)."""
    if not attribution:
        return None
    values = {key: str(attribution[key]).strip() for key in KEYS if attribution.get(key) is not None}
    values = {key: value for key, value in values.items() if value}
    return values or None


def anonymised(attribution: Mapping[str, Any] | None) -> dict[str, str] | None:
    """What anonymising leaves: the UTM values (reports group by them), not the session key,
    its time, the referrer or the landing page (URLs can carry who the visitor was)."""
    if not attribution:
        return None
    return kept({key: value for key, value in attribution.items() if key not in IDENTIFYING_KEYS})


def group_of(attribution: Mapping[str, Any] | None, key: str) -> str:
    """The group a callback counts in for the breakdown by ``key`` (source, campaign)."""
    value = (attribution or {}).get(key)
    return str(value) if value else NONE_LABEL

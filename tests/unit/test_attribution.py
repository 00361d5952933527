"""The pure rules of attribution (scheduler/attribution.py) and the reports' breakdowns."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from scheduler.attribution import NONE_LABEL, anonymised, group_of, kept
from scheduler.reports import CallbackRow, EventRow, breakdown

START = datetime(2027, 1, 4, tzinfo=UTC)
END = START + timedelta(days=1)


def test_only_values_are_kept_in_a_fixed_order() -> None:
    assert kept(None) is None
    assert kept({}) is None
    assert kept({"source": "", "medium": None, "referrer": "   "}) is None
    stored = kept({"landing_page": "https://a.example/", "campaign": " winter ", "source": "ads", "term": ""})
    assert stored == {"source": "ads", "campaign": "winter", "landing_page": "https://a.example/"}
    assert list(stored or {}) == ["source", "campaign", "landing_page"]


def test_anonymising_drops_who_the_visitor_was() -> None:
    visit = {
        "session_key": "k1",
        "first_visit_at": "2027-01-01T00:00:00Z",
        "source": "ads",
        "campaign": "winter",
        "referrer": "https://mail.example/?to=ada@example.com",
        "landing_page": "https://shop.example/?email=ada@example.com",
    }
    assert anonymised(visit) == {"source": "ads", "campaign": "winter"}
    assert anonymised({"session_key": "k1", "referrer": "https://x.example/"}) is None
    assert anonymised(None) is None


def test_the_group_of_a_callback() -> None:
    assert group_of({"source": "ads"}, "source") == "ads"
    assert group_of({"source": "ads"}, "campaign") == NONE_LABEL
    assert group_of(None, "source") == NONE_LABEL


def _row(source: str | None, campaign: str | None, *steps: tuple[str, int]) -> CallbackRow:
    attribution = kept({"source": source, "campaign": campaign})
    events = tuple(EventRow(step, START + timedelta(hours=hour), "customer:web") for step, hour in steps)
    return CallbackRow("web", events, (), attribution=attribution)


def test_a_breakdown_counts_each_group_in_the_window_most_booked_first() -> None:
    rows = [
        _row("ads", "winter", ("book", 1), ("complete", 2)),
        _row("ads", None, ("book", 3), ("cancel", 4)),
        _row("mail", "winter", ("book", 5)),
        _row(None, None, ("book", 6)),
        _row("old", None, ("book", -30)),  # booked before the window, nothing in it
    ]
    by_source = breakdown(rows, "source", START, END)
    assert [(name, f.booked_total, f.completed, f.cancelled_total) for name, f in by_source] == [
        ("ads", 2, 1, 1),
        ("(none)", 1, 0, 0),
        ("mail", 1, 0, 0),
    ]
    by_campaign = breakdown(rows, "campaign", START, END)
    assert [(name, f.booked_total) for name, f in by_campaign] == [("(none)", 2), ("winter", 2)]
    assert breakdown([], "source", START, END) == ()

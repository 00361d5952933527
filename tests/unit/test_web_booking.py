"""The web's booking rules from a queue's widget settings (web_widget/web_booking.py)."""

from __future__ import annotations

from web_widget.web_booking import MAX_TAGS, web_form_problems, web_tags

WIDGET = {
    "fields": [{"name": "order", "label": "Order", "required": True}, {"name": "note", "label": "Note"}],
    "units": [{"id": "sales", "name": "Sales"}, {"id": "billing", "name": "Billing"}],
    "tags": ["web", "promo"],
}


def test_required_fields_and_units() -> None:
    assert web_form_problems(WIDGET, {"order": "A-1"}, "sales") == {}
    assert web_form_problems(WIDGET, {"order": "  ", "note": "x"}, "sales") == {"fields.order": "required"}
    assert web_form_problems(WIDGET, {"order": "A-1"}, None) == {"unit": "must be one of sales, billing"}
    assert web_form_problems({}, {}, "anything") == {}  # no units: the unit is free text


def test_tags_are_merged_once_and_capped() -> None:
    assert web_tags(WIDGET, ["promo", "vip"]) == ["promo", "vip", "web"]
    assert len(web_tags(WIDGET, [f"t{n}" for n in range(10)])) == MAX_TAGS

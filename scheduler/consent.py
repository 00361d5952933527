"""Consent to texts: what a customer saw or heard when they agreed, per channel.

A booking that agrees to texts records the channel, the time and the version of the
wording below. Change a wording and its version together (the old version stays
meaningful for the bookings that recorded it); docs/operations.md, "Personal data".
"""

from __future__ import annotations

# channel -> version of the wording the customer agreed to
CONSENT_WORDING: dict[str, str] = {
    # The widget's and the API's sms_consent flag: the site's own checkbox, the client's own wording.
    "web": "web-widget-v1",
    "api": "api-client-v1",
    # web_widget/templates/book.html: "Text me a confirmation and a reminder".
    "booking_page": "booking-page-v1",
    # ivr_flows: the prompt offering a text confirmation ("press 1 for a text").
    "ivr": "ivr-press-1-v1",
    # The customer booked by texting us: texts are the channel they chose.
    "sms": "sms-conversation-v1",
    "console": "console-agent-v1",
}


def consent_wording(channel: str) -> str:
    return CONSENT_WORDING.get(channel, f"{channel}-v1")

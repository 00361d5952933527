"""Inbound texts: /webhooks/<provider>/sms/inbound (GET or POST, as the provider sends).

Delivery reports for texts we sent: /webhooks/<provider>/sms/status (``sms_status``).

Verified first with the voice webhooks' own ``verified()`` (403 and nothing changes on a
bad or missing signature), then parsed by the provider's adapter, then stored and acted on
in one write transaction (``sms.service.receive``). Replies go to the outbox; nothing
calls a provider from here.
"""

from __future__ import annotations

import logging
from datetime import datetime

from flask import Blueprint, Response
from sqlalchemy import select

from app import context
from app.models import SmsMessage
from sms.service import receive
from telephony.base import SmsStatus
from telephony.webhooks import WebhookRejected, rejected, verified

log = logging.getLogger(__name__)

sms_webhooks = Blueprint("sms_webhooks", __name__, url_prefix="/webhooks")

# Twilio runs the TwiML a messaging webhook answers: an empty <Response/> sends nothing.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


sms_webhooks.register_error_handler(WebhookRejected, rejected)


@sms_webhooks.route("/<provider>/sms/inbound", methods=["GET", "POST"])
def sms_inbound(provider: str) -> Response:
    adapter, incoming = verified(provider)
    try:
        sms = adapter.parse_inbound_sms(incoming)
    except ValueError as error:
        # Signed by the provider but not a text we can read: refused visibly (the provider
        # shows the failed delivery) and logged, never dropped unseen.
        log.warning("%s inbound text not understood: %s", provider, error)
        raise WebhookRejected(400, "malformed_webhook", str(error)) from None
    with context.db().write() as session:
        receive(session, sms, context.now(), context.settings())
    if provider == "twilio":
        return Response(EMPTY_TWIML, content_type="application/xml")
    return Response(status=204)


# How far along a text is: a report only ever moves a message forward. delivered,
# undelivered and failed are final (a late "sent" after "delivered" changes nothing).
_PROGRESS = {"pending": 0, "sending": 1, "queued": 2, "sent": 3, "delivered": 4, "undelivered": 4, "failed": 4}
_FINAL = frozenset({"delivered", "undelivered", "failed", "skipped"})


@sms_webhooks.route("/<provider>/sms/status", methods=["GET", "POST"])
def sms_status(provider: str) -> Response:
    """A delivery report for a text we sent: updates its SmsMessage, forward only.
    Always 204 once signed, so the provider does not retry what we cannot use."""
    adapter, incoming = verified(provider)
    try:
        report = adapter.parse_sms_status(incoming)
    except ValueError as error:
        log.warning("%s SMS status not understood: %s", provider, error)
        return Response(status=204)
    with context.db().write() as session:
        message = session.scalars(
            select(SmsMessage)
            .where(SmsMessage.provider == report.provider, SmsMessage.message_id == report.message_id)
            .with_for_update()
        ).first()
        if message is None:
            log.warning("%s SMS status %s for unknown message %s", provider, report.raw_status, report.message_id)
            return Response(status=204)
        apply_sms_status(message, report, context.now())
    return Response(status=204)


def apply_sms_status(message: SmsMessage, report: SmsStatus, now: datetime) -> bool:
    """Move ``message`` to the reported status if that is forward; True when it changed.
    A redelivered or late report changes nothing."""
    if message.status in _FINAL or _PROGRESS[report.status] <= _PROGRESS.get(message.status, 0):
        return False
    message.status = report.status
    message.status_at = now
    if report.error_code is not None:
        message.error_code = report.error_code
    if report.status in ("undelivered", "failed"):
        message.error = f"{report.provider} reported {report.raw_status}" + (
            f" (error {report.error_code})" if report.error_code else ""
        )
    if report.status == "delivered":
        message.delivered_at = now
    return True

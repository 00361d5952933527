"""Inbound texts: /webhooks/<provider>/sms/inbound (GET or POST, as the provider sends).

Delivery reports for texts we sent: /webhooks/<provider>/sms/status (``sms_status``).

Verified first with the voice webhooks' own ``verified()`` (403 and nothing changes on a
bad or missing signature), then parsed by the provider's adapter, then stored and acted on
in one write transaction (``sms.service.receive``). Replies go to the outbox; nothing
calls a provider from here.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from flask import Blueprint, Response

from app.webhook_verification import WebhookRejected, rejected, verified
from infra import context, metrics
from infra.models import column_length
from infra.text_models import InboundText, InboundTextPart, SmsMessage
from sms.delivery import receive_status
from sms.service import receive

log = logging.getLogger(__name__)

sms_webhooks = Blueprint("sms_webhooks", __name__, url_prefix="/webhooks")

sms_webhooks.register_error_handler(WebhookRejected, rejected)
sms_webhooks.after_request(metrics.count_webhook)

# The columns a report's ids go into: PostgreSQL refuses a longer value (a 500), so a
# signed report with one is not one we can read (inbound) or ours (a status).
MESSAGE_ID_LENGTH = column_length(SmsMessage.message_id)
INBOUND_ID_LENGTH = column_length(InboundText.message_id)
CONCAT_REF_LENGTH = column_length(InboundTextPart.concat_ref)
ERROR_CODE_LENGTH = column_length(SmsMessage.error_code)


@sms_webhooks.route("/<provider>/sms/inbound", methods=["GET", "POST"])
def sms_inbound(provider: str) -> Response:
    adapter, incoming = verified(provider)
    try:
        sms = adapter.parse_inbound_sms(incoming)
        if len(sms.message_id) > INBOUND_ID_LENGTH or len(sms.concat_ref or "") > CONCAT_REF_LENGTH:
            raise ValueError(f"message id or concat-ref longer than {INBOUND_ID_LENGTH} / {CONCAT_REF_LENGTH}")
    except ValueError as error:
        # Signed by the provider but not a text we can read: refused visibly (the provider
        # shows the failed delivery) and logged, never dropped unseen.
        log.warning("%s inbound text not understood: %s", provider, error)
        raise WebhookRejected(400, "malformed_webhook", str(error)) from None
    with context.db().write() as session:
        receive(session, sms, adapter, context.now(), context.settings())
    answer = adapter.sms_webhook_answer()
    if answer is not None:
        return Response(answer.body, content_type=answer.content_type)
    return Response(status=204)


@sms_webhooks.route("/<provider>/sms/status", methods=["GET", "POST"])
def sms_status(provider: str) -> Response:
    """A delivery report for a text we sent: updates its SmsMessage, forward only (or is
    kept until the outbox saves that message id, sms/delivery.py). Always 204 once
    signed, so the provider does not retry what we cannot use."""
    adapter, incoming = verified(provider)
    try:
        report = adapter.parse_sms_status(incoming)
        if len(report.message_id) > MESSAGE_ID_LENGTH:
            raise ValueError(f"message id longer than {MESSAGE_ID_LENGTH}: not one of ours")
        if report.error_code is not None:
            report = replace(report, error_code=report.error_code[:ERROR_CODE_LENGTH])
    except ValueError as error:
        log.warning("%s SMS status not understood: %s", provider, error)
        return Response(status=204)
    with context.db().write() as session:
        outcome = receive_status(session, report, context.now())
    if outcome == "early":
        log.info("%s SMS status %s for message %s, not saved yet: kept", provider, report.raw_status, report.message_id)
    return Response(status=204)

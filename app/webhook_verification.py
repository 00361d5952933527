"""Verifying a provider's webhook, for the voice and the text webhooks alike: the provider
must be configured here, its signature must hold over the URL it called (our public base
URL, never the proxied one) and the body, and no field may carry a NUL. Refusals are
``WebhookRejected``, answered in the API's error shape by ``rejected`` (every webhook
blueprint registers it)."""

from __future__ import annotations

import logging

from flask import Response, current_app, jsonify, request

from infra import context, metrics
from infra.logs import loggable_path
from telephony.base import SignatureError, Telephony, WebhookRequest
from telephony.registry import Providers

log = logging.getLogger(__name__)


class WebhookRejected(Exception):
    def __init__(self, status: int, type_: str, message: str) -> None:
        super().__init__(message)
        self.status, self.type, self.message = status, type_, message


def rejected(error: WebhookRejected) -> Response:
    """A refused webhook as the API's error shape; every webhook blueprint registers it."""
    response = jsonify({"type": error.type, "message": error.message, "details": {}})
    response.status_code = error.status
    return response


def public_url() -> str:
    """The URL the provider called, as it signed it: our public base URL, never the proxied one."""
    query = request.query_string.decode("latin-1")
    return context.settings().public_base_url + request.path + (f"?{query}" if query else "")


def verified(provider: str) -> tuple[Telephony, WebhookRequest]:
    providers: Providers = current_app.extensions["providers"]
    if provider not in providers:
        raise WebhookRejected(404, "provider_not_configured", f"provider {provider!r} is not configured here")
    adapter = providers.get(provider)
    incoming = WebhookRequest(
        method=request.method,
        url=public_url(),
        headers=dict(request.headers),
        form=request.form.to_dict() if request.mimetype != "application/json" else {},
        query=request.args.to_dict(),
        body=request.get_data(cache=True),
    )
    try:
        adapter.verify(incoming)
    except SignatureError as error:
        log.warning("rejected %s webhook %s: %s", provider, loggable_path(), error)
        metrics.count_signature_failure()
        raise WebhookRejected(403, "bad_signature", "the webhook signature is missing or wrong") from None
    if _carries_nul(incoming):
        log.warning("rejected %s webhook %s: a NUL character in its fields", provider, loggable_path())
        raise WebhookRejected(400, "malformed_webhook", "the webhook carries a NUL character")
    return adapter, incoming


def _carries_nul(incoming: WebhookRequest) -> bool:
    """A NUL character, raw or escaped in JSON, in the body or a field: no report has one,
    and PostgreSQL's text refuses it (a 500 when the call id or text is stored)."""
    fields = (*incoming.form.items(), *incoming.query.items())
    return b"\x00" in incoming.body or b"\\u0000" in incoming.body or any("\x00" in k + v for k, v in fields)

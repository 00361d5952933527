"""Behind a TLS-terminating reverse proxy (deploy/nginx, deploy/Caddyfile): the app talks
plain http to the proxy, and still sees the client's scheme, host and address when, and
only when, TRUSTED_PROXIES says a proxy sets them; Twilio's signature over the https URL
it called verifies."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask, request
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from app.factory import create_app
from infra.clock import FixedClock
from infra.models import WebhookReceipt
from infra.settings import Settings
from services.dialer.dialer import Dialer
from telephony.twilio_adapter import TwilioTelephony
from tests.integration.helpers import book
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, call_payload, json_response

PUBLIC = "https://callbacks.example.com"
INTERNAL = "http://10.0.0.5:8000"  # where the proxy reaches the app
FORWARDED = {
    "X-Forwarded-For": "203.0.113.7",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "callbacks.example.com",
}


def _app(settings: Settings, clock: FixedClock, proxies: int) -> Flask:
    app = create_app(settings.with_overrides(public_base_url=PUBLIC, trusted_proxies=proxies), clock)

    @app.get("/_probe")
    def probe() -> dict[str, str | None]:  # what every view sees of the request
        return {"url": request.url, "remote_addr": request.remote_addr}

    return app


@pytest.fixture
def proxied_app(settings: Settings, clock: FixedClock) -> Iterator[Flask]:
    app = _app(settings, clock, 1)
    yield app
    app.extensions["db"].dispose()


def test_the_request_is_seen_as_the_client_sent_it_to_the_proxy(proxied_app: Flask) -> None:
    client = proxied_app.test_client()
    seen = client.get("/_probe?x=1", base_url=INTERNAL, headers=FORWARDED).get_json()
    assert seen == {"url": "https://callbacks.example.com/_probe?x=1", "remote_addr": "203.0.113.7"}


def test_forwarded_headers_are_ignored_when_no_proxy_is_trusted(settings: Settings, clock: FixedClock) -> None:
    app = _app(settings, clock, 0)
    try:
        seen = app.test_client().get("/_probe", base_url=INTERNAL, headers=FORWARDED).get_json()
    finally:
        app.extensions["db"].dispose()
    assert seen["url"] == "http://10.0.0.5:8000/_probe"
    assert seen["remote_addr"] == "127.0.0.1"  # the connection's, not the client's claim


def test_only_the_last_proxy_s_entry_is_believed(proxied_app: Flask) -> None:
    """A client's own X-Forwarded-For entry is ahead of the one the proxy appends: not taken."""
    headers = {**FORWARDED, "X-Forwarded-For": "198.51.100.66, 203.0.113.7"}
    seen = proxied_app.test_client().get("/_probe", base_url=INTERNAL, headers=headers).get_json()
    assert seen["remote_addr"] == "203.0.113.7"


def test_a_twilio_webhook_signed_for_the_https_url_verifies_behind_the_proxy(
    proxied_app: Flask, clock: FixedClock, make_queue
) -> None:  # type: ignore[no-untyped-def]
    http = FakeTwilioHttp(json_response(201, call_payload("CA" + "b" * 32)))
    proxied_app.extensions["providers"].register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    make_queue(estimated_wait_seconds=0, primary_provider="twilio", agent_target="+442079460000")
    client = proxied_app.test_client()
    assert book(client, 1).status_code == 201
    db = proxied_app.extensions["db"]
    Dialer(db, proxied_app.extensions["providers"], clock, proxied_app.extensions["settings"]).dispatch()
    status_url = http.only_request.values("StatusCallback")[0]
    assert status_url.startswith(PUBLIC + "/webhooks/twilio/")  # what Twilio is told to call

    form = {"CallSid": "CA" + "b" * 32, "CallStatus": "ringing", "SequenceNumber": "1"}
    signature = RequestValidator(AUTH_TOKEN).compute_signature(status_url, form)  # as Twilio signs it
    path = status_url[len(PUBLIC) :]
    answer = client.post(path, base_url=INTERNAL, data=form, headers={**FORWARDED, "X-Twilio-Signature": signature})
    assert answer.status_code in (200, 204), answer.get_data(as_text=True)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 1

    # Signed over the proxy's internal http:// address instead: refused, nothing stored.
    internal = RequestValidator(AUTH_TOKEN).compute_signature(INTERNAL + path, form | {"SequenceNumber": "2"})
    refused = client.post(
        path,
        base_url=INTERNAL,
        data=form | {"SequenceNumber": "2"},
        headers={**FORWARDED, "X-Twilio-Signature": internal},
    )
    assert refused.status_code == 403
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(WebhookReceipt)) == 1

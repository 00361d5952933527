"""Adding a provider is one module (tests/integration/echo_provider.py) plus one line in
telephony/registry.py's PROVIDERS: with nothing else changed, a queue may name it, the
dialer places its calls through it and paces them by its own figure, its signed webhooks
answer at /webhooks/echo/…, its texts come in and the console lists it. The simulator
itself is built through the same registry (tests/unit/test_provider_registry.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import select

from app.factory import create_app
from app.simulator_page import in_process_deliver
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback
from infra.settings import Settings
from infra.text_models import InboundText
from services.dialer.dialer import Dialer
from telephony import registry
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import apply_call_events, book, phone
from tests.integration.test_console_access import SignedIn, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures


@pytest.fixture
def app(settings: Settings, clock: FixedClock, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with the one registry line added and the provider switched on."""
    monkeypatch.setitem(registry.PROVIDERS, "echo", "tests.integration.echo_provider")
    application = create_app(settings.with_overrides(environment={"ECHO_ENABLED": "true"}), clock=clock)
    application.config["TESTING"] = True
    yield application
    application.extensions["db"].dispose()


def test_a_provider_is_one_module_and_one_registry_line(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,
    signed_in: SignedIn,  # type: ignore[no-untyped-def]
) -> None:
    providers = app.extensions["providers"]
    assert providers.names() == ("simulator", "echo")
    assert providers.calls_per_second("echo") == 50.0  # the module's own pace
    make_queue(estimated_wait_seconds=0, primary_provider="echo")
    client = app.test_client()
    ref = book(client, 1).get_json()["ref"]

    dialer = Dialer(db, providers, clock, app.extensions["settings"], worker_id="w1")
    assert dialer.dispatch() == 1
    with db.read() as session:
        attempt = session.scalars(select(Attempt)).one()
    assert attempt.provider == "echo"
    # The customer's phone answers through echo's own signed webhooks.
    phone_sim = SimulatorDriver(db, app.extensions["settings"].secret_key, in_process_deliver(app), clock)
    (call,) = phone_sim.calls()
    assert "/webhooks/echo/" in str(phone_sim.answer(call["call_id"])["script"]["actions"][0]["action_url"])
    assert phone_sim.press(call["call_id"], "1")["state"] == "with_agent"
    clock.advance(minutes=3)
    phone_sim.hang_up(call["call_id"])
    apply_call_events(app)
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        assert callback.state == "completed"

    # Its texts come in at its own URL, signed (an unsigned one is refused, as for every provider).
    base = app.extensions["settings"].public_base_url
    assert client.post("/webhooks/echo/sms/inbound", json={}).status_code == 403
    phone_sim.send_text(f"{base}/webhooks/echo/sms/inbound", phone(2), "+441632960000", "HELP")
    with db.read() as session:
        text = session.scalars(select(InboundText)).one()
        assert (text.provider, text.command) == ("echo", "help")
    html = signed_in("admin").get("/console/providers").get_data(as_text=True)
    assert "/webhooks/echo/voice/inbound" in html


def test_a_provider_without_its_settings_is_not_there(settings: Settings, clock: FixedClock, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setitem(registry.PROVIDERS, "echo", "tests.integration.echo_provider")
    application = create_app(settings, clock=clock)
    try:
        assert "echo" not in application.extensions["providers"]
        refused = application.test_client().post("/webhooks/echo/sms/inbound", json={})
        assert (refused.status_code, refused.get_json()["type"]) == (404, "provider_not_configured")
    finally:
        application.extensions["db"].dispose()

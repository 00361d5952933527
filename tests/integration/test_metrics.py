"""GET /metrics: callbacks by state and the due backlog read from the database at scrape
time; counters that move where dials, attempts, webhooks, texts and bookings happen.

prometheus_client's counters are process-wide (both backends' runs of a test share
them), so counters are compared before and after, never against absolute values."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client.parser import text_string_to_metric_families

from app.factory import create_app
from infra import metrics
from infra.clock import FixedClock
from infra.db import Database
from infra.settings import PROJECT_ROOT, Settings
from services.dialer.dialer import Dialer
from sms.outbox import send_pending_sms
from telephony.base import ProviderError
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import apply_call_events, book, slots

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: FlaskClient, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.get_data(as_text=True)[:300]
    assert response.content_type.startswith("text/plain")
    samples: Samples = {}
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


@pytest.fixture
def queue_on_hold(make_queue) -> str:  # type: ignore[no-untyped-def]
    """The demo queue with callers on hold: an ASAP callback is due in 5 minutes."""
    return str(make_queue(estimated_wait_seconds=300))


def test_callbacks_by_state_and_the_due_backlog_come_from_the_database(
    client: FlaskClient, queue_on_hold: str, clock: FixedClock
) -> None:
    assert book(client, 1).status_code == 201
    assert book(client, 2).status_code == 201
    before = scrape(client)
    assert value(before, "callbacks", queue="support", state="scheduled") == 2
    assert value(before, "callbacks", queue="support", state="completed") == 0
    assert ("callbacks", frozenset({("queue", "support"), ("state", "cancelled")})) in before  # zeros shown
    assert value(before, "callbacks_due_undialed", queue="support") == 0
    assert value(before, "metrics_database_up") == 1

    clock.advance(minutes=5, seconds=90)  # both due for 90 s, no worker running
    after = scrape(client)
    assert value(after, "callbacks_due_undialed", queue="support") == 2
    assert value(after, "callbacks_oldest_due_age_seconds", queue="support") == 90


def test_a_dial_on_the_simulator_moves_the_lag_the_attempts_and_the_webhook_counters(
    app: Flask,
    client: FlaskClient,
    queue_on_hold: str,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    before = scrape(client)
    book(client, 1)
    clock.advance(minutes=5, seconds=3)  # the worker comes 3 s late
    assert dialer.dispatch() == 1
    (call,) = [c for c in phone_sim.calls() if c["state"] == "ringing"]
    phone_sim.answer(call["call_id"])
    phone_sim.press(call["call_id"], "1")
    clock.advance(minutes=2)
    phone_sim.hang_up(call["call_id"])
    apply_call_events(app)
    after = scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("dispatch_lag_seconds_count", provider="simulator") == 1
    assert moved("dispatch_lag_seconds_sum", provider="simulator") == 3
    assert moved("dispatch_lag_seconds_bucket", provider="simulator", le="2.0") == 0
    assert moved("dispatch_lag_seconds_bucket", provider="simulator", le="5.0") == 1
    assert moved("call_attempts_total", provider="simulator", outcome="connected") == 1
    assert moved("webhook_requests_total", provider="simulator", route="voice_answer", status="200") == 1
    assert moved("webhook_requests_total", provider="simulator", route="voice_event", status="204") >= 1
    assert value(after, "callbacks", queue="support", state="completed") == 1


def test_a_failed_dial_counts_as_a_failed_attempt(
    app: Flask,
    client: FlaskClient,
    queue_on_hold: str,
    clock: FixedClock,
    dialer: Dialer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ProviderError("no capacity", permanent=False)

    monkeypatch.setattr(app.extensions["providers"].get("simulator"), "place_call", refuse)
    before = scrape(client)
    book(client, 1)
    clock.advance(minutes=5)
    dialer.dispatch()
    after = scrape(client)
    labels = {"provider": "simulator", "outcome": "failed"}
    assert value(after, "call_attempts_total", **labels) - value(before, "call_attempts_total", **labels) == 1
    assert value(after, "dispatch_lag_seconds_count", provider="simulator") == value(
        before, "dispatch_lag_seconds_count", provider="simulator"
    )  # nothing was placed


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/webhooks/simulator/voice/event/not-a-token", "voice_event"),
        ("/webhooks/simulator/sms/inbound", "sms_inbound"),
    ],
)
def test_a_bad_signature_counts_as_a_signature_failure(client: FlaskClient, path: str, route: str) -> None:
    before = scrape(client)
    body = b'{"call_id": "SIM1", "state": "completed"}'
    answer = client.post(
        path, data=body, headers={"Content-Type": "application/json", "X-Simulator-Signature": "0" * 64}
    )
    assert answer.status_code == 403 and answer.get_json()["type"] == "bad_signature"
    after = scrape(client)
    failures = {"provider": "simulator", "route": route}
    assert (
        value(after, "webhook_signature_failures_total", **failures)
        - value(before, "webhook_signature_failures_total", **failures)
        == 1
    )
    refused = {**failures, "status": "403"}
    assert value(after, "webhook_requests_total", **refused) - value(before, "webhook_requests_total", **refused) == 1


def test_an_unknown_provider_in_the_url_is_labelled_other(client: FlaskClient) -> None:
    before = scrape(client)
    assert client.post("/webhooks/acme-telecom/sms/inbound").status_code == 404
    after = scrape(client)
    labels = {"provider": "other", "route": "sms_inbound", "status": "404"}
    assert value(after, "webhook_requests_total", **labels) - value(before, "webhook_requests_total", **labels) == 1
    assert not any(("provider", "acme-telecom") in key[1] for key in after)


def test_a_full_slot_counts_as_a_booking_conflict(client: FlaskClient, demo_queue: str) -> None:
    before = scrape(client)
    start = slots(client)[0]["start"]
    assert book(client, 1, start).status_code == 201
    assert book(client, 2, start).status_code == 201
    third = book(client, 3, start)
    assert (third.status_code, third.get_json()["type"]) == (409, "slot_full")
    after = scrape(client)
    labels = {"queue": "support", "kind": "scheduled"}
    assert value(after, "booking_slot_full_total", **labels) - value(before, "booking_slot_full_total", **labels) == 1


def test_texts_sent_and_failed_are_counted(
    app: Flask, client: FlaskClient, demo_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    ext = app.extensions
    before = scrape(client)
    assert book(client, 1, sms_consent=True).status_code == 201  # a confirmation text
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 1

    def refuse(*_args: object, **_kwargs: object) -> None:
        raise ProviderError("unknown destination", permanent=True)

    monkeypatch.setattr(ext["providers"].get("simulator"), "send_sms", refuse)
    assert book(client, 2, sms_consent=True).status_code == 201
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 1
    after = scrape(client)
    assert (
        value(after, "sms_sent_total", provider="simulator") - value(before, "sms_sent_total", provider="simulator")
        == 1
    )
    failed = {"provider": "simulator", "reason": "send_error"}
    assert value(after, "sms_failed_total", **failed) - value(before, "sms_failed_total", **failed) == 1


def test_crm_deliveries_are_counted_by_result(client: FlaskClient) -> None:
    before = scrape(client)
    metrics.count_crm_delivery("delivered")
    metrics.count_crm_delivery("retrying")
    metrics.count_crm_delivery("retrying")
    after = scrape(client)
    for result, moved in (("delivered", 1), ("retrying", 2), ("failed", 0)):
        labels = {"result": result}
        assert value(after, "crm_deliveries_total", **labels) - value(before, "crm_deliveries_total", **labels) == moved


def test_the_page_says_when_it_cannot_read_the_database(app: Flask, client: FlaskClient, db: Database) -> None:
    closed = "postgresql+psycopg://nobody:secret@127.0.0.1:1/callbacks"
    broken = Database(app.extensions["settings"].with_overrides(database_url=closed))
    app.extensions["db"] = broken
    try:
        samples = scrape(client)
    finally:
        app.extensions["db"] = db
        broken.dispose()
    assert value(samples, "metrics_database_up") == 0
    assert not any(name == "callbacks" for name, _ in samples)


def test_a_bearer_token_guards_the_page_when_set(settings: Settings, clock: FixedClock) -> None:
    app = create_app(settings.with_overrides(metrics_bearer_token="s3cret"), clock=clock)
    try:
        client = app.test_client()
        assert client.get("/metrics").status_code == 401
        assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
        assert value(scrape(client, Authorization="Bearer s3cret"), "metrics_database_up") == 1
    finally:
        app.extensions["db"].dispose()


# One web process scrapes what another process (the worker, say) counted: the
# multiprocess mode needs PROMETHEUS_MULTIPROC_DIR in the environment before
# prometheus_client is imported, so both sides run in fresh interpreters.
WORKER_SIDE = """
from infra import metrics
from telephony import registry  # noqa: F401  # as a worker does: it names the providers
metrics.count_crm_delivery("failed")
metrics.count_attempt_end("simulator", "busy")
"""
WEB_SIDE = """
import os
import sys
from app.factory import create_app
from infra.settings import load_settings
settings = load_settings({{"DATABASE_URL": {url!r}, "SECRET_KEY": "x", "INSTANCE_PATH": {instance!r},
                          "PROMETHEUS_MULTIPROC_DIR": os.environ["PROMETHEUS_MULTIPROC_DIR"]}})
app = create_app(settings)
sys.stdout.write(app.test_client().get("/metrics").get_data(as_text=True))
"""


def test_in_multiprocess_mode_the_web_page_adds_up_what_other_processes_counted(
    settings: Settings, tmp_path: Path
) -> None:
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(folder), "PATH": "/usr/bin:/bin", "PYTHONPATH": str(PROJECT_ROOT)}

    def run(code: str) -> str:
        done = subprocess.run(
            [sys.executable, "-c", textwrap.dedent(code)],
            env=env,
            cwd=PROJECT_ROOT,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    run(WORKER_SIDE)
    run(WORKER_SIDE)  # a second process (a restarted worker): its counts add up
    page = run(WEB_SIDE.format(url=settings.database_url, instance=str(tmp_path)))
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(page)
        for s in family.samples
    }
    assert value(samples, "crm_deliveries_total", result="failed") == 2
    assert value(samples, "call_attempts_total", provider="simulator", outcome="busy") == 2
    assert value(samples, "metrics_database_up") == 1

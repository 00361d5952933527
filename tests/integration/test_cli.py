"""The `callbacks` CLI: init-db, seed-demo, queue import/export, worker --once."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.factory import create_app
from infra.account_models import ApiKey
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import EventSubscription
from infra.models import Slot
from infra.settings import Settings
from tests.conftest import demo_document
from tests.integration.helpers import book, slots


def run(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["callbacks", *args])


def demo_credentials(output: str) -> tuple[str, str]:
    """The email and password on demo-admin's Console line: "… URL  EMAIL / PASSWORD"."""
    words = output.splitlines()[0].split()
    return words[-3], words[-1]


def test_init_db_is_repeatable(app: Flask) -> None:
    for _ in range(2):
        result = run(app, "init-db")
        assert result.exit_code == 0, result.output
        assert "database ready" in result.output


def test_seed_demo_creates_the_support_queue_and_its_slots(app: Flask, client: FlaskClient) -> None:
    result = run(app, "seed-demo")
    assert result.exit_code == 0 and "created" in result.output
    assert run(app, "seed-demo").output.strip() == "queue 'support' updated"
    queue = client.get("/api/v1/queues/support").get_json()
    assert (queue["name"], queue["timezone"], queue["language"]) == ("Support", "Europe/London", "en")
    listed = slots(client, days=1)
    assert len(listed) == 26 and {s["seats_left"] for s in listed} == {2}


def test_export_then_import_round_trips(app: Flask, demo_queue: str, tmp_path: Path) -> None:
    exported = run(app, "queue", "export", "support")
    assert exported.exit_code == 0
    document = json.loads(exported.output)
    assert document == demo_document()
    document.update(key="sales", name="Sales", timezone="Europe/Paris", language="fr", region="FR")
    document["inbound_numbers"] = ["+33140000002"]  # a number answers one queue only
    document["date_overrides"] = [{"date": "2027-01-05", "closed": True, "hours": [], "note": "inventaire"}]
    document["taskrouter_workspace_sid"] = "WS" + "0123456789abcdef" * 2  # live agent figures from TaskRouter
    document["taskrouter_task_queue_sid"] = "WQ" + "fedcba9876543210" * 2
    document.update(hold_mode="enqueue", twilio_queue="Ventes: file d'attente")  # callers wait in a Twilio queue
    path = tmp_path / "sales.json"
    path.write_text(json.dumps(document))
    assert run(app, "queue", "import", str(path)).output.strip() == "queue 'sales' created"
    assert json.loads(run(app, "queue", "export", "sales").output) == document


def test_importing_a_changed_template_replans_future_slots_but_keeps_bookings(
    app: Flask, client: FlaskClient, demo_queue: str, db: Database, tmp_path: Path
) -> None:
    start = slots(client)[0]["start"]
    assert book(client, 1, start).status_code == 201
    hours = [{"weekday": "monday", "opens": "13:00", "closes": "17:00", "slot_minutes": 30, "capacity": 1}]
    path = tmp_path / "support.json"
    path.write_text(json.dumps(demo_document(weekly_hours=hours)))
    assert run(app, "queue", "import", str(path)).exit_code == 0
    listed = slots(client, days=1)
    assert [s["start"][11:16] for s in listed] == [
        "13:00",
        "13:30",
        "14:00",
        "14:30",
        "15:00",
        "15:30",
        "16:00",
        "16:30",
    ]
    # The morning slot someone booked is retired (no new bookings) but still holds the booking.
    with db.read() as session:
        slot = session.scalars(select(Slot).where(Slot.booked == 1)).one()
    assert slot.active is False
    assert book(client, 2, start).get_json()["type"] == "slot_not_found"


def test_bad_documents_are_refused_with_the_reasons(app: Flask, tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(demo_document(timezone="Nowhere/Land", lead_minutes=-1)))
    result = run(app, "queue", "import", str(path))
    assert result.exit_code == 2
    assert "validation_error" in result.output and "timezone" in result.output and "lead_minutes" in result.output
    path.write_text("{not json")
    assert run(app, "queue", "import", str(path)).exit_code == 2
    missing = run(app, "queue", "export", "nope")
    assert missing.exit_code == 2 and "queue_not_found" in missing.output


def test_worker_once_extends_slot_rows_to_the_horizon(
    app: Flask, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    clock.advance(days=7)
    result = run(app, "worker", "--once")
    assert result.exit_code == 0, result.output
    with db.read() as session:
        last = session.scalar(select(func.max(Slot.starts_at)))
    assert last is not None and last >= clock.now() + timedelta(days=14)


def test_a_second_scheduler_in_one_process_fails_loudly(app: Flask, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.worker as worker_module

    monkeypatch.setattr(worker_module, "_started_in_this_process", True)
    result = run(app, "worker")
    assert result.exit_code != 0
    assert isinstance(result.exception, worker_module.SchedulerAlreadyRunning)


def test_create_admin_makes_an_admin_who_can_sign_in(app: Flask) -> None:
    from tests.integration.test_console_access import sign_in

    result = app.test_cli_runner().invoke(
        args=["callbacks", "create-admin", "--email", "Boss@Example.com"], input="a long enough secret\n" * 2
    )
    assert result.exit_code == 0, result.output
    assert "admin boss@example.com created" in result.output
    assert sign_in(app.test_client(), "boss@example.com", "a long enough secret").status_code == 303
    again = app.test_cli_runner().invoke(
        args=["callbacks", "create-admin", "--email", "boss@example.com"], input="a long enough secret\n" * 2
    )
    assert again.exit_code == 2 and "already has an account" in again.output
    short = app.test_cli_runner().invoke(
        args=["callbacks", "create-admin", "--email", "b@example.com"], input="short\n" * 2
    )
    assert short.exit_code == 2 and "at least 12 characters" in short.output


def test_create_api_key_prints_a_key_the_api_takes_once_and_refuses_a_bad_name(app: Flask) -> None:
    result = run(app, "create-api-key", "--name", "crm", "--role", "admin")
    assert result.exit_code == 0, result.output
    key = result.output.strip()
    client = app.test_client()
    assert client.get("/api/v1/subscriptions", headers={"Authorization": f"Bearer {key}"}).status_code == 200
    assert client.get("/api/v1/subscriptions", headers={"Authorization": "Bearer cbk_wrong"}).status_code == 401
    with app.extensions["db"].read() as session:
        row = session.scalars(select(ApiKey)).one()
        assert (row.name, row.role, row.key_hash != key) == ("crm", "admin", True)
    blank = run(app, "create-api-key", "--name", "  ")
    assert blank.exit_code == 2 and "the key needs a name" in blank.output


def test_demo_admin_prints_working_credentials_each_time(app: Flask) -> None:
    """A second `make run` gives a new password that works, says so, and the old one stops working."""
    from tests.integration.test_console_access import sign_in

    passwords = []
    for _ in range(2):
        result = run(app, "demo-admin")
        assert result.exit_code == 0, result.output
        email, password = demo_credentials(result.output)
        assert email == "admin@example.com"
        assert "only this one is valid" in result.output
        assert sign_in(app.test_client(), email, password).status_code == 303
        passwords.append(password)
    assert sign_in(app.test_client(), "admin@example.com", passwords[0]).status_code != 303


def test_seed_demo_allows_the_demo_page_at_the_port_make_run_binds(
    settings: Settings, clock: FixedClock, client: FlaskClient
) -> None:
    other = create_app(settings.with_overrides(public_base_url="http://127.0.0.1:5101"), clock)
    try:
        assert run(other, "seed-demo").exit_code == 0
        page = other.test_client().get("/widget-demo").get_data(as_text=True)
        exported = json.loads(run(other, "queue", "export", "support").output)
    finally:
        other.extensions["db"].dispose()
    assert client.get("/api/v1/queues/support").status_code == 200
    assert exported["widget"]["allowed_origins"] == ["http://localhost:5101"]
    assert '<script src="http://127.0.0.1:5101/widget.js"' in page
    assert 'href="http://localhost:5101/widget-demo"' in page
    # The page's origin may book: the API's CORS answer names it.
    preflight = client.options(
        "/api/v1/callbacks",
        headers={"Origin": "http://localhost:5101", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.headers.get("Access-Control-Allow-Origin") == "http://localhost:5101"


def test_seed_demo_crm_keeps_one_subscription_whatever_the_port(
    settings: Settings, clock: FixedClock, demo_queue: str, db: Database
) -> None:
    outputs = []
    for port in (5000, 5000, 5101):
        app = create_app(settings.with_overrides(public_base_url=f"http://127.0.0.1:{port}"), clock)
        try:
            result = run(app, "seed-demo-crm")
        finally:
            app.extensions["db"].dispose()
        assert result.exit_code == 0, result.output
        outputs.append(result.output)
    assert "made" in outputs[0] and "already there" in outputs[1] and "moved to this address" in outputs[2]
    with db.read() as session:
        urls = list(session.scalars(select(EventSubscription.url)))
    assert urls == ["http://127.0.0.1:5101/simulator/crm"]


def test_seed_demo_activity_makes_a_week_of_reportable_history_once(app: Flask, demo_queue: str) -> None:
    from tests.integration.test_console_access import sign_in

    first = run(app, "seed-demo-activity")
    assert first.exit_code == 0 and "past callbacks" in first.output, first.output
    assert run(app, "seed-demo-activity").output.strip() == "demo activity: already there"
    email, password = demo_credentials(run(app, "demo-admin").output)
    client = app.test_client()
    assert sign_in(client, email, password).status_code == 303
    report = client.get("/console/reports.csv?queue=support&period=week&start=2026-12-28")
    rows = report.get_data(as_text=True).splitlines()
    header, total = rows[0].split(","), rows[-1].split(",")
    figures = dict(zip(header, total, strict=True))
    assert int(figures["booked_total"]) >= 5 * 18 and 0 < float(figures["connect_rate"]) <= 1
    assert int(figures["offered"]) > int(figures["accepted"]) > 0 and int(figures["completed"]) > 0
    assert int(figures["billable_minutes"]) > 0
    by_campaign = client.get("/console/reports.csv?queue=support&period=week&start=2026-12-28&by=campaign")
    groups = {line.split(",")[0] for line in by_campaign.get_data(as_text=True).splitlines()[1:]}
    assert groups == {"winter-offer", "brand", "(none)", "total"}  # the web callbacks' campaigns, the rest none

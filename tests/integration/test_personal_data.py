"""Personal data: retention anonymises finished callbacks (reports unchanged), a person's
data is exported and erased by number (CLI and API), consent is recorded per channel."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import JSON, String, Text, select

from infra.account_models import AuditEntry, BlockedNumber
from infra.audit import audit
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import OutboxEvent
from infra.models import Attempt, Callback, Queue, Slot
from infra.schema import metadata
from infra.simulator_models import SimCrmEvent, SimText
from infra.text_models import InboundText, SmsMessage, SmsOptOut
from scheduler.retention import phone_digest, phone_forms
from services.accounts import new_api_key
from services.booking_service import BookingRequest, book, cancel
from services.links import short_booking_url
from services.personal_data import anonymise_due
from services.reports import queue_report
from sms.outbox import send_pending_sms
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import slots
from tests.integration.test_console_access import SignedIn, signed_in, users  # noqa: F401
from tests.integration.test_reports import MONDAY, QUEUE_NUMBER, _phone_sim, seed

PERSON = "+447400000001"
NATIONAL = "07400 000001"
OTHER = "+447400000099"


def _book(db: Database, clock: FixedClock, phone: str = PERSON, **changes: Any) -> Callback:
    request = BookingRequest(
        queue="support",
        phone=phone,
        kind="asap",
        source="api",
        name="Ada Lovelace",
        fields=[{"name": "order", "value": f"order of {phone}"}],
        sms_consent=True,
    )
    for name, value in changes.items():
        object.__setattr__(request, name, value)
    with db.write() as session:
        callback = book(session, request, clock.now(), "api-key:CRM").callback
        session.expunge_all()
    return callback


def _cancel(db: Database, clock: FixedClock, ref: str) -> None:
    with db.write() as session:
        cancel(session, ref, clock.now(), "customer:sms", reason=f"texted CANCEL from {PERSON}")


def _anonymise(db: Database, app: Flask, now: datetime) -> int:
    with db.write() as session:
        return anonymise_due(session, app.extensions["settings"].retention_days, now)


def _mentions(db: Database, forms: list[str]) -> list[tuple[str, str]]:
    """(table, column) of every text or JSON value in the database that mentions a form."""
    found = []
    with db.engine.connect() as connection:
        for table in metadata.sorted_tables:
            columns = [c for c in table.columns if isinstance(c.type, String | Text | JSON)]
            for row in connection.execute(select(*columns)) if columns else []:
                for column, value in zip(columns, row, strict=True):
                    text = json.dumps(value) if not isinstance(value, str) else value
                    if any(form in text for form in forms):
                        found.append((table.name, column.name))
    return found


def test_a_finished_callback_is_anonymised_after_the_retention(
    app: Flask, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    done = _book(db, clock)
    _cancel(db, clock, done.ref)
    with db.write() as session:
        session.add(
            Attempt(callback_id=done.id, number=1, provider="simulator", requested_at=clock.now(), outcome="busy")
        )
        session.get_one(Attempt, 1).recording_url = "https://recordings.example.com/1.mp3"
        session.add(
            OutboxEvent(
                event_id="e-1",
                type="callback.cancelled",
                at=clock.now(),
                callback_id=done.id,
                data={"phone": PERSON, "state": "cancelled", "note": f"from {NATIONAL}"},
            )
        )
    live = _book(db, clock, OTHER, name="Bob")  # live, however old: never anonymised
    assert _anonymise(db, app, clock.now() + timedelta(days=89)) == 0
    assert _anonymise(db, app, clock.now() + timedelta(days=91)) == 1
    assert _anonymise(db, app, clock.now() + timedelta(days=92)) == 0  # once
    with db.read() as session:
        callback = session.get_one(Callback, done.id)
        assert callback.phone == f"anon:{done.id}" and callback.name is None and callback.fields == []
        assert callback.anonymised_at == clock.now() + timedelta(days=91)
        assert (callback.state, callback.source, callback.kind) == ("cancelled", "api", "asap")
        assert session.get_one(Attempt, 1).recording_url is None
        assert session.get_one(Attempt, 1).outcome == "busy"
        assert session.get_one(Callback, live.id).phone == OTHER
        assert session.get_one(Callback, live.id).anonymised_at is None
    assert _mentions(db, [*phone_forms(PERSON), "Ada Lovelace"]) == []


def test_a_queue_may_keep_its_callbacks_for_less_time(
    app: Flask, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    make_queue(retention_days=7)
    done = _book(db, clock)
    _cancel(db, clock, done.ref)
    assert _anonymise(db, app, clock.now() + timedelta(days=6)) == 0
    assert _anonymise(db, app, clock.now() + timedelta(days=8)) == 1


def test_texts_with_no_callback_age_out_too(app: Flask, db: Database, clock: FixedClock, demo_queue: str) -> None:
    with db.write() as session:
        session.add(SmsMessage(kind="help", to=PERSON, body="Reply STOP", status="sent", created_at=clock.now()))
        session.add(
            InboundText(
                provider="simulator",
                message_id="m1",
                from_=PERSON,
                to="+441632960001",
                body="HELP",
                received_at=clock.now(),
            )
        )
    _anonymise(db, app, clock.now() + timedelta(days=91))
    assert _mentions(db, phone_forms(PERSON)) == []


def test_reports_count_the_same_after_anonymisation(
    app: Flask, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    seed(app, db, clock, make_queue)
    with db.read() as session:
        before = [queue_report(session, key, "week", date(2027, 1, 4)) for key in ("support", "sales")]
    assert _anonymise(db, app, MONDAY + timedelta(days=200)) >= 4
    with db.read() as session:
        assert session.scalar(select(Callback.id).where(Callback.anonymised_at.is_not(None))) is not None
        after = [queue_report(session, key, "week", date(2027, 1, 4)) for key in ("support", "sales")]
    assert after == before


def test_the_worker_anonymises_once_a_day(app: Flask) -> None:
    from app.worker import ANONYMISE, Worker

    ext = app.extensions
    worker = Worker(ext["db"], ext["clock"], ext["settings"], ext["providers"])
    assert (ANONYMISE, worker.anonymise) in worker.periodic_jobs()
    assert ANONYMISE.period == timedelta(days=1)  # once per cluster: tests/integration/test_periodic_jobs.py
    worker.anonymise()  # nothing to do: no error


def _person_everywhere(app: Flask, db: Database, clock: FixedClock, client: FlaskClient) -> dict[str, Any]:
    """A number with a finished callback, a live scheduled one, texts both ways, a booking
    link, an opt-out, a blocked entry, an outbox event, a stored API answer and an audit entry."""
    old = _book(db, clock)
    _cancel(db, clock, old.ref)
    start = slots(client, days=1)[5]["start"]
    answer = client.post(
        "/api/v1/callbacks",
        json={
            "queue": "support",
            "phone": NATIONAL,
            "kind": "scheduled",
            "slot_start": start,
            "name": "Ada Lovelace",
            "sms_consent": True,
        },
        headers={"Idempotency-Key": "k-1"},
    )
    assert answer.status_code == 201, answer.get_json()
    ext = app.extensions
    assert send_pending_sms(db, ext["providers"], clock, ext["settings"]) > 0  # into the simulator's inbox
    with db.read() as session:
        assert session.scalar(select(SimText.id).where(SimText.to == PERSON)) is not None
    with db.write() as session:
        session.add(
            InboundText(
                provider="simulator",
                message_id="m1",
                from_=PERSON,
                to="+441632960001",
                body=f"STOP this is {NATIONAL}",
                received_at=clock.now(),
            )
        )
        session.add(SmsOptOut(phone=PERSON, opted_out_at=clock.now(), keyword="STOP", provider="simulator"))
        session.add(BlockedNumber(prefix=PERSON, reason="abuse", created_by="ann@example.com", created_at=clock.now()))
        audit(session, "ann@example.com", "blocked.add", PERSON, clock.now(), after={"prefix": PERSON})
        short_booking_url(session, app.extensions["settings"], clock.now(), "support", PERSON)
        session.add(
            OutboxEvent(event_id="e-1", type="sms.received", at=clock.now(), callback_id=None, data={"phone": PERSON})
        )
        session.add(  # what the demo's stand-in CRM was sent about them
            SimCrmEvent(
                received_at=clock.now(),
                event_id="e-2",
                type="callback.created",
                signature_ok=True,
                answered=200,
                body=json.dumps({"callback": {"phone": PERSON, "name": "Ada Lovelace"}}),
            )
        )
    with db.read() as session:
        booked = session.scalar(
            select(Slot.booked)
            .join(Callback, Callback.slot_id == Slot.id)
            .where(Callback.ref == answer.get_json()["ref"])
        )
    return {"ref": answer.get_json()["ref"], "old_ref": old.ref, "booked": booked}


def _cli(app: Flask, *args: str):  # type: ignore[no-untyped-def]
    return app.test_cli_runner().invoke(args=["callbacks", *args])


def test_person_export_prints_everything_stored_about_a_number(
    app: Flask, db: Database, clock: FixedClock, client: FlaskClient, demo_queue: str
) -> None:
    made = _person_everywhere(app, db, clock, client)
    result = _cli(app, "person", "export", NATIONAL)
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["phone"] == PERSON
    assert {c["ref"] for c in document["callbacks"]} == {made["ref"], made["old_ref"]}
    assert all(c["events"] and c["name"] == "Ada Lovelace" for c in document["callbacks"])
    assert document["texts_sent"] and document["texts_received"][0]["body"].startswith("STOP")
    assert document["sms_opt_out"]["keyword"] == "STOP"
    assert document["blocked"][0]["prefix"] == PERSON
    assert len(document["booking_links"]) == 1
    assert {"phone": PERSON} in [event["data"] for event in document["events_outbox"]]


def test_person_erase_leaves_nothing_but_the_opt_out(
    app: Flask, db: Database, clock: FixedClock, client: FlaskClient, demo_queue: str
) -> None:
    made = _person_everywhere(app, db, clock, client)
    result = _cli(app, "person", "erase", NATIONAL)
    assert result.exit_code == 0, result.output
    assert "2 callbacks" in result.output
    assert _mentions(db, [*phone_forms(PERSON), "Ada Lovelace"]) == [("sms_opt_out", "phone")]
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == made["ref"])).one()
        assert callback.state == "cancelled" and callback.anonymised_at is not None
        assert session.get_one(Slot, callback.slot_id).booked == made["booked"] - 1  # the seat went back
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "person.erase")).one()
        assert entry.target == phone_digest(app.extensions["settings"].secret_key, PERSON)
        assert session.get(SmsOptOut, PERSON) is not None
    again = json.loads(_cli(app, "person", "export", PERSON).output)
    assert again["callbacks"] == [] and again["texts_sent"] == [] and again["sms_opt_out"] is not None


def test_person_commands_refuse_a_number_that_is_not_one(app: Flask, demo_queue: str) -> None:
    result = _cli(app, "person", "erase", "not a number")
    assert result.exit_code == 2 and "phone_invalid" in result.output


def test_erase_waits_for_a_call_in_progress(app: Flask, db: Database, clock: FixedClock, demo_queue: str) -> None:
    callback = _book(db, clock)
    with db.write() as session:
        session.get_one(Callback, callback.id).state = "dialing"
    result = _cli(app, "person", "erase", PERSON)
    assert result.exit_code == 2 and "person_on_call" in result.output


def _keys(db: Database, clock: FixedClock) -> dict[str, str]:
    with db.write() as session:
        admin, _ = new_api_key(session, "DPO", "admin@example.com", clock.now(), role="admin")
        crm, _ = new_api_key(session, "CRM", "admin@example.com", clock.now())
    return {"admin": admin, "client": crm}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
def test_people_operations_need_an_admin_key(
    client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str, method: str
) -> None:
    keys = _keys(db, clock)
    anonymous = client.open(f"/api/v1/people/{PERSON}", method=method)
    assert anonymous.status_code == 403 and anonymous.get_json()["type"] == "admin_key_required"
    as_client = client.open(
        f"/api/v1/people/{PERSON}", method=method, headers={"Authorization": f"Bearer {keys['client']}"}
    )
    assert as_client.status_code == 403 and as_client.get_json()["type"] == "admin_key_required"
    wrong = client.open(f"/api/v1/people/{PERSON}", method=method, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401


def test_people_export_and_erase_through_the_api(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    made = _person_everywhere(app, db, clock, client)
    admin = {"Authorization": f"Bearer {_keys(db, clock)['admin']}"}
    exported = client.get("/api/v1/people/07400%20000001", headers=admin)
    assert exported.status_code == 200
    assert {c["ref"] for c in exported.get_json()["callbacks"]} == {made["ref"], made["old_ref"]}
    erased = client.delete(f"/api/v1/people/{PERSON}", headers=admin)
    assert erased.status_code == 200 and erased.get_json()["erased"]["callbacks"] == 2
    assert _mentions(db, phone_forms(PERSON)) == [("sms_opt_out", "phone")]
    bad = client.get("/api/v1/people/12", headers=admin)
    assert bad.status_code == 422 and bad.get_json()["type"] == "phone_invalid"


def test_consent_is_recorded_with_its_channel_time_and_wording(
    client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    answer = client.post(
        "/api/v1/callbacks", json={"queue": "support", "phone": PERSON, "kind": "asap", "sms_consent": True}
    )
    body = answer.get_json()
    assert (body["sms_consent_channel"], body["sms_consent_wording"]) == ("api", "api-client-v1")
    assert datetime.fromisoformat(body["sms_consent_at"]) == clock.now()
    no = client.post("/api/v1/callbacks", json={"queue": "support", "phone": OTHER, "kind": "asap"}).get_json()
    assert (no["sms_consent_channel"], no["sms_consent_at"], no["sms_consent_wording"]) == (None, None, None)
    texted = _book(db, clock, "+447400000003", source="sms")
    assert (texted.sms_consent_channel, texted.sms_consent_wording) == ("sms", "sms-conversation-v1")


def test_the_booking_page_records_its_own_wording(
    client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    start = slots(client, days=1)[3]["start"]
    page = client.post("/book/support", data={"phone": PERSON, "when": start, "sms_consent": "yes", "name": "Ada"})
    assert page.status_code in (200, 201, 302, 303), page.get_data(as_text=True)[:500]
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.phone == PERSON)).one()
    assert (callback.sms_consent_channel, callback.sms_consent_wording) == ("web", "booking-page-v1")
    assert callback.sms_consent_at == datetime(2027, 1, 4, 10, 0, tzinfo=UTC)


def test_consent_given_on_the_ivr_is_recorded_as_ivr(
    app: Flask, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    caller = _phone_sim(app, db, clock)
    inbound_url = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/voice/inbound"
    call = caller.dial_in(PERSON, QUEUE_NUMBER, inbound_url)["call_id"]
    for key in ("2", "1", "3", "1"):  # a callback, at a time, the third offered; then "1": text me
        caller.press(call, key)
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.phone == PERSON)).one()
    assert callback.sms_consent and callback.source == "ivr"
    assert (callback.sms_consent_channel, callback.sms_consent_wording) == ("ivr", "ivr-press-1-v1")
    assert callback.sms_consent_at == clock.now()


def test_the_console_shows_consent_and_anonymisation(
    app: Flask,
    signed_in: SignedIn,  # noqa: F811
    db: Database,
    clock: FixedClock,
    demo_queue: str,
) -> None:
    callback = _book(db, clock)
    detail = signed_in("viewer").get(f"/console/callbacks/{callback.ref}").get_data(as_text=True)
    assert "Consent to texts: api" in detail and "api-client-v1" in detail
    _cancel(db, clock, callback.ref)
    _anonymise(db, app, clock.now() + timedelta(days=91))
    detail = signed_in("viewer").get(f"/console/callbacks/{callback.ref}").get_data(as_text=True)
    assert "Personal data removed" in detail and PERSON not in detail and "Ada Lovelace" not in detail


def test_a_supervisor_sets_the_queue_retention_in_the_console(
    signed_in: SignedIn,  # noqa: F811
    db: Database,
    demo_queue: str,
) -> None:
    from tests.integration.test_console_queues import _settings_form

    supervisor = signed_in("supervisor")
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert form["retention_days"] == ""
    assert supervisor.post("/console/queues/support/settings", data={**form, "retention_days": "0"}).status_code == 422
    assert supervisor.post("/console/queues/support/settings", data={**form, "retention_days": "30"}).status_code == 303
    with db.read() as session:
        assert session.scalar(select(Queue.retention_days).where(Queue.key == "support")) == 30
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert form["retention_days"] == "30"


def test_a_booking_by_text_records_sms_consent_and_erasing_it_leaves_nothing(
    app: Flask,
    db: Database,
    clock: FixedClock,
    phone_sim: SimulatorDriver,
    demo_queue: str,
) -> None:
    inbound = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/sms/inbound"
    phone_sim.send_text(inbound, PERSON, "+441632960000", "call me")
    phone_sim.send_text(inbound, PERSON, "+441632960000", "2")
    ext = app.extensions
    send_pending_sms(db, ext["providers"], clock, ext["settings"])
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.phone == PERSON)).one()
        assert session.scalar(select(InboundText.id).where(InboundText.from_ == PERSON)) is not None
    assert (callback.source, callback.sms_consent_channel, callback.sms_consent_wording) == (
        "sms",
        "sms",
        "sms-conversation-v1",
    )
    assert callback.sms_consent_at == clock.now()
    phone_sim.send_text(inbound, PERSON, "+441632960000", "call me")  # an offer pending when erased
    result = _cli(app, "person", "erase", PERSON)
    assert result.exit_code == 0, result.output
    assert _mentions(db, phone_forms(PERSON)) == []


def test_a_widget_booking_records_web_consent(client: FlaskClient, demo_queue: str) -> None:
    answer = client.post(
        "/api/v1/callbacks",
        json={"queue": "support", "phone": PERSON, "kind": "asap", "sms_consent": True},
        headers={"Origin": "http://localhost:5000"},
    )
    body = answer.get_json()
    assert (body["source"], body["sms_consent_channel"], body["sms_consent_wording"]) == ("web", "web", "web-widget-v1")

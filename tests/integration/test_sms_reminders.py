"""Reminders of scheduled callbacks, end to end: planned when booked, moved and cancelled
with the callback from any channel, sent once by the worker's outbox at their time (into
the simulator's inbox), never to opted-out numbers, never in the customer's quiet hours."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.text_models import SmsMessage
from sms.outbox import send_pending_sms
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import book, phone

WEDNESDAY_1430 = "2027-01-06T14:30:00+00:00"
THURSDAY_0900 = "2027-01-07T09:00:00+00:00"
NEW_YORK_MOBILE = "+12125550123"


def send(app: Flask, db: Database, clock: FixedClock) -> int:
    return send_pending_sms(db, app.extensions["providers"], clock, app.extensions["settings"])


def texts(client: FlaskClient, ref: str) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/callbacks/{ref}/texts")
    assert response.status_code == 200
    result: list[dict[str, Any]] = response.get_json()["texts"]
    return result


def inbox(phone_sim: SimulatorDriver) -> list[str]:
    """The texts the simulator's phones got, oldest first."""
    return [t["body"] for t in reversed(phone_sim.texts()) if t["direction"] == "out"]


def test_a_booking_plans_two_reminders_sent_once_each_at_their_time(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    planned = texts(client, ref)
    assert [(t["kind"], t["status"], t["send_at"]) for t in planned] == [
        ("booking_confirmation", "pending", None),
        ("reminder_1440m", "scheduled", "2027-01-05T14:30:00+00:00"),
        ("reminder_15m", "scheduled", "2027-01-06T14:15:00+00:00"),
    ]
    assert send(app, db, clock) == 1  # the confirmation only: the reminders wait for their time
    clock.set(datetime(2027, 1, 5, 14, 29, tzinfo=UTC))
    assert send(app, db, clock) == 0
    clock.set(datetime(2027, 1, 5, 14, 30, tzinfo=UTC))
    assert send(app, db, clock) == 1
    assert send(app, db, clock) == 0  # a second tick (or a restarted worker) sends nothing again
    assert inbox(phone_sim)[-1] == (
        "Reminder: Support will call you on Wed 6 Jan 14:30. Reply CANCEL CALL to cancel or CHANGE for another time."
    )
    clock.set(datetime(2027, 1, 6, 14, 16, tzinfo=UTC))
    assert send(app, db, clock) == 1
    assert inbox(phone_sim)[-1] == (
        "Support will call you soon, at 14:30. Reply CANCEL CALL to cancel or CHANGE for another time."
    )
    assert [t["status"] for t in texts(client, ref)] == ["sent", "sent", "sent"]


def test_no_consent_no_texts(client: FlaskClient, db: Database, demo_queue: str) -> None:
    ref = book(client, 1, WEDNESDAY_1430).get_json()["ref"]
    assert texts(client, ref) == []


def test_rescheduling_moves_the_reminders_and_cancelling_stops_them(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    moved = client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": THURSDAY_0900})
    assert moved.status_code == 200
    after_move = {(t["kind"], t["status"], t["send_at"]) for t in texts(client, ref)}
    assert after_move == {
        ("booking_confirmation", "pending", None),
        ("reminder_1440m", "cancelled", "2027-01-05T14:30:00+00:00"),
        ("reminder_15m", "cancelled", "2027-01-06T14:15:00+00:00"),
        ("reminder_1440m", "scheduled", "2027-01-06T09:00:00+00:00"),
        ("reminder_15m", "scheduled", "2027-01-07T08:45:00+00:00"),
    }
    cancelled = [t for t in texts(client, ref) if t["status"] == "cancelled"]
    assert {t["error"] for t in cancelled} == {"the callback has moved to another time"}
    # Moved back: the first time's reminders are planned again (one row each, not two).
    client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": WEDNESDAY_1430})
    scheduled = sorted(t["send_at"] for t in texts(client, ref) if t["status"] == "scheduled")
    assert scheduled == ["2027-01-05T14:30:00+00:00", "2027-01-06T14:15:00+00:00"]
    assert len(texts(client, ref)) == 5

    assert client.delete(f"/api/v1/callbacks/{ref}").status_code == 200
    assert not [t for t in texts(client, ref) if t["status"] == "scheduled"]
    send(app, db, clock)  # the confirmation
    for day, hour in ((5, 14), (6, 9), (6, 14), (7, 8)):
        clock.set(datetime(2027, 1, day, hour, 50, tzinfo=UTC))
        assert send(app, db, clock) == 0
    assert len(inbox(phone_sim)) == 1


def test_cancel_by_text_stops_the_reminders(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    url = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/sms/inbound"
    phone_sim.send_text(url, phone(1), "+441632960000", "cancel call")
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    reminders = [t for t in texts(client, ref) if t["kind"].startswith("reminder_")]
    assert [t["status"] for t in reminders] == ["cancelled", "cancelled"]
    assert {t["error"] for t in reminders} == {"the callback is no longer booked"}


def test_a_reminder_to_a_number_that_opted_out_is_skipped_visibly(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    send(app, db, clock)
    url = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/sms/inbound"
    phone_sim.send_text(url, phone(1), "+441632960000", "STOP")
    send(app, db, clock)  # the opt-out confirmation
    sent_before = len(inbox(phone_sim))
    clock.set(datetime(2027, 1, 5, 14, 30, tzinfo=UTC))
    assert send(app, db, clock) == 0
    assert len(inbox(phone_sim)) == sent_before
    [day_before] = [t for t in texts(client, ref) if t["kind"] == "reminder_1440m"]
    assert (day_before["status"], day_before["error"]) == ("skipped", "the number opted out of texts (STOP)")


def test_quiet_hours_are_the_customers_in_their_own_zone(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    # A London queue; a New York customer called back at 14:30 London (09:30 in New York).
    # 15 minutes before is 09:15 New York: fine. A 10-hour reminder (04:30 London =
    # 23:30 New York, in their quiet hours) goes out at 20:59 New York (01:59 London).
    make_queue(reminders={"before_minutes": [600, 15]})
    body = {"queue": "support", "phone": NEW_YORK_MOBILE, "kind": "scheduled", "slot_start": WEDNESDAY_1430}
    ref = client.post("/api/v1/callbacks", json={**body, "sms_consent": True}).get_json()["ref"]
    planned = {t["kind"]: t["send_at"] for t in texts(client, ref) if t["status"] == "scheduled"}
    assert planned == {"reminder_600m": "2027-01-06T01:59:00+00:00", "reminder_15m": "2027-01-06T14:15:00+00:00"}
    # The same for a London customer: 04:30 London is in their quiet hours too, but theirs
    # began at 21:00 London.
    ref = book(client, 2, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    planned = {t["kind"]: t["send_at"] for t in texts(client, ref) if t["status"] == "scheduled"}
    assert planned["reminder_600m"] == "2027-01-05T20:59:00+00:00"


def test_a_worker_that_was_down_sends_no_stale_reminder_and_says_why(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    send(app, db, clock)
    clock.set(datetime(2027, 1, 6, 14, 21, tzinfo=UTC))  # the worker comes back 9 minutes before the call
    assert send(app, db, clock) == 1  # the 15-minute one, 6 minutes late (under half its lead): still worth it
    by_kind = {t["kind"]: t for t in texts(client, ref)}
    assert by_kind["reminder_1440m"]["status"] == "cancelled"
    assert by_kind["reminder_1440m"]["error"] == "too late to remind (the worker was not running)"
    assert by_kind["reminder_15m"]["status"] == "sent"


def test_queue_settings_choose_the_reminders_and_the_confirmation(
    client: FlaskClient, db: Database, make_queue: Any
) -> None:
    make_queue(reminders={"confirmation": False, "before_minutes": [60]})
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    assert [(t["kind"], t["send_at"]) for t in texts(client, ref)] == [("reminder_60m", "2027-01-06T13:30:00+00:00")]


def test_an_asap_callback_is_confirmed_with_the_range_told_and_the_number_we_call_from(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    callback = book(client, 1, sms_consent=True).get_json()
    [confirmation] = texts(client, callback["ref"])
    window = callback["estimated_call_at"]
    start, end = (datetime.fromisoformat(window[edge]).strftime("%H:%M") for edge in ("earliest", "latest"))
    due = datetime.fromisoformat(callback["due_at"])
    assert datetime.fromisoformat(window["earliest"]) <= due < datetime.fromisoformat(window["latest"])
    assert confirmation["body"] == (
        f"Support will call you between {start} and {end} from +441632960000. Reply CANCEL CALL to cancel."
    )


def test_every_reminder_row_is_planned_once(client: FlaskClient, db: Database, demo_queue: str) -> None:
    ref = book(client, 1, WEDNESDAY_1430, sms_consent=True).get_json()["ref"]
    for _ in range(3):  # moved back and forth: still one row per reminder and time
        client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": THURSDAY_0900})
        client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": WEDNESDAY_1430})
    with db.read() as session:
        rows = session.execute(select(SmsMessage.kind, SmsMessage.about_at)).all()
    assert len(rows) == len(set(rows)) == 5


def test_a_callback_the_dialer_rebooks_has_its_reminders_moved_at_once(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    from services.dialer.dialer import Dialer
    from tests.integration.helpers import apply_call_events
    from tests.integration.test_dialer_simulator import callback_row, ringing

    dialer = Dialer(db, app.extensions["providers"], clock, app.extensions["settings"], worker_id="test-worker")
    # Every slot of today after 10:45 is full: a missed 10:30 callback is rebooked tomorrow.
    for n, slot in enumerate(s["start"] for s in client.get("/api/v1/queues/support/slots?days=1").get_json()["slots"]):
        if slot > "2027-01-04T10:45":
            for seat in range(2):
                assert book(client, 100 + 2 * n + seat, slot).status_code == 201
    ref = book(client, 1, "2027-01-04T10:30:00+00:00", sms_consent=True).get_json()["ref"]
    assert [t["kind"] for t in texts(client, ref) if t["status"] == "scheduled"] == ["reminder_15m"]
    clock.set(datetime(2027, 1, 4, 10, 30, tzinfo=UTC))
    dialer.dispatch()
    phone_sim.ring_out(ringing(phone_sim))  # no answer: retry in 10 minutes, 10:40, still in the slot
    apply_call_events(app)
    clock.set(datetime(2027, 1, 4, 10, 40, tzinfo=UTC))
    dialer.dispatch()
    phone_sim.ring_out(ringing(phone_sim))  # again: 10:50 is past the slot: rebooked
    apply_call_events(app)
    moved_to = callback_row(db, ref).next_attempt_at
    assert moved_to is not None and moved_to.date().isoformat() == "2027-01-05"
    by_about = {(t["kind"], t["status"]): t for t in texts(client, ref) if t["kind"].startswith("reminder_")}
    assert by_about[("reminder_15m", "cancelled")]["error"] == "the callback has moved to another time"
    planned = by_about[("reminder_15m", "scheduled")]
    assert datetime.fromisoformat(planned["send_at"]) == moved_to - timedelta(minutes=15)

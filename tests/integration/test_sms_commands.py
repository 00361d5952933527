"""Text commands end to end on the built-in simulator: a signed inbound webhook, the
command acted on through the booking service, the reply in the outbox, sent by the worker."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, Slot
from infra.simulator_models import SimText
from infra.text_models import InboundText, SmsMessage, SmsOptOut
from services.links import read_booking_token
from sms.encoding import encode_info
from sms.outbox import send_pending_sms
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import book, follow_link, phone, slots

QUEUE_NUMBER = "+441632960000"  # Settings.caller_id: what the demo queue's texts come from


def inbound_url(app: Flask, provider: str = "simulator") -> str:
    return f"{app.extensions['settings'].public_base_url}/webhooks/{provider}/sms/inbound"


@pytest.fixture
def text(app: Flask, phone_sim: SimulatorDriver, demo_queue: str):  # type: ignore[no-untyped-def]
    def send(n: int, body: str) -> str:
        return phone_sim.send_text(inbound_url(app), phone(n), QUEUE_NUMBER, body)

    return send


def replies(db: Database, n: int | None = None) -> list[SmsMessage]:
    with db.read() as session:
        stmt = select(SmsMessage).order_by(SmsMessage.id)
        if n is not None:
            stmt = stmt.where(SmsMessage.to == phone(n))
        return list(session.scalars(stmt))


def callbacks(db: Database, n: int) -> list[Callback]:
    with db.read() as session:
        return list(session.scalars(select(Callback).where(Callback.phone == phone(n)).order_by(Callback.id)))


def seats(db: Database) -> int:
    with db.read() as session:
        return sum(session.scalars(select(Slot.booked)))


def test_cancel_cancels_the_callback_frees_the_seat_and_confirms(
    app: Flask, client: FlaskClient, db: Database, text: Any
) -> None:
    start = slots(client)[0]["start"]
    ref = book(client, 1, start).get_json()["ref"]
    assert seats(db) == 1
    text(1, "Cancel please.")
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    assert seats(db) == 0
    [reply] = replies(db, 1)
    assert reply.kind == "cancel_confirmation"
    assert reply.body == "Your callback on Mon 4 Jan 10:30 is cancelled."


def test_several_callbacks_cancel_the_nearest_and_say_which_remains(
    app: Flask, client: FlaskClient, db: Database, make_queue: Any, text: Any
) -> None:
    make_queue(key="sales", name="Sales")
    book(client, 1, slots(client)[3]["start"])
    client.post(
        "/api/v1/callbacks",
        json={
            "queue": "sales",
            "phone": phone(1),
            "kind": "scheduled",
            "slot_start": slots(client, "sales")[1]["start"],
        },
    )
    text(1, "CANCEL")
    states = {c.queue_id: c.state for c in callbacks(db, 1)}
    assert sorted(states.values()) == ["cancelled", "scheduled"]
    [reply] = replies(db, 1)
    assert reply.body == (
        "Your callback on Mon 4 Jan 10:45 is cancelled. "
        "You also have a callback on Mon 4 Jan 11:15. Reply CANCEL CALL to cancel it too."
    )


def test_change_replies_with_a_reschedule_link_for_the_callback(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, text: Any
) -> None:
    ref = book(client, 1, slots(client)[0]["start"]).get_json()["ref"]
    text(1, "reschedule")
    [reply] = replies(db, 1)
    assert reply.kind == "reschedule_link"
    assert reply.body.startswith("Pick another time for your callback: http://127.0.0.1:5000/b/")
    assert reply.body.endswith(" Reply CANCEL CALL to cancel it.")
    # The short link lands on the queue's booking page with a signed reschedule token.
    path, token = follow_link(client, reply.body)
    assert path == "/book/support"
    link = read_booking_token(app.extensions["settings"].secret_key, token, clock.now())
    assert (link.queue, link.phone, link.ref, link.is_reschedule) == ("support", phone(1), ref, True)
    assert link.expires_at == clock.now() + timedelta(days=7)


def test_call_me_offers_three_times_and_2_books_the_second(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, text: Any
) -> None:
    starts = [s["start"] for s in slots(client)[:3]]
    text(5, "call me")
    [offer] = replies(db, 5)
    assert offer.body == (
        "Reply 1, 2 or 3 to book a callback from Support: 1) Mon 4 Jan 10:30 2) Mon 4 Jan 10:45 3) Mon 4 Jan 11:00"
    )
    text(5, "2")
    [_, confirmation] = [r for r in replies(db, 5) if r.status == "pending"]
    [reminder] = [r for r in replies(db, 5) if r.status == "scheduled"]
    assert confirmation.body == (
        "Booked: Support will call you on Mon 4 Jan 10:45. Reply CANCEL CALL to cancel or CHANGE for another time."
    )
    # Booked by text: its reminder (15 minutes before; the 24-hour one would be in the past) is planned.
    assert (reminder.kind, reminder.status) == ("reminder_15m", "scheduled")
    [callback] = callbacks(db, 5)
    shown = client.get(f"/api/v1/callbacks/{callback.ref}").get_json()
    assert (shown["source"], shown["slot_start"], shown["state"]) == ("sms", starts[1], "scheduled")
    # The worker sends both replies; the simulator's inbox shows them.
    assert send_pending_sms(db, app.extensions["providers"], clock, app.extensions["settings"]) == 2
    inbox = [t["body"] for t in phone_sim.texts() if t["direction"] == "out"]
    assert len(inbox) == 2 and inbox[0].startswith("Booked:")


def test_a_seat_taken_meanwhile_is_said_and_the_next_times_offered(
    app: Flask, client: FlaskClient, db: Database, text: Any
) -> None:
    text(5, "CALLBACK")
    second = slots(client)[1]["start"]
    assert book(client, 1, second).status_code == 201
    assert book(client, 2, second).status_code == 201  # the demo queue has 2 seats a slot
    text(5, "2")
    assert callbacks(db, 5) == []
    assert replies(db, 5)[-1].body == (
        "Sorry, that time has just been taken. Reply 1, 2 or 3 to book another: "
        "1) Mon 4 Jan 10:30 2) Mon 4 Jan 11:00 3) Mon 4 Jan 11:15"
    )
    text(5, "2")
    [callback] = callbacks(db, 5)
    assert callback.source == "sms"


def test_call_me_with_a_live_callback_says_when_it_is(app: Flask, client: FlaskClient, db: Database, text: Any) -> None:
    book(client, 1, slots(client)[0]["start"])
    text(1, "call me")
    assert replies(db, 1)[-1].kind == "already_booked"


def test_a_digit_with_no_offer_is_not_a_booking(app: Flask, db: Database, text: Any) -> None:
    text(1, "2")
    assert callbacks(db, 1) == []
    assert replies(db, 1)[-1].kind == "help_unknown"


def test_an_offer_expires(app: Flask, db: Database, clock: FixedClock, text: Any) -> None:
    text(1, "call me")
    clock.advance(minutes=31)
    text(1, "1")
    assert callbacks(db, 1) == []


def test_unknown_texts_get_one_helpful_reply_a_day(app: Flask, db: Database, clock: FixedClock, text: Any) -> None:
    for body in ("hello?", "Auto-reply: I am out of office", "Auto-reply: I am out of office"):
        text(1, body)
    assert [r.kind for r in replies(db, 1)] == ["help_unknown"]
    clock.advance(hours=25)
    text(1, "hello?")
    assert [r.kind for r in replies(db, 1)] == ["help_unknown", "help_unknown"]


def test_stop_opts_out_and_start_opts_back_in(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, text: Any
) -> None:
    text(1, "STOP")
    with db.read() as session:
        row = session.get_one(SmsOptOut, phone(1))
    assert (row.keyword, row.provider, row.opted_out_at) == ("stop", "simulator", clock.now())
    text(1, "help")
    send_pending_sms(db, app.extensions["providers"], clock, app.extensions["settings"])
    assert [(r.kind, r.status) for r in replies(db, 1)] == [("opt_out_confirmation", "sent"), ("help", "skipped")]
    text(1, "Start")
    with db.read() as session:
        assert session.get(SmsOptOut, phone(1)) is None
    assert replies(db, 1)[-1].kind == "opt_in_confirmation"


def test_a_redelivered_text_does_nothing_twice(
    app: Flask, client: FlaskClient, db: Database, phone_sim: SimulatorDriver, text: Any
) -> None:
    book(client, 1, slots(client)[0]["start"])
    message_id = text(1, "call me")
    phone_sim.redeliver_text(inbound_url(app), message_id, phone(1), QUEUE_NUMBER, "call me")
    assert len(replies(db, 1)) == 1
    with db.read() as session:
        assert len(session.scalars(select(InboundText)).all()) == 1


@pytest.mark.parametrize(
    ("language", "body", "expected"),
    [
        ("ru", "Отмена", "Ваш звонок на пн 4 янв. 10:30 отменён."),
        ("fr", "Annuler.", "Votre rappel du lun. 4 janv. 10:30 est annulé."),
    ],
)
def test_commands_and_replies_in_the_queue_language(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue: Any,
    phone_sim: SimulatorDriver,
    language: str,
    body: str,
    expected: str,
) -> None:
    make_queue(language=language)
    book(client, 1, slots(client)[0]["start"])
    phone_sim.send_text(inbound_url(app), phone(1), QUEUE_NUMBER, body)
    assert replies(db, 1)[-1].body == expected


def test_a_bad_or_missing_signature_is_refused_and_changes_nothing(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    book(client, 1, slots(client)[0]["start"])
    body = b'{"message_id": "x", "from": "+447400000001", "to": "+441632960000", "text": "cancel"}'
    headers = {"Content-Type": "application/json"}
    assert client.post("/webhooks/simulator/sms/inbound", data=body, headers=headers).status_code == 403
    headers["X-Simulator-Signature"] = "nope"
    assert client.post("/webhooks/simulator/sms/inbound", data=body, headers=headers).status_code == 403
    assert [c.state for c in callbacks(db, 1)] == ["scheduled"]
    with db.read() as session:
        assert session.scalars(select(InboundText)).all() == []
        assert session.scalars(select(SimText)).all() == []


def test_a_text_is_for_the_queue_whose_number_was_texted(
    app: Flask, client: FlaskClient, db: Database, make_queue: Any, phone_sim: SimulatorDriver
) -> None:
    make_queue()
    make_queue(key="ventes", name="Ventes", language="fr", caller_id="+441632960111")
    phone_sim.send_text(inbound_url(app), phone(1), "+441632960111", "aide")
    phone_sim.send_text(inbound_url(app), phone(2), "+441632960999", "help")  # no queue's number: the demo queue
    assert replies(db, 1)[-1].body.startswith("Ventes : répondez RAPPELEZ-MOI")
    assert replies(db, 2)[-1].body.startswith("Support: reply CALL ME")


def test_a_text_to_the_number_a_queue_answers_calls_on_is_for_that_queue(
    app: Flask, client: FlaskClient, db: Database, make_queue: Any, phone_sim: SimulatorDriver
) -> None:
    make_queue()
    make_queue(key="ventes", name="Ventes", language="fr", inbound_numbers=["+441632960222"])
    phone_sim.send_text(inbound_url(app), phone(1), "+441632960222", "help")
    assert replies(db, 1)[-1].body.startswith("Ventes : répondez RAPPELEZ-MOI")


def test_replies_come_from_the_number_texted_and_callback_texts_from_the_queues_number(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, make_queue: Any, phone_sim: SimulatorDriver
) -> None:
    make_queue(caller_id="+441632960555", inbound_numbers=["+441632960222"])
    phone_sim.send_text(inbound_url(app), phone(1), "+441632960222", "help")
    book(client, 2, slots(client)[0]["start"], sms_consent=True)
    assert send_pending_sms(db, app.extensions["providers"], clock, app.extensions["settings"]) == 2
    sent = {t["to"]: t["from"] for t in phone_sim.texts() if t["direction"] == "out"}
    assert sent == {phone(1): "+441632960222", phone(2): "+441632960555"}


def test_a_booking_with_consent_to_texts_is_confirmed_by_text_and_cancel_call_cancels_it(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, phone_sim: SimulatorDriver, text: Any
) -> None:
    start = slots(client)[0]["start"]
    ref = book(client, 1, start, sms_consent=True).get_json()["ref"]
    book(client, 2, start)  # no consent: no text
    assert send_pending_sms(db, app.extensions["providers"], clock, app.extensions["settings"]) == 1
    [confirmation] = [t for t in phone_sim.texts() if t["direction"] == "out"]
    assert confirmation["to"] == phone(1)
    assert confirmation["body"] == (
        "Booked: Support will call you on Mon 4 Jan 10:30. Reply CANCEL CALL to cancel or CHANGE for another time."
    )
    text(1, confirmation["body"].split("Reply ")[1].split(" to cancel")[0])  # what it says to reply: CANCEL CALL
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    assert seats(db) == 1


def test_change_then_the_link_moves_the_callback_once(
    app: Flask, client: FlaskClient, db: Database, make_queue: Any, phone_sim: SimulatorDriver
) -> None:
    """End to end in Russian: CHANGE by text, the short link in a two-segment reply, the
    booking page's calls (read the link, move the callback), and the link used up."""
    make_queue(language="ru")
    starts = [s["start"] for s in slots(client)]
    ref = book(client, 1, starts[0]).get_json()["ref"]
    phone_sim.send_text(inbound_url(app), phone(1), QUEUE_NUMBER, "Перенести")
    [reply] = replies(db, 1)
    assert reply.body.startswith("Выберите другое время звонка: http://127.0.0.1:5000/b/")
    assert (encode_info(reply.body).encoding, encode_info(reply.body).segments) == ("UCS-2", 2)
    path, token = follow_link(client, reply.body)
    assert path == "/book/support"
    shown = client.get(f"/api/v1/booking-links/{token}").get_json()
    assert (shown["reschedule"], shown["language"], shown["callback"]["ref"]) == (True, "ru", ref)
    moved = client.post(f"/api/v1/booking-links/{token}/reschedule", json={"slot_start": starts[2]})
    assert (moved.status_code, moved.get_json()["slot_start"]) == (200, starts[2])
    again = client.post(f"/api/v1/booking-links/{token}/reschedule", json={"slot_start": starts[3]})
    assert (again.status_code, again.get_json()["type"]) == (410, "link_used")
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["slot_start"] == starts[2]


def test_change_with_nothing_booked_sends_a_booking_link_for_that_number(
    app: Flask, client: FlaskClient, db: Database, text: Any
) -> None:
    text(1, "change")
    [reply] = replies(db, 1)
    assert reply.kind == "booking_link"
    assert reply.body.startswith("Book a callback with Support here: http://127.0.0.1:5000/b/")
    path, token = follow_link(client, reply.body)
    shown = client.get(f"/api/v1/booking-links/{token}").get_json()
    assert (path, shown["phone"], shown["reschedule"], shown["callback"]) == ("/book/support", phone(1), False, None)


def test_a_sender_that_is_no_number_we_could_answer_gets_no_reply(
    app: Flask, db: Database, phone_sim: SimulatorDriver, demo_queue: str
) -> None:
    # Found by the webhook fuzzer on PostgreSQL: a reply queued to a 23-character "number"
    # overflowed sms_message.to (String(20)) and answered 500.
    phone_sim.send_text(inbound_url(app), "-3.879523551113729e-203", QUEUE_NUMBER, "HELP")  # raises on a 5xx
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(InboundText)) == 1  # kept
        assert session.scalar(select(func.count()).select_from(SmsMessage)) == 0  # not answered
    phone_sim.send_text(inbound_url(app), phone(1), QUEUE_NUMBER, "HELP")  # a number is answered
    assert len(replies(db)) == 1

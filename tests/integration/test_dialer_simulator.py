"""The dialer end to end on the built-in simulator: due callbacks ring, a human who
presses 1 reaches an agent, missed calls retry by policy, and after the budget the
customer gets a text with a booking link. Every step goes through signed webhooks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent, Slot
from infra.simulator_models import SimText
from infra.text_models import SmsMessage
from services.dialer.dialer import Dialer
from sms.outbox import send_pending_sms
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import apply_call_events, book, follow_link, phone, weekday_hours


@pytest.fixture
def demo_queue(make_queue) -> str:  # type: ignore[no-untyped-def]
    """The demo queue with callers on hold: an ASAP callback keeps a 5-minute place in line."""
    return str(make_queue(estimated_wait_seconds=300))


def callback_row(db: Database, ref: str) -> Callback:
    with db.read() as session:
        return session.scalars(select(Callback).where(Callback.ref == ref)).one()


def attempts(db: Database) -> list[Attempt]:
    with db.read() as session:
        return list(session.scalars(select(Attempt).order_by(Attempt.id)))


def ringing(phone_sim: SimulatorDriver) -> str:
    calls = [c for c in phone_sim.calls() if c["state"] == "ringing"]
    assert len(calls) == 1, phone_sim.calls()
    return str(calls[0]["call_id"])


def test_an_asap_callback_rings_when_due_and_a_human_reaches_an_agent(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    assert dialer.dispatch() == 0  # due in 5 minutes (the caller's place in the line)
    clock.advance(minutes=5)
    assert dialer.dispatch() == 1
    call_id = ringing(phone_sim)
    assert callback_row(db, ref).state == "dialing"

    answered = phone_sim.answer(call_id)
    spoken = [p["text"] for p in answered["script"]["actions"][0]["prompt"]]
    assert "returning your call" in spoken[0] and "press 1" in spoken[1]
    clock.advance(seconds=20)
    connected = phone_sim.press(call_id, "1")
    assert connected["state"] == "with_agent"
    assert callback_row(db, ref).state == "connected"
    clock.advance(minutes=4)
    phone_sim.hang_up(call_id)
    apply_call_events(app)

    row = callback_row(db, ref)
    assert (row.state, row.attempts, row.lease_owner) == ("completed", 1, None)
    (cdr,) = attempts(db)
    assert (cdr.provider, cdr.call_id, cdr.outcome, cdr.answered_by) == ("simulator", call_id, "connected", "human")
    assert cdr.requested_at <= cdr.answered_at <= cdr.ended_at
    assert cdr.duration_seconds == 260 and cdr.agent_answered_at is not None
    with db.read() as session:
        steps = session.scalars(select(CallbackEvent.step).order_by(CallbackEvent.id)).all()
    assert steps == ["book", "start_dial", "connect", "complete"]


def test_a_replayed_webhook_changes_nothing(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.ring_out(call_id)
    apply_call_events(app)
    before = callback_row(db, ref)
    with db.read() as session:
        events_before = session.scalars(select(CallbackEvent.id)).all()
    # The provider delivers the final report again, and once more with a later sequence.
    phone_sim._event(call_id, "no_answer", duration=0)
    apply_call_events(app)
    after = callback_row(db, ref)
    assert (after.state, after.next_attempt_at, after.attempts) == (before.state, before.next_attempt_at, 1)
    with db.read() as session:
        assert session.scalars(select(CallbackEvent.id)).all() == events_before


def test_a_missed_call_is_retried_by_policy_then_unreachable_with_a_text(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    # One-hour slots so that a 10-minute no-answer retry fits in the booked window.
    hours = weekday_hours(60, 2)
    make_queue(weekly_hours=hours, estimated_wait_seconds=0)
    ref = book(client, 1).get_json()["ref"]
    for attempt_number in (1, 2, 3):
        assert dialer.dispatch() == 1, attempt_number
        phone_sim.ring_out(ringing(phone_sim))
        apply_call_events(app)
        row = callback_row(db, ref)
        if attempt_number < 3:
            assert row.state == "retry_wait"
            assert row.next_attempt_at == clock.now() + timedelta(minutes=10)  # no answer: 10 minutes
            assert dialer.dispatch() == 0  # not before its time
            clock.advance(minutes=10)
    row = callback_row(db, ref)
    assert (row.state, row.attempts) == ("unreachable", 3)
    assert [a.outcome for a in attempts(db)] == ["no_answer"] * 3
    assert send_pending_sms(db, dialer.providers, clock, dialer.settings) == 1
    with db.read() as session:
        text = session.scalars(select(SimText)).one()
        sms = session.scalars(select(SmsMessage)).one()
    assert text.to == phone(1) and follow_link(client, text.body)[0] == "/book/support"
    assert (sms.kind, sms.status) == ("unreachable", "sent")


def test_a_retry_that_misses_the_slot_is_rebooked_into_the_next_free_slot(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]  # ASAP: in the 10:00-10:15 slot, due 10:05
    clock.advance(minutes=5)
    dialer.dispatch()
    old_slot = callback_row(db, ref).slot_id
    phone_sim.busy(ringing(phone_sim))  # busy: retry in 5 minutes = 10:10, still inside 10:00-10:15
    apply_call_events(app)
    assert callback_row(db, ref).state == "retry_wait"
    clock.advance(minutes=5)
    dialer.dispatch()
    phone_sim.ring_out(ringing(phone_sim))  # no answer: 10 minutes = 10:20, past the slot: rebook
    apply_call_events(app)
    row = callback_row(db, ref)
    assert row.state == "retry_wait" and row.slot_id != old_slot
    with db.read() as session:
        new_start = session.get_one(Slot, row.slot_id).starts_at
        old = session.get_one(Slot, old_slot)
    assert new_start >= clock.now() + timedelta(minutes=10)
    assert row.next_attempt_at == new_start
    assert old.booked == 0  # the old seat was given back
    with db.read() as session:
        sms = session.scalars(select(SmsMessage)).one()
    assert sms.kind == "rebooked"
    assert sms.body == (
        f"Sorry we missed you. Support will call you again on {new_start:%a} {new_start.day} {new_start:%b %H:%M}. "
        "Reply CANCEL CALL to cancel or CHANGE for another time."
    )


def test_pressing_3_cancels_and_frees_the_seat(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.answer(call_id)
    result = phone_sim.press(call_id, "3")
    assert result["state"] == "completed"
    apply_call_events(app)
    row = callback_row(db, ref)
    assert row.state == "cancelled"
    with db.read() as session:
        assert session.get_one(Slot, row.slot_id).booked == 0
    assert attempts(db)[0].outcome == "cancel"


def test_pressing_2_texts_a_link_to_choose_another_time(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.answer(call_id)
    phone_sim.press(call_id, "2")
    assert callback_row(db, ref).state == "cancelled"  # at once: the menu webhook acts itself
    apply_call_events(app)
    assert callback_row(db, ref).state == "cancelled"
    with db.read() as session:
        sms = session.scalars(select(SmsMessage)).one()
    assert sms.kind == "reschedule_link" and follow_link(client, sms.body)[0] == "/book/support"
    assert sms.body.startswith("Choose another time for your callback from Support: ")


def test_the_dialer_texts_in_the_callback_s_language(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    """A callback booked in French gets its "choose another time" text in French; the queue's
    language (English) is only the default."""
    book(client, 1, locale="fr")
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.answer(call_id)
    phone_sim.press(call_id, "2")
    with db.read() as session:
        sms = session.scalars(select(SmsMessage)).one()
    assert sms.body.startswith("Choisissez une autre heure pour votre rappel avec Support : http://127.0.0.1:5000/b/")
    assert follow_link(client, sms.body)[0] == "/book/support"


def test_silence_repeats_the_menu_once_then_counts_as_no_answer(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.answer(call_id)
    again = phone_sim.stay_silent(call_id)
    assert again["state"] == "answered"  # the menu, once more
    final = phone_sim.stay_silent(call_id)
    assert final["state"] == "completed"
    apply_call_events(app)
    assert attempts(db)[0].outcome == "no_answer"
    assert callback_row(db, ref).state in ("retry_wait", "unreachable")


def test_a_voicemail_hears_the_queue_message_and_is_retried_later(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.answer(call_id, machine=True)
    final = phone_sim.stay_silent(call_id)
    final = phone_sim.stay_silent(call_id)
    assert "Sorry we missed you" in final["script"]["actions"][0]["text"]
    apply_call_events(app)
    (cdr,) = attempts(db)
    assert (cdr.outcome, cdr.answered_by) == ("machine", "machine")
    assert callback_row(db, ref).state == "retry_wait"


def test_no_free_agent_means_a_quick_retry(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    hours = weekday_hours(60, 2)
    make_queue(weekly_hours=hours, estimated_wait_seconds=0)
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    call_id = ringing(phone_sim)
    phone_sim.answer(call_id)
    phone_sim.agents_available = False
    result = phone_sim.press(call_id, "1")
    assert "nobody is free" in result["script"]["actions"][0]["text"]
    apply_call_events(app)
    row = callback_row(db, ref)
    assert row.state == "retry_wait"
    assert row.next_attempt_at == clock.now() + timedelta(minutes=2)
    assert attempts(db)[0].outcome == "agent_unavailable"


def test_a_forged_webhook_is_refused_and_changes_nothing(
    app: Flask,
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    ref = book(client, 1).get_json()["ref"]
    clock.advance(minutes=5)
    dialer.dispatch()
    call_id = ringing(phone_sim)
    status_url = phone_sim._load(call_id)["status_url"]
    path = status_url.split("5000", 1)[1]
    body = b'{"call_id": "%s", "state": "completed", "sequence": 9, "duration": 60}' % call_id.encode()
    for headers in ({}, {"X-Simulator-Signature": "0" * 64}):
        response = client.post(path, data=body, headers={"Content-Type": "application/json", **headers})
        assert response.status_code == 403
        assert response.get_json()["type"] == "bad_signature"
    assert apply_call_events(app) == 0  # nothing stored
    assert callback_row(db, ref).state == "dialing"


def test_agent_first_rings_the_agent_then_the_customer(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, dial_mode="agent_first", agent_target="+442079460000")
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    (call,) = phone_sim.calls()
    assert call["to"] == "+442079460000"  # the agent's line rings first
    offered = phone_sim.answer(call["call_id"])  # the agent picks up: offered the callback, nobody rung yet
    assert "To take it and ring them now, press 1." in offered["script"]["actions"][0]["prompt"][0]["text"]
    assert offered["state"] == "answered" and len(phone_sim.calls()) == 1
    answered = phone_sim.press(call["call_id"], "1")  # the agent takes it; the customer is rung and answers
    assert answered["state"] == "with_agent"
    assert "Callback for a customer" in answered["script"]["actions"][0]["text"]
    connect = answered["script"]["actions"][1]
    assert (connect["type"], connect["target"]) == ("connect", phone(1))
    assert callback_row(db, ref).state == "connected"
    clock.advance(minutes=3)
    phone_sim.hang_up(call["call_id"])
    apply_call_events(app)
    assert callback_row(db, ref).state == "completed"
    assert attempts(db)[0].outcome == "connected"


def test_agent_first_when_the_customer_does_not_answer_retries_for_them(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    hours = weekday_hours(60, 2)
    make_queue(estimated_wait_seconds=0, dial_mode="agent_first", agent_target="+442079460000", weekly_hours=hours)
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    (call,) = phone_sim.calls()
    phone_sim.agents_available = False  # here: the second leg (the customer) is not answered
    phone_sim.answer(call["call_id"])
    phone_sim.press(call["call_id"], "1")  # the agent takes it
    apply_call_events(app)
    row = callback_row(db, ref)
    assert row.state == "retry_wait"
    assert row.next_attempt_at == clock.now() + timedelta(minutes=10)  # the customer's no-answer rule
    assert attempts(db)[0].outcome == "no_answer"


def test_agent_first_when_no_agent_answers_retries_soon(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    hours = weekday_hours(60, 2)
    make_queue(estimated_wait_seconds=0, dial_mode="agent_first", agent_target="+442079460000", weekly_hours=hours)
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    (call,) = phone_sim.calls()
    phone_sim.ring_out(call["call_id"])
    apply_call_events(app)
    assert callback_row(db, ref).next_attempt_at == clock.now() + timedelta(minutes=2)
    assert attempts(db)[0].outcome == "agent_unavailable"


def test_agent_first_when_the_agent_does_not_take_it_nobody_rings_the_customer_and_it_is_retried_soon(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    hours = weekday_hours(60, 2)
    make_queue(estimated_wait_seconds=0, dial_mode="agent_first", agent_target="+442079460000", weekly_hours=hours)
    ref = book(client, 1).get_json()["ref"]
    dialer.dispatch()
    (call,) = phone_sim.calls()
    phone_sim.answer(call["call_id"])
    again = phone_sim.stay_silent(call["call_id"])  # offered once more
    assert "press 1" in again["script"]["actions"][0]["prompt"][0]["text"]
    ended = phone_sim.press(call["call_id"], "2")  # not 1: not taken
    assert ended["state"] == "completed" and len(phone_sim.calls()) == 1  # the customer was never rung
    apply_call_events(app)
    assert callback_row(db, ref).next_attempt_at == clock.now() + timedelta(minutes=2)
    assert attempts(db)[0].outcome == "agent_unavailable"


def test_a_text_whose_sender_died_is_marked_failed_not_sent_twice(
    client: FlaskClient, demo_queue: str, db: Database, clock: FixedClock, dialer: Dialer
) -> None:
    with db.write() as session:
        session.add(
            SmsMessage(
                kind="unreachable",
                to=phone(1),
                body="hi",
                status="sending",
                created_at=clock.now(),
                claimed_at=clock.now(),
            )
        )
    assert send_pending_sms(db, dialer.providers, clock, dialer.settings) == 0
    clock.advance(minutes=6)
    send_pending_sms(db, dialer.providers, clock, dialer.settings)
    with db.read() as session:
        message = session.scalars(select(SmsMessage)).one()
        assert session.scalars(select(SimText)).all() == []
    assert message.status == "failed" and "not resent" in (message.error or "")

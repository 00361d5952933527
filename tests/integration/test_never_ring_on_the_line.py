"""Never ring a customer who is on the line with us (issue 18, section 3): a number on an
inbound call (in the IVR, holding, or talking to an agent) is not dialled for its callback
until the provider reports the call's end (the number's status URL,
/webhooks/<provider>/voice/inbound/status) or a script of ours hangs up; then it is.
On the simulator, Twilio and Vonage."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.inbound_models import InboundCall
from infra.models import Attempt, Callback
from scheduler.dialing import ON_CALL_RETRY
from scheduler.presence import WITH_AGENT
from services.dialer.dialer import Dialer
from services.inbound_presence import forget_old
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import book
from tests.integration.test_ivr_simulator import QUEUE_NUMBER, inbound_url
from tests.integration.test_ivr_twilio import TwilioCall, twilio  # noqa: F401 (the fixture)
from tests.integration.test_ivr_vonage import CALL_UUID, VonageCall, token, vonage  # noqa: F401 (the fixture)

PHONE = "+447400000001"  # tests.integration.helpers.phone(1): the customer with a callback


def attempts(db: Database) -> int:
    with db.read() as session:
        return len(session.scalars(select(Attempt)).all())


def due_at(db: Database) -> datetime | None:
    with db.read() as session:
        return session.scalars(select(Callback.next_attempt_at)).one()


def test_a_caller_in_the_ivr_or_talking_to_an_agent_is_not_rung_for_their_callback(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue: Any,
    phone_sim: SimulatorDriver,
) -> None:
    make_queue(estimated_wait_seconds=300)
    # The same customer's callback in another queue: calling support does not close it.
    make_queue(key="sales", name="Sales", estimated_wait_seconds=60)
    assert client.post("/api/v1/callbacks", json={"queue": "sales", "phone": PHONE, "kind": "asap"}).status_code == 201
    phone = phone_sim
    call_id = phone.dial_in(PHONE, QUEUE_NUMBER, inbound_url(app))["call_id"]
    clock.advance(seconds=60)  # the callback falls due while they listen to the menu
    assert dialer.dispatch() == 0
    assert due_at(db) == clock.now() + ON_CALL_RETRY  # put off, not dialled
    assert phone.press(call_id, "*")["state"] == "with_agent"  # now talking to an agent
    clock.advance(seconds=120)
    assert dialer.dispatch() == 0 and attempts(db) == 0
    with db.read() as session:
        (on_line,) = session.scalars(select(InboundCall)).all()
    assert (on_line.phone, on_line.stage, on_line.ended_at) == (PHONE, "with_agent", None)

    phone.hang_up(call_id)  # the network reports the end to the number's status URL
    with db.read() as session:
        assert session.scalars(select(InboundCall.ended_at)).one() == clock.now()
    clock.advance(seconds=ON_CALL_RETRY.total_seconds())
    assert dialer.dispatch() == 1  # off the line: rung now


def test_a_caller_who_ends_the_ivr_with_a_booking_is_off_the_line_at_once(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue: Any,
    phone_sim: SimulatorDriver,
) -> None:
    """A script of ours that hangs up ends the call: no need to hear of it from the provider."""
    make_queue(estimated_wait_seconds=0)
    phone = phone_sim
    call_id = phone.dial_in(PHONE, QUEUE_NUMBER, inbound_url(app))["call_id"]
    phone.press(call_id, "1")  # as soon as possible
    phone.press(call_id, "1")  # on this number
    assert phone.press(call_id, "2")["state"] == "completed"  # no text: goodbye
    with db.read() as session:
        assert session.scalars(select(InboundCall.ended_at)).one() is not None
    clock.advance(seconds=600)  # the IVR's wait: 4 callers × 240 s ÷ 2 agents
    assert dialer.dispatch() == 1


def test_twilio_the_numbers_status_url_ends_the_call(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue: Any,
    twilio: None,  # noqa: F811
) -> None:
    make_queue(estimated_wait_seconds=60, primary_provider="simulator")
    assert book(client, 1).status_code == 201
    call = TwilioCall(app, client, caller=PHONE)
    call.dial()  # "you have a callback booked…"
    clock.advance(seconds=60)
    assert dialer.dispatch() == 0  # due, but the customer is on the line with us
    base = app.extensions["settings"].public_base_url
    ended = call.post(f"{base}/webhooks/twilio/voice/inbound/status", {**call.fields(), "CallStatus": "completed"})
    assert ended.status_code == 204
    clock.advance(seconds=ON_CALL_RETRY.total_seconds())
    assert dialer.dispatch() == 1


def test_vonage_the_event_url_ends_the_call(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue: Any,
    vonage: None,  # noqa: F811
) -> None:
    make_queue(estimated_wait_seconds=60, primary_provider="simulator")
    assert book(client, 1).status_code == 201
    VonageCall(app, client).dial(caller=PHONE.lstrip("+"))
    clock.advance(seconds=60)
    assert dialer.dispatch() == 0
    with db.read() as session:
        assert session.scalars(select(InboundCall.presumed_until)).one() > clock.now()
    event = {"uuid": CALL_UUID, "conversation_uuid": "CON-9", "status": "completed", "duration": "40"}
    body = json.dumps(event).encode()
    answer = client.post(
        "/webhooks/vonage/voice/inbound/status",
        data=body,
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token(body)}"},
    )
    assert answer.status_code == 204
    clock.advance(seconds=ON_CALL_RETRY.total_seconds())
    assert dialer.dispatch() == 1


def test_a_call_never_reported_ended_stops_counting_after_its_presumed_time(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue: Any,
    phone_sim: SimulatorDriver,
) -> None:
    """No status URL set on the number: the call counts while we keep hearing of it, and
    for a while after (WITH_AGENT once put through), then the callback is rung."""
    make_queue(estimated_wait_seconds=300)
    assert book(client, 1).status_code == 201
    phone = phone_sim
    call_id = phone.dial_in(PHONE, QUEUE_NUMBER, inbound_url(app))["call_id"]
    phone.press(call_id, "1")  # keep my callback: "goodbye", our script hangs up
    with db.read() as session:
        assert session.scalars(select(InboundCall.ended_at)).one() is not None
    # A second call put through to an agent, whose end never reaches us.
    with db.write() as session:
        session.add(
            InboundCall(
                provider="twilio",
                call_id="CA" + "c" * 32,
                phone=PHONE,
                queue_id=1,
                stage="with_agent",
                started_at=clock.now(),
                last_seen_at=clock.now(),
                presumed_until=clock.now() + WITH_AGENT,
            )
        )
    clock.advance(seconds=300)
    assert dialer.dispatch() == 0
    clock.advance(seconds=WITH_AGENT.total_seconds())
    assert dialer.dispatch() == 1


def test_twilio_the_agent_answering_closes_the_waiting_callback_before_the_bridge_ends(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue: Any,
    twilio: None,  # noqa: F811
) -> None:
    make_queue(agent_target="+442079460000")
    ref = book(client, 0, "2027-01-04T14:15:00+00:00", phone=PHONE).get_json()["ref"]
    call = TwilioCall(app, client, caller=PHONE)
    call.dial()
    call.press("")
    held = call.press("")  # silence twice at "you have a callback": put through
    number = held.find("Dial/Number")
    assert number is not None and number.get("statusCallbackEvent") == "answered"
    agent_leg = {**call.fields(), "CallSid": "CA" + "d" * 32, "ParentCallSid": call.sid, "CallStatus": "in-progress"}
    assert call.post(number.get("statusCallback", ""), agent_leg).status_code == 200
    # Closed while they talk, not when the conversation ends: nothing left to ring them for.
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    with db.read() as session:
        assert session.scalars(select(InboundCall.stage)).one() == "with_agent"


def test_inbound_calls_are_forgotten_a_day_after_they_stop_counting(
    app: Flask, db: Database, clock: FixedClock, make_queue: Any, phone_sim: SimulatorDriver
) -> None:
    make_queue()
    phone_sim.dial_in(PHONE, QUEUE_NUMBER, inbound_url(app))  # still in the IVR
    with db.write() as session:
        assert forget_old(session, clock.now() + timedelta(hours=23)) == 0
    with db.write() as session:
        assert forget_old(session, clock.now() + timedelta(days=1, minutes=3)) == 1
        assert session.scalars(select(InboundCall)).all() == []


def test_twilio_a_caller_waiting_in_the_twilio_queue_is_not_rung_until_the_call_ends(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue: Any,
    twilio: None,  # noqa: F811
) -> None:
    """An agent may take the caller from the queue at any moment, unannounced: while queued
    (or talking to that agent) they count as on the line until Twilio reports the end."""
    make_queue(key="sales", name="Sales", estimated_wait_seconds=60, primary_provider="simulator")
    assert client.post("/api/v1/callbacks", json={"queue": "sales", "phone": PHONE, "kind": "asap"}).status_code == 201
    make_queue(agent_target="+442079460000", hold_mode="enqueue")
    call = TwilioCall(app, client, caller=PHONE)
    call.dial()
    enqueue = call.press("*").find("Enqueue")
    assert enqueue is not None
    clock.advance(seconds=30 * 60)  # no word from the wait URL since: an agent took them, say
    assert dialer.dispatch() == 0 and attempts(db) == 0
    with db.read() as session:
        assert session.scalars(select(InboundCall.stage)).one() == "queued"
    bridged = {**call.fields(), "QueueResult": "bridged", "QueueTime": "40"}
    assert call.post(enqueue.get("action", ""), bridged).status_code == 200  # the conversation ended
    clock.advance(seconds=ON_CALL_RETRY.total_seconds())
    assert dialer.dispatch() == 1

"""Inbound calls on the built-in simulator: the phone network posts the signed inbound
webhook, reads out what the script says, and sends keypresses to the gather's action."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback
from telephony.simulator_driver import SimulatorDriver

CALLER = "+447400123456"
QUEUE_NUMBER = "+441632960001"


def inbound_url(app: Flask) -> str:
    return f"{app.extensions['settings'].public_base_url}/webhooks/simulator/voice/inbound"


def heard(call: dict[str, Any]) -> str:
    lines = []
    for action in call["script"]["actions"]:
        if action["type"] == "say":
            lines.append(action["text"])
        for prompt in action.get("prompt", []):
            if prompt["type"] == "say":
                lines.append(prompt["text"])
    return " ".join(lines)


def test_call_the_queue_choose_a_time_and_book(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    call = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))
    assert call["direction"] == "in" and call["state"] == "answered"
    assert "Thank you for calling Support." in heard(call) and "press star" in heard(call)
    call_id = call["call_id"]
    phone_sim.press(call_id, "2")
    times = phone_sim.press(call_id, "1")
    assert "Press 1 for today at half past ten." in heard(times)
    done = phone_sim.press(call_id, "3")
    assert "We will call you back today at eleven o'clock" in heard(done)
    assert phone_sim.press(call_id, "2")["state"] == "completed"  # no text; the script ended: the network hung up
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    shown = client.get(f"/api/v1/callbacks/{callback.ref}").get_json()
    assert (shown["source"], shown["slot_start"]) == ("ivr", "2027-01-04T11:00:00+00:00")


@pytest.mark.parametrize("hold_mode", ["dial", "enqueue"])  # the simulator has no queue of its own: the agent rings
def test_keep_holding_reaches_the_simulated_agent_and_hangs_up(
    app: Flask,
    db: Database,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
    hold_mode: str,
) -> None:
    make_queue(hold_mode=hold_mode)
    call_id = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))["call_id"]
    assert phone_sim.press(call_id, "*")["state"] == "with_agent"
    assert phone_sim.hang_up(call_id)["state"] == "completed"


def test_hanging_up_mid_flow_books_nothing(
    app: Flask,
    db: Database,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    call_id = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))["call_id"]
    phone_sim.press(call_id, "2")
    phone_sim.press(call_id, "1")
    assert phone_sim.hang_up(call_id)["state"] == "completed"
    with db.read() as session:
        assert session.scalars(select(Callback)).all() == []


def test_key_entry_takes_the_digits_and_the_hash(
    app: Flask,
    db: Database,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    call_id = phone_sim.dial_in("", QUEUE_NUMBER, inbound_url(app))["call_id"]  # withheld
    assert "enter your phone number" in heard(phone_sim.press(call_id, "1"))
    assert "You entered 0 7 4 0 0, 9 0 0 1 2 3." in heard(phone_sim.press(call_id, "07400900123#"))
    done = phone_sim.press(call_id, "1")
    assert "we will call you back between 8 and 10 minutes from now" in heard(done)
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    assert (callback.phone, callback.kind) == ("+447400900123", "asap")


def test_the_page_dials_in_through_its_api(
    app: Flask,
    client: FlaskClient,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    answer = client.post("/simulator/api/calls", json={"from": CALLER, "to": QUEUE_NUMBER})
    assert answer.status_code == 200 and answer.get_json()["state"] == "answered"
    call_id = answer.get_json()["call_id"]
    pressed = client.post(f"/simulator/api/calls/{call_id}/press", json={"digits": "*"})
    assert pressed.get_json()["state"] == "with_agent"
    assert client.post("/simulator/api/calls", json={"from": CALLER}).status_code == 400
    listed = client.get("/simulator/api/state").get_json()["calls"]
    assert listed[0]["direction"] == "in"


def test_when_no_agent_is_free_the_hold_comes_back_to_the_offer(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    phone_sim.agents_available = False
    call_id = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))["call_id"]
    again = phone_sim.press(call_id, "*")
    assert again["state"] == "answered" and "Sorry to keep you waiting" in heard(again)
    phone_sim.agents_available = True
    assert phone_sim.press(call_id, "*")["state"] == "with_agent"


def test_a_recorded_prompt_reaches_the_simulator_with_its_text(
    app: Flask,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    welcome = "https://cdn.example.com/support/welcome.mp3"
    make_queue(prompt_audio={"welcome": welcome})
    call = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))
    (gather,) = call["script"]["actions"]
    assert gather["prompt"][0] == {"type": "play", "url": welcome, "text": "Thank you for calling Support."}
    assert "Thank you for calling Support." not in heard(call) and "press star" in heard(call)

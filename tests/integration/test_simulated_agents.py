"""The phone simulator's agents (SIMULATOR_AGENTS, SIMULATOR_HANDLE_SECONDS): each takes
one bridged call and hangs up after its handle time, and they report themselves as the
queues' live agent figures, so the demo's dialer rings customers only as agents are free.
The /simulator page shows them busy and free."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import simulated_agents
from app.simulator_page import phone_of
from infra.clock import FixedClock
from infra.db import Database
from infra.models import AgentFigureReport, Callback
from infra.settings import Settings
from services.dialer.dialer import Dialer
from tests.integration.helpers import app_with_simulated_agents, apply_call_events, book, weekday_hours
from tests.integration.test_ivr_simulator import QUEUE_NUMBER, heard, inbound_url


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[Flask]:
    yield from app_with_simulated_agents(settings, clock, agents=2, handle_seconds=60)


def states(db: Database) -> list[str]:
    with db.read() as session:
        return [c.state for c in session.scalars(select(Callback).order_by(Callback.id))]


def test_agents_take_calls_hang_up_after_their_handle_time_and_pace_the_dialer(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, weekly_hours=weekday_hours(capacity=10))
    for n in range(1, 4):
        assert book(client, n).status_code == 201
    simulated_agents.tick(app)  # 2 agents, both free
    assert dialer.dispatch() == 2  # two free agents: two customers rung, the third waits
    phone = phone_of(app)
    for call in phone.calls():
        phone.answer(call["call_id"])
        assert phone.press(call["call_id"], "1")["state"] == "with_agent"
    assert states(db) == ["connected", "connected", "scheduled"]
    page = client.get("/simulator/api/state").get_json()["agents"]
    assert (page["count"], len(page["busy"]), page["free"]) == (2, 2, 0)
    assert page["busy"][0]["seconds_left"] == 60

    simulated_agents.tick(app)
    assert dialer.dispatch() == 0  # both agents busy
    clock.advance(seconds=30)
    assert simulated_agents.tick(app) == 0  # still talking
    clock.advance(seconds=30)
    assert simulated_agents.tick(app) == 2  # each agent hangs up after 60 s
    apply_call_events(app)
    assert states(db)[:2] == ["completed", "completed"]
    assert client.get("/simulator/api/state").get_json()["agents"]["free"] == 2
    assert dialer.dispatch() == 1  # a free agent: the third customer is rung


# --- callers holding in line (SimulatorDriver.serve_holders) ---------------------------------

CALLERS = ("+447400200001", "+447400200002", "+447400200003")


def busy_with_callbacks(app: Flask, client: FlaskClient, dialer: Dialer, customers: int = 2) -> None:
    """Both agents on a callback each (60 s of handle time from now)."""
    for n in range(1, customers + 1):
        assert book(client, n).status_code == 201
    simulated_agents.tick(app)
    assert dialer.dispatch() == customers
    phone = phone_of(app)
    for call in phone.calls():
        phone.answer(call["call_id"])
        assert phone.press(call["call_id"], "1")["state"] == "with_agent"


def hold(app: Flask, caller: str) -> str:
    """A caller dials the queue and presses * at the offer: put through to the agents."""
    phone = phone_of(app)
    call_id = phone.dial_in(caller, QUEUE_NUMBER, inbound_url(app))["call_id"]
    phone.press(call_id, "*")
    return str(call_id)


def state_of(app: Flask, call_id: str) -> str:
    return next(c["state"] for c in phone_of(app).calls(limit=100) if c["call_id"] == call_id)


def test_a_caller_holds_while_every_agent_is_busy_and_is_taken_first_in_first_out(
    app: Flask,
    client: FlaskClient,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(offer_at_entry=True, offer_repeat_seconds=300, weekly_hours=weekday_hours(capacity=10))
    busy_with_callbacks(app, client, dialer)
    first = hold(app, CALLERS[0])
    clock.advance(seconds=10)
    second = hold(app, CALLERS[1])
    clock.advance(seconds=10)
    third = hold(app, CALLERS[2])
    holders = (first, second, third)
    assert [state_of(app, c) for c in holders] == ["holding"] * 3
    simulated_agents.tick(app)
    assert [state_of(app, c) for c in holders] == ["holding"] * 3  # nobody free yet
    page = client.get("/simulator/api/state").get_json()["agents"]
    assert [h["call_id"] for h in page["holding"]] == [first, second, third]
    assert [h["waited_seconds"] for h in page["holding"]] == [20, 10, 0]

    clock.advance(seconds=40)  # the callbacks' 60 s are over: both agents free, for the two first in line
    assert simulated_agents.tick(app) == 2
    assert [state_of(app, c) for c in holders] == ["with_agent", "with_agent", "holding"]
    apply_call_events(app)
    clock.advance(seconds=59)
    simulated_agents.tick(app)
    assert state_of(app, third) == "holding"
    clock.advance(seconds=1)  # the first holders' calls end: an agent takes the third
    simulated_agents.tick(app)
    assert state_of(app, third) == "with_agent"


def test_a_holder_nobody_takes_before_the_connect_times_out_is_offered_a_callback_again(
    app: Flask,
    client: FlaskClient,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(offer_at_entry=True, offer_repeat_seconds=30, weekly_hours=weekday_hours(capacity=10))
    busy_with_callbacks(app, client, dialer)
    caller = hold(app, CALLERS[0])
    clock.advance(seconds=29)
    simulated_agents.tick(app)
    assert state_of(app, caller) == "holding"
    clock.advance(seconds=1)  # the Connect's 30 s: the network reports no_answer, the IVR offers again
    simulated_agents.tick(app)
    call = next(c for c in phone_of(app).calls() if c["call_id"] == caller)
    assert call["state"] == "answered"
    assert "press star" in heard(call)
    assert phone_of(app).press(caller, "*")["state"] == "holding"  # holding again, for another 30 s


def test_an_agent_is_kept_for_the_callback_being_rung_and_holders_count_as_busy_in_the_figures(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(offer_at_entry=True, offer_repeat_seconds=300, weekly_hours=weekday_hours(capacity=10))
    busy_with_callbacks(app, client, dialer)
    assert book(client, 3).status_code == 201  # a third customer waits for their callback
    clock.advance(seconds=60)
    simulated_agents.tick(app)  # both agents free
    apply_call_events(app)
    assert dialer.dispatch() == 1  # the third customer is rung: one agent kept for them
    phone = phone_of(app)
    rung = next(c["call_id"] for c in phone.calls() if c["direction"] == "out" and c["state"] == "ringing")
    first = hold(app, CALLERS[0])
    assert state_of(app, first) == "with_agent"  # the other agent is free for a caller
    second = hold(app, CALLERS[1])
    assert state_of(app, second) == "holding"  # the last free agent is the rung customer's
    clock.advance(seconds=5)
    simulated_agents.tick(app)
    assert state_of(app, second) == "holding"
    with db.read() as session:
        figures = session.scalars(select(AgentFigureReport)).one()
        # 2 agents: one talking, one caller holding (busy for the figures); kept one not taken off twice
        assert (figures.signed_in, figures.available, figures.longest_wait_seconds) == (2, 0, 5)
        assert figures.callers_waiting == 1  # the caller holding, in the figures' line
    assert client.get("/simulator/api/state").get_json()["agents"]["reserved"] == 1
    phone.answer(rung)
    assert phone.press(rung, "1")["state"] == "with_agent"  # the customer we rang finds the agent
    simulated_agents.tick(app)
    assert state_of(app, second) == "holding"
    assert phone.hang_up(second)["state"] == "completed"  # a holder may give up
    simulated_agents.tick(app)
    with db.read() as session:
        figures = session.scalars(select(AgentFigureReport)).one()
        assert (figures.available, figures.longest_wait_seconds, figures.callers_waiting) == (0, None, 0)


def test_a_callback_due_while_callers_hold_is_rung_as_an_agent_is_about_to_free_and_goes_first(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    # 2 agents on 60-second calls: 2 × 20 s ÷ 60 s = 0.67 expected free by the time a customer
    # answers, 1.0 with the over-dial share: one callback may be out at a time
    make_queue(
        offer_at_entry=True, offer_repeat_seconds=300, over_dial_ratio=0.5, weekly_hours=weekday_hours(capacity=10)
    )
    busy_with_callbacks(app, client, dialer)
    clock.advance(seconds=40)  # 20 s of handle time left
    caller = hold(app, CALLERS[0])
    assert state_of(app, caller) == "holding"
    for n in (3, 4):
        assert book(client, n).status_code == 201  # due now, behind nobody of ours
    simulated_agents.tick(app)
    with db.read() as session:
        figures = session.scalars(select(AgentFigureReport)).one()
        assert (figures.available, figures.callers_waiting) == (0, 1)
    assert dialer.dispatch() == 1  # nobody free, yet one is about to be: one customer rung
    phone = phone_of(app)
    rung = next(c["call_id"] for c in phone.calls() if c["direction"] == "out" and c["state"] == "ringing")
    phone.answer(rung)
    assert phone.press(rung, "1")["state"] == "holding"  # put through; no agent yet
    simulated_agents.tick(app)
    apply_call_events(app)
    assert dialer.dispatch() == 0  # the one put through still waits for an agent: it counts
    clock.advance(seconds=20)
    simulated_agents.tick(app)  # both agents end their calls
    assert state_of(app, rung) == "with_agent"  # ours first: it was due before the caller got one
    assert state_of(app, caller) == "with_agent"
    apply_call_events(app)
    assert dialer.dispatch() == 1  # the next customer, for the next agent to free (the rate, as before)


def test_agent_first_a_free_agent_takes_the_callback_before_the_customer_is_rung(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(estimated_wait_seconds=0, dial_mode="agent_first", weekly_hours=weekday_hours(capacity=10))
    for n in range(1, 4):
        assert book(client, n).status_code == 201
    simulated_agents.tick(app)  # 2 agents free
    assert dialer.dispatch() == 2  # the agents' line rung twice; the third waits
    phone = phone_of(app)
    assert {c["to"] for c in phone.calls()} == {"sim:agent"} and states(db) == ["dialing", "dialing", "scheduled"]
    simulated_agents.tick(app)  # each free agent picks up and presses 1: the customers are rung and answer
    assert [c["state"] for c in phone.calls()] == ["with_agent", "with_agent"]
    assert states(db) == ["connected", "connected", "scheduled"]
    assert dialer.dispatch() == 0  # nobody free
    clock.advance(seconds=60)
    assert simulated_agents.tick(app) == 2
    apply_call_events(app)
    assert states(db)[:2] == ["completed", "completed"]
    assert dialer.dispatch() == 1

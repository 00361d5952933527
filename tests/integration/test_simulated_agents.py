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
from infra.models import Callback
from infra.settings import Settings
from services.dialer.dialer import Dialer
from tests.integration.helpers import app_with_simulated_agents, apply_call_events, book, weekday_hours


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

"""Live agent figures (PUT /api/v1/queues/{key}/agents) drive what an inbound caller is
told: the wait they hear and whether a callback is offered, until the figures grow too
old and the queue's static staffing counts again. Pushed through the real API with a
client key, read by the IVR's webhook: two requests, as two web processes would."""

from __future__ import annotations

import math
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback
from scheduler.agents import Staffing
from scheduler.ecbt import callback_spacing_seconds
from services.accounts import new_api_key
from services.dialer.dialer import Dialer
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import book, weekday_hours
from tests.integration.test_ivr_simulator import CALLER, QUEUE_NUMBER, heard, inbound_url


def push(client: FlaskClient, key: str, **figures: int) -> dict[str, object]:
    response = client.put("/api/v1/queues/support/agents", json=figures, headers={"Authorization": f"Bearer {key}"})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def test_the_wait_a_caller_hears_follows_the_live_agents(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()  # 4 callers waiting, 2 agents of 4 minutes each: 8 minutes, over the 60 s threshold
    with db.write() as session:
        key, _ = new_api_key(session, "ACD", "admin@example.com", clock.now())
    static = heard(phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app)))
    assert "about 8 minutes" in static and "press star" in static

    push(client, key, signed_in=1, available=0, average_handle_seconds=600)  # one agent, 10 minutes a call
    slow = heard(phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app)))
    assert "about 40 minutes" in slow and "press star" in slow

    push(client, key, signed_in=6, available=4, average_handle_seconds=240)  # free agents take all 4 at once
    fast = heard(phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app)))
    assert "press star" not in fast  # no wait: no offer, the caller is put through

    clock.advance(seconds=app.extensions["settings"].agent_figures_max_age_seconds + 1)
    again = heard(phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app)))
    assert "about 8 minutes" in again  # the report is too old: static staffing again


def test_callbacks_are_released_as_agents_are_free_first_due_first(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    # ASAP callbacks due at once, with seats for all four in the first slot
    make_queue(estimated_wait_seconds=0, over_dial_ratio=0.0, weekly_hours=weekday_hours(capacity=10))
    with db.write() as session:
        key, _ = new_api_key(session, "ACD", "admin@example.com", clock.now())
    refs = []
    for n in range(1, 5):
        refs.append(book(client, n).get_json()["ref"])
        clock.advance(seconds=1)  # due in booking order
    push(client, key, signed_in=3, available=1, average_handle_seconds=300)
    assert dialer.dispatch() == 1
    assert dialing(db) == refs[:1]  # the first due
    push(client, key, signed_in=3, available=0, average_handle_seconds=300)
    assert dialer.dispatch() == 0  # nobody free: they wait, still due
    push(client, key, signed_in=3, available=2, average_handle_seconds=300)
    assert dialer.dispatch() == 1  # two free, one call already ringing: one more
    assert dialing(db) == refs[:2]
    clock.advance(seconds=app.extensions["settings"].agent_figures_max_age_seconds + 1)
    assert dialer.dispatch() == 2  # the figures are too old: the queue's own limit alone
    assert dialing(db) == refs


def dialing(db: Database) -> list[str]:
    with db.read() as session:
        rows = session.scalars(select(Callback).where(Callback.state == "dialing").order_by(Callback.id)).all()
        return [row.ref for row in rows]


def test_a_caller_is_told_the_wait_behind_the_callbacks_due_and_asap_counts_them_once(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    make_queue,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    # Two web customers' ASAP callbacks, due now (no live figures yet: the static 0 s wait)
    make_queue(estimated_wait_seconds=0, over_dial_ratio=0.0, weekly_hours=weekday_hours(capacity=10))
    for n in (1, 2):
        assert book(client, n).status_code == 201
    with db.write() as session:
        key, _ = new_api_key(session, "ACD", "admin@example.com", clock.now())
    # 4 agents, all busy, 6-minute calls, one caller holding: 90 s in line
    push(client, key, signed_in=4, available=0, average_handle_seconds=360, callers_waiting=1)
    spacing = callback_spacing_seconds(Staffing(agents=4, available=0, average_handle_seconds=360, live=True))
    behind = 90 + math.ceil(2 * spacing)  # the line, then the two callbacks due before the caller's turn
    assert behind == 275
    call = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))
    said = heard(call)
    assert "about 5 minutes" in said and "press star" in said  # 275 s, not the line's 90
    booked_at = clock.now()
    phone_sim.press(call["call_id"], "1")  # 1: as soon as possible
    phone_sim.press(call["call_id"], "1")  # 1: on this number
    with db.read() as session:
        due = session.scalars(select(Callback.next_attempt_at).where(Callback.phone == CALLER)).one()
    assert due == booked_at + timedelta(seconds=behind)  # the callbacks ahead counted once

"""ASAP keeps the caller's place for real (scheduler/ecbt.py, services/asap_promise.py):
an ASAP callback is due when the caller would have reached an agent, from the callbacks
ahead and the live agent figures, not at the next slot with a seat. The caller hears the
estimate as a range of minutes, the confirmation text and the API's ``estimated_call_at``
say the same range, and the dialer rings within it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import simulated_agents
from app.simulator_page import phone_of
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback
from infra.settings import Settings
from services.dialer.dialer import Dialer
from tests.integration.helpers import app_with_simulated_agents, apply_call_events, book, weekday_hours
from tests.integration.test_ivr_simulator import QUEUE_NUMBER, heard, inbound_url

CALLER = "+447400123456"


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[Flask]:
    yield from app_with_simulated_agents(settings, clock, agents=2, handle_seconds=120)


def first_call_at(db: Database, ref: str) -> datetime | None:
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        return session.scalar(select(Attempt.requested_at).where(Attempt.callback_id == callback.id))


def test_a_caller_who_takes_asap_hears_a_range_gets_it_in_writing_and_is_rung_within_it(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    # Offered at entry: a caller the IVR put through first would hold (every agent busy)
    # for the offer threshold before hearing the offer; this test is about the offer.
    make_queue(callers_waiting=0, offer_at_entry=True, weekly_hours=weekday_hours(slot_minutes=15, capacity=10))
    phone = phone_of(app)
    # Both agents take a callback each: busy for 120 s.
    simulated_agents.tick(app)  # both free: the callbacks booked now are due now
    first = [book(client, n).get_json()["ref"] for n in (1, 2)]
    assert dialer.dispatch() == 2
    for call in phone.calls():
        phone.answer(call["call_id"])
        assert phone.press(call["call_id"], "1")["state"] == "with_agent"
    clock.advance(seconds=60)
    simulated_agents.tick(app)  # nobody free
    waiting = book(client, 3).get_json()  # a web customer: due now, nobody ahead
    assert waiting["due_at"] == waiting["created_at"]

    # A caller takes ASAP: one callback ahead of them, 2 agents of 120 s: one frees every 60 s,
    # and the dialler's one call out takes the answer lead or the wait for an agent, 63 s
    # (scheduler/ecbt.callback_spacing_seconds).
    call_id = phone.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))["call_id"]
    booked_at = clock.now()
    said = heard(phone.press(call_id, "1"))  # 1: call me back as soon as possible
    said += " " + heard(phone.press(call_id, "1"))  # 1: on this number
    assert "we will call you back between 1 and 3 minutes from now, on 0 7 4 0 0, 1 2 3 4 5 6" in said
    phone.press(call_id, "1")  # 1: text me a confirmation
    with db.read() as session:
        ref = session.scalars(select(Callback.ref).where(Callback.phone == CALLER)).one()
    shown = client.get(f"/api/v1/callbacks/{ref}").get_json()
    earliest = datetime.fromisoformat(shown["estimated_call_at"]["earliest"])
    latest = datetime.fromisoformat(shown["estimated_call_at"]["latest"])
    assert (earliest - booked_at, latest - booked_at) == (timedelta(minutes=1), timedelta(minutes=3))
    assert datetime.fromisoformat(shown["due_at"]) == booked_at + timedelta(seconds=63)
    texts = client.get(f"/api/v1/callbacks/{ref}/texts").get_json()["texts"]
    window = f"between {earliest:%H:%M} and {latest:%H:%M}"
    assert any(window in text["body"] for text in texts), texts

    # Both agents are still talking: nobody is rung before one is free.
    clock.advance(seconds=59)
    assert simulated_agents.tick(app) == 0
    assert dialer.dispatch() == 0
    clock.advance(seconds=1)
    assert simulated_agents.tick(app) == 2  # the first two calls end after 120 s
    apply_call_events(app)
    assert dialer.dispatch() == 1  # the web customer, first due first
    clock.advance(seconds=3)
    assert dialer.dispatch() == 1  # our caller, as their place comes
    rung = first_call_at(db, ref)
    assert rung is not None and earliest <= rung <= latest
    assert all(first_call_at(db, r) is not None for r in first)


def test_a_full_slot_does_not_push_an_asap_callback_to_a_later_one(
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    # 15-minute slots of one seat.
    make_queue(estimated_wait_seconds=480, weekly_hours=weekday_hours(slot_minutes=15, capacity=1))
    assert book(client, 2).get_json()["due_at"] == "2027-01-04T10:08:00+00:00"  # the 10:00 slot's seat
    answer = book(client, 3).get_json()  # the 10:00 slot is full now: its seat is in the 10:15 one
    # Before: due at 10:15, the next slot with a seat. Now: when the caller's place comes
    # (no live agent figures: the queue's estimated wait, 480 s).
    assert answer["slot_start"] == "2027-01-04T10:15:00+00:00"
    assert answer["due_at"] == "2027-01-04T10:08:00+00:00"
    assert answer["estimated_call_at"] == {
        "earliest": "2027-01-04T10:08:00+00:00",
        "latest": "2027-01-04T10:10:00+00:00",
    }


def test_asap_callbacks_booked_while_closed_take_their_places_from_the_opening(
    client: FlaskClient,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    clock.set(datetime.fromisoformat("2027-01-04T18:00:00+00:00"))  # Monday, after 17:00
    make_queue(estimated_wait_seconds=300, collect_off_hours=True, weekly_hours=weekday_hours())
    first = book(client, 1).get_json()
    assert first["due_at"] == "2027-01-05T09:00:00+00:00"  # Tuesday's opening, nobody ahead
    assert first["estimated_call_at"] == {
        "earliest": "2027-01-05T09:00:00+00:00",
        "latest": "2027-01-05T09:02:00+00:00",
    }
    second = book(client, 2).get_json()  # behind the first: 240 s ÷ 2 agents
    assert second["due_at"] == "2027-01-05T09:02:00+00:00"
    assert second["estimated_call_at"] == {
        "earliest": "2027-01-05T09:02:00+00:00",
        "latest": "2027-01-05T09:04:00+00:00",
    }

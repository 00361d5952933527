"""The API's slot list kept per process (services/availability_cache.py): sent again while
the queue's availability version holds, made anew the moment a seat, a capacity, a slot
row or the queue's booking settings change (by whatever writes them: the triggers), or
when time moves a slot out of the range; with an ETag and 304; right across processes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select, text, update

from app.factory import create_app
from infra.availability_models import AvailabilityVersion
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Queue, Slot
from infra.settings import Settings
from services.availability_cache import SlotLists
from services.booking_service import cancel
from services.slot_capacity import change_slot_capacity
from tests.integration.helpers import book, slots


def _lists(app: Flask) -> SlotLists:
    lists: SlotLists = app.extensions["slot_lists"]
    return lists


def _version(db: Database, key: str = "support") -> int:
    with db.read() as session:
        found = session.scalar(
            select(func.sum(AvailabilityVersion.version))
            .join(Queue, Queue.id == AvailabilityVersion.queue_id)
            .where(Queue.key == key)
        )
        return int(found or 0)


def test_the_list_is_sent_again_with_its_etag_and_a_304_until_a_seat_changes(
    app: Flask, client: FlaskClient, demo_queue: str
) -> None:
    first = client.get("/api/v1/queues/support/slots")
    again = client.get("/api/v1/queues/support/slots")
    assert first.status_code == again.status_code == 200 and _lists(app).made == 1
    assert first.get_data() == again.get_data() and first.headers["ETag"] == again.headers["ETag"]
    assert first.headers["Cache-Control"] == "no-cache" and first.mimetype == "application/json"
    assert first.get_data() == json.dumps(first.get_json(), separators=(",", ":")).encode() + b"\n"  # compact
    assert first.get_json()["slots"][0] == {
        "start": "2027-01-04T10:30:00+00:00",
        "end": "2027-01-04T10:45:00+00:00",
        "seats_left": 2,
    }
    unchanged = client.get("/api/v1/queues/support/slots", headers={"If-None-Match": first.headers["ETag"]})
    assert unchanged.status_code == 304 and unchanged.get_data() == b"" and _lists(app).made == 1

    assert book(client, 1, "2027-01-04T10:30:00+00:00").status_code == 201
    changed = client.get("/api/v1/queues/support/slots", headers={"If-None-Match": first.headers["ETag"]})
    assert changed.status_code == 200 and changed.headers["ETag"] != first.headers["ETag"]
    assert changed.get_json()["slots"][0]["seats_left"] == 1 and _lists(app).made == 2


def test_a_booked_out_slot_is_gone_from_the_next_answer_and_back_when_a_seat_is_given_back(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    start = slots(client)[0]["start"]
    refs = [book(client, n, start).get_json()["ref"] for n in (1, 2)]
    assert start not in [s["start"] for s in slots(client)]
    with db.write() as session:
        cancel(session, refs[0], clock.now(), "test")
    assert slots(client)[0] == {**slots(client)[0], "start": start, "seats_left": 1}


def test_a_capacity_the_settings_and_raw_sql_each_change_the_answer(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    make_queue()
    first = slots(client)[0]
    with db.write() as session:
        queue = session.scalars(select(Queue).where(Queue.key == "support")).one()
        slot_id = session.scalar(
            select(Slot.id).where(Slot.queue_id == queue.id, Slot.starts_at == datetime.fromisoformat(first["start"]))
        )
        change_slot_capacity(session, queue, slot_id, 5, clock.now(), "test")
    assert slots(client)[0] == {**first, "seats_left": 5}

    make_queue(lead_minutes=120)  # the queue's document again, with a longer lead time
    assert slots(client)[0]["start"] == "2027-01-04T12:00:00+00:00"

    # No code path can forget: a change made by hand in SQL bumps the version too.
    before = _version(db)
    with db.write() as session:
        session.execute(text("UPDATE slot SET capacity = capacity + 1 WHERE id = :id"), {"id": slot_id})
    assert _version(db) > before


def test_time_moves_slots_out_of_the_start_and_into_the_end_without_a_change(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    clock.set(datetime(2027, 1, 4, 16, 40, tzinfo=UTC))  # Monday 16:40: nothing more today (30 min lead)
    first = slots(client, days=1, **{"from": "2027-01-05"})
    assert first[0]["start"] == "2027-01-05T09:00:00+00:00" and _lists(app).made == 1
    clock.set(datetime(2027, 1, 5, 8, 30, tzinfo=UTC))  # Tuesday 08:30: 09:00 is still bookable
    assert slots(client, days=1, **{"from": "2027-01-05"}) == first and _lists(app).made == 1
    clock.set(datetime(2027, 1, 5, 8, 31, tzinfo=UTC))  # 08:31: 09:00 is too soon now
    assert slots(client, days=1, **{"from": "2027-01-05"})[0]["start"] == "2027-01-05T09:15:00+00:00"
    assert _lists(app).made == 2
    # The range's end: the horizon (14 days) reaches one more day as a day goes by.
    fortnight = slots(client, days=31)
    clock.set(datetime(2027, 1, 6, 8, 31, tzinfo=UTC))
    later = slots(client, days=31)
    assert later[-1]["start"] > fortnight[-1]["start"]


def test_another_process_s_booking_is_seen_at_once(
    app: Flask, client: FlaskClient, settings: Settings, clock: FixedClock, demo_queue: str
) -> None:
    """Two web processes (two apps, each its own kept lists) on one database."""
    other = create_app(settings, clock=clock)
    try:
        there = other.test_client()
        start = slots(client)[0]["start"]
        assert slots(there)[0]["start"] == start  # both keep the list now
        for n in (1, 2):
            assert book(there, n, start).status_code == 201
        assert slots(client)[0]["start"] != start
        assert _lists(app).made == 2 and _lists(other).made == 1
    finally:
        other.extensions["db"].dispose()


def test_only_so_many_answers_are_kept(app: Flask, client: FlaskClient, demo_queue: str) -> None:
    _lists(app).max_answers = 3
    for days in range(1, 6):
        slots(client, days=days)
    assert len(_lists(app)._answers) == 3


def test_a_slot_closed_by_a_statement_of_its_own_is_gone(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    shown = slots(client, days=3)
    with db.write() as session:
        first = datetime.fromisoformat(shown[0]["start"])
        session.execute(update(Slot).where(Slot.starts_at == first).values(active=False))
    assert slots(client, days=3)[0] == shown[1]

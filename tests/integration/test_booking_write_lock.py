"""A booking does its reads before the write transaction and writes few statements in it
(on SQLite the write lock is held by one writer at a time, so this is its throughput; on
PostgreSQL each statement is a round trip), and a duplicate that lost a race gives its
seat back and writes no event."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import Engine, event, func, select

from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import OutboxEvent
from infra.models import Callback, CallbackEvent, Slot
from services.booking_service import BookingRequest, book, prepare_booking
from tests.integration.helpers import book as book_via_api
from tests.integration.helpers import phone, slots


@contextmanager
def sent_on(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        seen.append((statement, parameters))

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def verbs(statements: list[tuple[str, Any]]) -> list[str]:
    return [" ".join(s.split()[:3]) for s, _ in statements]


def test_the_write_transaction_of_a_booking_is_four_statements(
    client: FlaskClient, demo_queue: str, db: Database
) -> None:
    if not db.is_sqlite:
        pytest.skip("on PostgreSQL reads and writes share one engine; the write lock is SQLite's")
    start = slots(client)[0]["start"]
    book_via_api(client, 1, start)  # warm: slot rows exist
    with sent_on(db.engine) as written:
        assert book_via_api(client, 2, start).status_code == 201
    assert verbs(written) == [
        "BEGIN IMMEDIATE",
        "UPDATE slot SET",
        "INSERT INTO callback",
        "INSERT INTO callback_event",
        "INSERT INTO event_outbox",  # its CRM event, in the same transaction (events/outbox.py)
    ]


def test_on_postgresql_the_callback_and_its_two_events_are_one_statement(
    client: FlaskClient, demo_queue: str, db: Database
) -> None:
    if db.is_sqlite:
        pytest.skip("SQLite has no round trips to save (and no INSERT in a CTE)")
    start = slots(client)[0]["start"]
    book_via_api(client, 1, start)
    with sent_on(db.engine) as sent:
        response = book_via_api(client, 2, start)
    assert response.status_code == 201
    writes = [v for v in verbs(sent) if not v.startswith("SELECT")]
    assert writes == ["UPDATE slot SET", "WITH new_callback AS"]
    with db.read() as session:
        callback_id = session.scalar(select(Callback.id).where(Callback.ref == response.get_json()["ref"]))
        assert session.scalars(select(CallbackEvent.step).where(CallbackEvent.callback_id == callback_id)).all() == [
            "book"
        ]
        assert session.scalars(select(OutboxEvent.type).where(OutboxEvent.callback_id == callback_id)).all() == [
            "callback.created"
        ]


def test_the_duplicate_check_uses_the_live_phone_index_on_sqlite(
    client: FlaskClient, demo_queue: str, db: Database
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite's planner matches partial indexes literally; PostgreSQL plans per value")
    with sent_on(db.read_engine) as read:
        assert book_via_api(client, 1, slots(client)[0]["start"]).status_code == 201
    (sql, parameters), *_ = [(s, p) for s, p in read if s.startswith("SELECT callback.id")]
    with db.read() as session:
        rows = session.connection().exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}", parameters)
        plan = " ".join(str(r[-1]) for r in rows)
    assert "uq_callback_live_phone" in plan, plan


def test_a_duplicate_that_lost_the_race_gives_its_seat_back(
    client: FlaskClient, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    start = datetime.fromisoformat(slots(client)[0]["start"])
    request = BookingRequest("support", phone(7), "scheduled", "api", slot_start=start)
    with db.read() as session:
        stale = prepare_booking(session, request, clock.now())  # no live callback yet...
    assert not stale.has_live_callback
    first = book_via_api(client, 7, start.isoformat())  # ...but one is booked meanwhile
    assert first.status_code == 201
    with db.write() as session:
        result = book(session, request, clock.now(), "test", prepared=stale)
    assert not result.created and result.callback.ref == first.get_json()["ref"]
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 1
        booked = session.scalar(select(Slot.booked).where(Slot.starts_at == start))
    assert booked == 1  # the loser's seat went back in the same transaction
    with db.read() as session:  # and it wrote no life-cycle or CRM event of its own
        assert session.scalar(select(func.count()).select_from(CallbackEvent)) == 1
        assert session.scalar(select(func.count()).select_from(OutboxEvent)) == 1

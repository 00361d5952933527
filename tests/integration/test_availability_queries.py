"""Availability costs two SQL statements whatever the range or the number of bookings when
its answer is made, and one (the queue's availability version) while a kept answer holds
(services/availability_cache.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event

from infra.db import Database
from tests.integration.helpers import book, slots


@contextmanager
def counted(db: Database) -> Iterator[list[str]]:
    statements: list[str] = []

    def count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            statements.append(statement)

    engines = {db.engine, db.read_engine}
    for engine in engines:
        event.listen(engine, "before_cursor_execute", count)
    try:
        yield statements
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", count)


@pytest.mark.parametrize("days", [1, 7, 14, 62])
def test_two_statements_for_any_number_of_days(client: FlaskClient, demo_queue: str, db: Database, days: int) -> None:
    slots(client, **{"from": "2027-01-05"})  # warm: slot rows exist (another range: nothing kept for this one)
    with counted(db) as statements:
        slots(client, days=days)
    assert len(statements) == 2, statements
    with counted(db) as statements:
        slots(client, days=days)  # the kept answer
    assert len(statements) == 1, statements


def test_two_statements_with_bookings_in_place(client: FlaskClient, demo_queue: str, db: Database) -> None:
    listed = slots(client, days=14)
    for n, slot in enumerate(listed[:40]):
        assert book(client, n, slot["start"]).status_code == 201
    with counted(db) as statements:
        after = slots(client, days=14)
    assert len(statements) == 2
    assert sum(s["seats_left"] for s in after) == sum(s["seats_left"] for s in listed) - 40

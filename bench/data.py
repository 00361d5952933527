"""Bench data: a migrated database, queues open around the clock, and up to a million
stored callbacks with realistic values, loaded fast.

Everything is relative to the real clock (``now``): the bench queues are open every day
00:00-00:00 (Europe/London, 15-minute slots), so 14 full days of slots exist whatever
the weekday. The stored callbacks are a year of history: mostly completed or cancelled
in past slots (made here, as the worker would have made them), a few unreachable or not
attached to a slot, and a share still live in the coming slots. Every slot's ``booked``
is then set to the callbacks that hold one of its seats (not cancelled), so the data
obeys the invariant the storm checks.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, func, insert, make_url, select, text, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from bench.baseline import bench_metadata
from infra.db import Database
from infra.migrate import upgrade
from infra.models import Callback, Queue, Slot
from infra.settings import Settings
from scheduler.calendar import slots_between
from services.queue_documents import import_queue, parse_queue_document
from services.queues import queue_calendar

DEMO_QUEUE = Path(__file__).resolve().parent.parent / "app" / "demo_queue.json"
WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
HISTORY_DAYS = 365
LIVE_SHARE = 0.02  # callbacks still waiting for their slot
BULK_PHONE_START = 7400000000  # +447400000000...: valid UK mobiles (phonenumbers accepts them)
CALLBACK_COLUMNS = (
    *("ref", "queue_id", "phone", "name", "fields", "tags", "unit", "source", "kind", "slot_id", "state"),
    *("attempts", "next_attempt_at", "lease_owner", "lease_until", "locale", "sms_consent", "created_at"),
    "updated_at",
)


def queue_document(key: str, capacity: int) -> dict[str, Any]:
    """The demo queue, open every day 00:00-00:00 ("closes": "00:00" is midnight)."""
    document: dict[str, Any] = json.loads(DEMO_QUEUE.read_text(encoding="utf-8"))
    document.update(
        key=key,
        name=f"Bench {key}",
        inbound_numbers=[],  # a number answers one queue only; the benches place no inbound calls
        weekly_hours=[
            {"weekday": day, "opens": "00:00", "closes": "00:00", "slot_minutes": 15, "capacity": capacity}
            for day in WEEKDAYS
        ],
    )
    return document


def settings_for(url: str, instance: Path) -> Settings:
    return Settings(
        database_url=url,
        secret_key="bench-secret",
        instance_path=instance,
        log_level="WARNING",
        api_rate_limit="1000000/second",  # the load comes from one address
    )


def reset_database(url: str, instance: Path) -> None:
    """An empty, migrated database (PostgreSQL: schema public dropped and recreated)."""
    if url.startswith("postgresql"):
        engine = create_engine(url)
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    database = Database(settings_for(url, instance))
    upgrade(database.engine)
    bench_metadata.create_all(database.engine)
    database.dispose()


def snapshot(url: str) -> str:
    """A copy of the database as it is now (SQLite: the backup API; PostgreSQL: CREATE
    DATABASE ... TEMPLATE, which needs no other connection to it). Returns its URL."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        source = Path(parsed.database or "")
        target = source.with_name(source.stem + "-snapshot" + source.suffix)
        target.unlink(missing_ok=True)
        with sqlite3.connect(source) as src, sqlite3.connect(target) as dst:
            src.backup(dst)
        return str(parsed.set(database=str(target)))
    name = f"{parsed.database}_snapshot"
    with _maintenance(url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        for attempt in range(20):  # an autovacuum worker may still be in the template
            try:
                connection.execute(text(f'CREATE DATABASE "{name}" TEMPLATE "{parsed.database}"'))
                break
            except OperationalError:
                if attempt == 19:
                    raise
                time.sleep(0.5)
    return parsed.set(database=name).render_as_string(hide_password=False)


def drop_snapshot(url: str) -> None:
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        for suffix in ("", "-wal", "-shm"):
            Path(f"{parsed.database}{suffix}").unlink(missing_ok=True)
        return
    with _maintenance(url) as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))


@contextmanager
def _maintenance(url: str) -> Iterator[Connection]:
    engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=NullPool)
    try:
        with engine.connect() as connection:
            yield connection
    finally:
        engine.dispose()


def create_queues(database: Database, specs: dict[str, int], now: datetime) -> dict[str, int]:
    """Import one queue per key with that slot capacity; their slot rows are made for the horizon."""
    ids = {}
    with database.write() as session:
        for key, capacity in specs.items():
            queue, _ = import_queue(session, parse_queue_document(queue_document(key, capacity)), now)
            ids[key] = queue.id
    return ids


def add_history_slots(database: Database, key: str, now: datetime) -> int:
    """Past slot rows for a year, as the worker would have made them day by day."""
    with database.write() as session:
        queue = session.scalars(select(Queue).where(Queue.key == key)).one()
        today = now.astimezone(queue_calendar(queue).zone).date()
        first = session.scalar(select(func.min(Slot.starts_at)).where(Slot.queue_id == queue.id))
        specs = [
            s
            for s in slots_between(queue_calendar(queue), today - timedelta(days=HISTORY_DAYS), today)
            if first is None or s.starts_at < first
        ]
        rows = [
            {
                "queue_id": queue.id,
                "starts_at": s.starts_at,
                "ends_at": s.ends_at,
                "capacity": s.capacity,
                "reserved": 0,
                "booked": 0,
                "active": True,
            }
            for s in specs
        ]
        if rows:
            session.execute(insert(Slot), rows)
        return len(rows)


def slot_starts(database: Database, key: str, after: datetime, limit: int | None = None) -> list[datetime]:
    with database.read() as session:
        stmt = (
            select(Slot.starts_at)
            .join(Queue, Queue.id == Slot.queue_id)
            .where(Queue.key == key, Slot.starts_at >= after, Slot.active.is_(True))
            .order_by(Slot.starts_at)
        )
        if limit is not None:
            stmt = stmt.limit(limit)
        return list(session.scalars(stmt))


def _ref(i: int) -> str:
    """12 characters (the app makes 10), so a stored ref never collides with a new one."""
    alphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ"
    digits = []
    for _ in range(10):
        i, r = divmod(i, 32)
        digits.append(alphabet[r])
    return "BK" + "".join(reversed(digits))


def _callbacks(
    first: int, count: int, queue_id: int, past: list[tuple[int, datetime]], future: list[tuple[int, datetime]]
) -> Iterator[tuple[Any, ...]]:
    """Rows in CALLBACK_COLUMNS order: history in past slots, a share live in future ones."""
    rng = random.Random(first)
    sources = ("ivr", "ivr", "ivr", "sms", "web", "web", "api")
    for i in range(first, first + count):
        roll = rng.random()
        kind = "asap" if rng.random() < 0.3 else "scheduled"
        attempts = 0
        next_at = None
        if roll < LIVE_SHARE:
            slot_id, start = rng.choice(future)
            state = "scheduled"
            next_at = start
        else:
            slot_id, start = rng.choice(past)
            roll = rng.random()
            if roll < 0.75:
                state, attempts = "completed", rng.choice((1, 1, 1, 2, 3))
            elif roll < 0.92:
                state = "cancelled"
            else:
                state, attempts = "unreachable", 3
        created = start - timedelta(minutes=rng.randrange(5, 4 * 24 * 60))
        if rng.random() < 0.05 and state != "scheduled":
            slot_id = None  # e.g. collected off-hours, never placed in a slot
        yield (
            _ref(i),
            queue_id,
            f"+44{BULK_PHONE_START + i}",
            f"Customer {i}" if rng.random() < 0.6 else None,
            "[]",
            '["vip"]' if rng.random() < 0.05 else "[]",
            None,
            rng.choice(sources),
            kind,
            slot_id,
            state,
            attempts,
            next_at,
            None,
            None,
            "en",
            rng.random() < 0.5,
            created,
            max(created, min(start, datetime.now(UTC))),
        )


def _slot_lists(
    database: Database, queue_id: int, now: datetime
) -> tuple[list[tuple[int, datetime]], list[tuple[int, datetime]]]:
    with database.read() as session:
        rows = session.execute(select(Slot.id, Slot.starts_at).where(Slot.queue_id == queue_id)).all()
    earliest = now + timedelta(hours=1)
    past = [(i, s) for i, s in rows if s < now]
    future = [(i, s) for i, s in rows if s >= earliest]
    return past, future


def _copy_postgres(engine: Engine, rows: Iterator[tuple[Any, ...]]) -> None:
    raw = engine.raw_connection()
    try:
        sql = f"COPY callback ({', '.join(CALLBACK_COLUMNS)}) FROM STDIN"
        with raw.cursor() as cursor, cursor.copy(sql) as copy:  # type: ignore[attr-defined]
            for row in rows:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def _insert_sqlite(engine: Engine, rows: Iterator[tuple[Any, ...]], batch: int = 50_000) -> None:
    """executemany in one transaction, values converted by the columns' own SQLAlchemy
    types (so instants are stored exactly as the app stores them); JSON is already text."""
    table = Callback.__table__
    dialect = engine.dialect
    processors = [
        None if c in ("fields", "tags") else table.c[c].type.dialect_impl(dialect).bind_processor(dialect)
        for c in CALLBACK_COLUMNS
    ]
    sql = f"INSERT INTO callback ({', '.join(CALLBACK_COLUMNS)}) VALUES ({', '.join('?' * len(CALLBACK_COLUMNS))})"
    with engine.begin() as connection:  # one transaction (BEGIN IMMEDIATE)
        chunk: list[tuple[Any, ...]] = []
        for row in rows:
            chunk.append(tuple(v if p is None or v is None else p(v) for p, v in zip(processors, row, strict=True)))
            if len(chunk) >= batch:
                connection.exec_driver_sql(sql, chunk)
                chunk = []
        if chunk:
            connection.exec_driver_sql(sql, chunk)


def seed_callbacks(database: Database, key: str, first: int, count: int, now: datetime) -> float:
    """Store ``count`` more callbacks in queue ``key``, then recount its slots' ``booked``.
    Returns the seconds it took."""
    started = time.perf_counter()
    with database.read() as session:
        queue_id = session.scalars(select(Queue.id).where(Queue.key == key)).one()
    past, future = _slot_lists(database, queue_id, now)
    rows = _callbacks(first, count, queue_id, past, future)
    if database.is_sqlite:
        _insert_sqlite(database.engine, rows)
    else:
        _copy_postgres(database.engine, rows)
    recount_booked(database, queue_id)
    if not database.is_sqlite:
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            # What autovacuum does within a minute of a bulk load; done now so that it
            # does not run in the middle of a measurement.
            connection.execute(text("VACUUM ANALYZE callback"))
            connection.execute(text("VACUUM ANALYZE slot"))
    return time.perf_counter() - started


def recount_booked(database: Database, queue_id: int) -> None:
    holding = (
        select(func.count())
        .select_from(Callback)
        .where(Callback.slot_id == Slot.id, Callback.state != "cancelled")
        .scalar_subquery()
    )
    with database.write() as session:
        session.execute(update(Slot).where(Slot.queue_id == queue_id).values(booked=holding))


def seat_check(database: Database, key: str) -> dict[str, int]:
    """Overbooked seats, seats booked and callbacks holding a seat, for one queue."""
    with database.read() as session:
        queue_id = session.scalars(select(Queue.id).where(Queue.key == key)).one()
        overbooked, booked, slots_full, slots = session.execute(
            select(
                func.coalesce(func.sum(func.max(Slot.booked - Slot.capacity, 0)), 0)
                if database.is_sqlite
                else func.coalesce(func.sum(func.greatest(Slot.booked - Slot.capacity, 0)), 0),
                func.coalesce(func.sum(Slot.booked), 0),
                func.count().filter(Slot.booked >= Slot.capacity),
                func.count(),
            ).where(Slot.queue_id == queue_id)
        ).one()
        holding = session.scalar(
            select(func.count())
            .select_from(Callback)
            .join(Slot, Slot.id == Callback.slot_id)
            .where(Slot.queue_id == queue_id, Callback.state != "cancelled")
        )
        callbacks = session.scalar(select(func.count()).select_from(Callback).where(Callback.queue_id == queue_id))
    return {
        "overbooked": int(overbooked),
        "booked": int(booked),
        "holding": int(holding or 0),
        "full_slots": int(slots_full),
        "slots": int(slots),
        "callbacks": int(callbacks or 0),
    }

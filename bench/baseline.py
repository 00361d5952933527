"""The two bench-only baseline endpoints, and the app that serves them beside the real API.

They are the floor each real endpoint is compared with, on the same server, framework
and database: what the same work costs when it does nothing but the database call.

- ``GET /bench/bare-slots/<key>?days=N``: one indexed SELECT of exactly the slot rows the
  real availability endpoint returns (same queue, same ``starts_at`` window, same
  filter), with SQLAlchemy Core on the app's read engine, returned in the same JSON shape.
  The queue's id and policy are looked up once per process and cached: the baseline has
  no queue query.
- ``GET /bench/static/<name>``: a file from ``BENCH_STATIC_DIR`` as Flask serves a static
  file (``send_from_directory``: conditional, the server's file wrapper): the floor of
  any answer of that size from this gunicorn. The bench writes the real slot list there.
- ``POST /bench/bare-insert``: inserts one row into the bench-only table ``bench_row``
  with SQLAlchemy Core on the app's write engine (``BEGIN IMMEDIATE`` on SQLite, like
  every write of the app), from the same JSON body a booking sends; answers 201.

Never registered by ``create_app``: only ``build()`` adds them.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, Flask, Response, jsonify, request, send_from_directory
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, insert, select

from app.factory import create_app
from infra.context import db, now
from infra.models import Queue, Slot
from infra.settings import Settings
from scheduler.booking import BookingPolicy, availability_range
from services.queues import booking_policy

bench_metadata = MetaData()
bench_row = Table(
    "bench_row",
    bench_metadata,
    Column("id", Integer, primary_key=True),
    Column("phone", String(32)),
    Column("body", Text),
    Column("created_at", DateTime),
)

bench = Blueprint("bench", __name__, url_prefix="/bench")

_QUEUES: dict[str, tuple[int, str, BookingPolicy]] = {}
_slot = Slot.__table__


def _queue_info(key: str) -> tuple[int, str, BookingPolicy]:
    info = _QUEUES.get(key)
    if info is None:
        with db().read() as session:
            queue = session.scalars(select(Queue).where(Queue.key == key)).one()
            info = (queue.id, queue.timezone, booking_policy(queue))
        _QUEUES[key] = info
    return info


@bench.get("/bare-slots/<key>")
def bare_slots(key: str) -> Response:
    days = int(request.args.get("days", "7"))
    queue_id, timezone, policy = _queue_info(key)
    window = availability_range(policy, now(), None, days)
    rows: list[Any] = []
    if window is not None:
        with db().read_engine.connect() as connection:
            rows = list(
                connection.execute(
                    select(_slot.c.starts_at, _slot.c.ends_at, _slot.c.capacity - _slot.c.reserved - _slot.c.booked)
                    .where(
                        _slot.c.queue_id == queue_id,
                        _slot.c.starts_at >= window[0],
                        _slot.c.starts_at < window[1],
                        _slot.c.active.is_(True),
                        _slot.c.booked < _slot.c.capacity - _slot.c.reserved,
                    )
                    .order_by(_slot.c.starts_at)
                )
            )
    zone = ZoneInfo(timezone)
    slots = [
        {"start": s.astimezone(zone).isoformat(), "end": e.astimezone(zone).isoformat(), "seats_left": n}
        for s, e, n in rows
    ]
    return jsonify({"queue": key, "timezone": timezone, "slots": slots})


@bench.get("/static/<path:name>")
def static_file(name: str) -> Response:
    return send_from_directory(os.environ["BENCH_STATIC_DIR"], name)


@bench.post("/bare-insert")
def bare_insert() -> tuple[Response, int]:
    body = request.get_json()
    with db().engine.begin() as connection:
        result = connection.execute(
            insert(bench_row).values(
                phone=str(body.get("phone", "")),
                body=json.dumps(body),
                created_at=datetime.now(UTC).replace(tzinfo=None),
            )
        )
        row_id = result.inserted_primary_key[0] if result.inserted_primary_key else None
    return jsonify({"id": row_id}), 201


def build(settings: Settings | None = None) -> Flask:
    """The real app (settings from the environment unless given) plus the baseline endpoints."""
    app = create_app(settings)
    app.register_blueprint(bench)
    return app

"""Many OS processes race for the last seats: never overbooked, every loser told slot_full.

Each process opens its own connections and calls the same booking service the API
uses, released together by a barrier so the conditional UPDATEs really collide.
"""

from __future__ import annotations

import traceback
from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, CallbackEvent, Slot
from infra.settings import Settings
from scheduler.errors import DomainError
from services.booking_service import BookingRequest, book, cancel
from tests.integration.helpers import phone, race_in_processes, slots

PROCESSES = 60


def _contender(url: str, now: datetime, start: datetime | None, n: int, barrier: Barrier, results: Any) -> None:
    database = Database(Settings(database_url=url, secret_key="x", instance_path=Path("/tmp")))
    try:
        barrier.wait(timeout=60)
        with database.write() as session:
            kind = "scheduled" if start else "asap"
            request = BookingRequest(queue="support", phone=phone(n), kind=kind, source="api", slot_start=start)
            result = book(session, request, now, actor="race")
        results.put(("booked" if result.created else "duplicate", n))
    except DomainError as error:
        results.put((error.type, n))
    except Exception:  # any leak is a failure the test reports
        results.put(("exception", traceback.format_exc()))
    finally:
        database.dispose()


def _race(url: str, now: datetime, start: datetime | None, phones: list[int]) -> list[tuple[str, Any]]:
    return race_in_processes(_contender, [(url, now, start, n) for n in phones])


def _booked(db: Database, start: datetime) -> tuple[int, int]:
    with db.read() as session:
        row = session.execute(select(Slot.capacity, Slot.booked).where(Slot.starts_at == start)).one()
        return row.capacity, row.booked


def test_sixty_processes_race_for_the_last_seat_of_a_slot(
    client: FlaskClient, demo_queue: str, db: Database, settings: Settings, clock: FixedClock
) -> None:
    start = datetime.fromisoformat(slots(client)[0]["start"])
    with db.write() as session:  # one of the two seats is already taken
        book(session, BookingRequest("support", phone(9999), "scheduled", "api", slot_start=start), clock.now(), "t")
    db.dispose()  # no pooled connection crosses the fork

    outcomes = _race(settings.database_url, clock.now(), start, list(range(PROCESSES)))

    kinds = [kind for kind, _ in outcomes]
    assert "exception" not in kinds, [detail for kind, detail in outcomes if kind == "exception"]
    assert kinds.count("booked") == 1
    assert kinds.count("slot_full") == PROCESSES - 1
    assert _booked(db, start) == (2, 2)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 2
        assert session.scalar(select(func.count()).select_from(CallbackEvent)) == 2


def test_sixty_processes_booking_the_same_phone_make_one_callback(
    client: FlaskClient, demo_queue: str, db: Database, settings: Settings, clock: FixedClock
) -> None:
    start = datetime.fromisoformat(slots(client)[0]["start"])
    db.dispose()

    outcomes = _race(settings.database_url, clock.now(), start, [7] * PROCESSES)

    kinds = [kind for kind, _ in outcomes]
    assert "exception" not in kinds, [detail for kind, detail in outcomes if kind == "exception"]
    assert kinds.count("booked") == 1
    assert kinds.count("duplicate") == PROCESSES - 1
    assert _booked(db, start) == (2, 1)  # the losers' seats were given back


def test_asap_callbacks_racing_fill_seats_in_order_without_overbooking(
    client: FlaskClient, demo_queue: str, db: Database, settings: Settings, clock: FixedClock
) -> None:
    db.dispose()
    outcomes = _race(settings.database_url, clock.now(), None, list(range(PROCESSES)))
    kinds = [kind for kind, _ in outcomes]
    assert kinds.count("booked") == PROCESSES, outcomes
    with db.read() as session:
        over = session.scalar(select(func.count()).select_from(Slot).where(Slot.booked > Slot.capacity))
        seats = session.scalar(select(func.sum(Slot.booked)))
        holders = session.scalar(select(func.count()).select_from(Callback).where(Callback.slot_id.is_not(None)))
        per_slot = session.execute(select(Slot.starts_at, Slot.booked).where(Slot.booked > 0).order_by(Slot.starts_at))
        filled = [booked for _, booked in per_slot]
    assert over == 0
    assert seats == holders == PROCESSES
    assert filled == [2] * (PROCESSES // 2)  # earliest slots first, each full before the next


def test_cancel_and_book_racing_keep_the_count_exact(
    client: FlaskClient, demo_queue: str, db: Database, settings: Settings, clock: FixedClock
) -> None:
    start = datetime.fromisoformat(slots(client)[0]["start"])
    with db.write() as session:
        ref = book(
            session, BookingRequest("support", phone(5000), "scheduled", "api", slot_start=start), clock.now(), "t"
        )
        ref_value = ref.callback.ref
    with db.write() as session:
        cancel(session, ref_value, clock.now(), "t")
    db.dispose()
    outcomes = _race(settings.database_url, clock.now(), start, list(range(20)))
    assert [k for k, _ in outcomes].count("booked") == 2
    assert _booked(db, start) == (2, 2)

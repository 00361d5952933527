"""Property: for any sequence of bookings, cancellations and reschedules, every slot's
``booked`` equals the callbacks holding a seat in it, and never exceeds its capacity."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import func, select

from infra.db import Database
from infra.models import Callback, Slot
from infra.settings import Settings
from scheduler.errors import DomainError
from services.booking_service import BookingRequest, book, cancel, reschedule
from services.queue_documents import import_queue, parse_queue_document
from tests.conftest import MONDAY_10AM, demo_document
from tests.integration.helpers import phone

HOURS = [{"weekday": "monday", "opens": "11:00", "closes": "12:00", "slot_minutes": 15, "capacity": 2}]
STARTS = [MONDAY_10AM + timedelta(hours=1, minutes=15 * i) for i in range(4)]


@pytest.fixture(scope="module")
def template(sqlite_template: Path) -> Path:
    return sqlite_template


def make_machine(template_path: Path) -> type[RuleBasedStateMachine]:
    class Bookings(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.folder = Path(tempfile.mkdtemp())
            shutil.copyfile(template_path, self.folder / "db.sqlite")
            self.db = Database(Settings(f"sqlite:///{self.folder / 'db.sqlite'}", "x", instance_path=self.folder))
            with self.db.write() as session:
                doc = parse_queue_document(
                    demo_document(weekly_hours=HOURS, asap_reserve_percent=50, collect_off_hours=True)
                )
                import_queue(session, doc, MONDAY_10AM)
            self.refs: list[str] = []

        def teardown(self) -> None:
            self.db.dispose()
            shutil.rmtree(self.folder, ignore_errors=True)

        @rule(n=st.integers(0, 6), slot=st.sampled_from([*STARTS, None]))
        def book(self, n: int, slot: datetime | None) -> None:
            kind = "scheduled" if slot else "asap"
            try:
                with self.db.write() as session:
                    result = book(
                        session, BookingRequest("support", phone(n), kind, "api", slot_start=slot), MONDAY_10AM, "prop"
                    )
                    self.refs.append(result.callback.ref)
            except DomainError as error:
                assert error.type in ("slot_full", "slot_not_found")

        @rule(i=st.integers(0, 20))
        def cancel(self, i: int) -> None:
            if self.refs:
                with self.db.write() as session:
                    cancel(session, self.refs[i % len(self.refs)], MONDAY_10AM, "prop")

        @rule(i=st.integers(0, 20), slot=st.sampled_from(STARTS))
        def reschedule(self, i: int, slot: datetime) -> None:
            if not self.refs:
                return
            try:
                with self.db.write() as session:
                    reschedule(session, self.refs[i % len(self.refs)], slot, MONDAY_10AM, "prop")
            except DomainError as error:
                assert error.type in ("slot_full", "not_reschedulable")

        @invariant()
        def seats_match_callbacks(self) -> None:
            with self.db.read() as session:
                for slot_id, capacity, reserved, booked in session.execute(
                    select(Slot.id, Slot.capacity, Slot.reserved, Slot.booked)
                ):
                    holders = session.scalar(
                        select(func.count())
                        .select_from(Callback)
                        .where(Callback.slot_id == slot_id, Callback.state != "cancelled")
                    )
                    assert booked == holders
                    assert 0 <= booked <= capacity
                    assert reserved == capacity // 2

    return Bookings


def test_seats_always_match_the_callbacks_holding_them(template: Path) -> None:
    machine = make_machine(template)
    machine.TestCase.settings = settings(
        max_examples=25, stateful_step_count=25, deadline=None, suppress_health_check=list(HealthCheck)
    )
    machine.TestCase().runTest()

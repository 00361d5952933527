"""The night the clocks go back (Europe/London, Sunday 31 October 2027: 02:00 BST becomes
01:00 GMT): a queue open all night offers both 01:xx hours, told apart by their offset,
and each has its own seats, over the API, on the booking page and in the console grid."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, Slot
from tests.integration.helpers import book, slots, weekday_hours
from tests.integration.test_booking_page import page
from tests.integration.test_console_access import SignedIn, signed_in, users  # noqa: F401 (fixtures)

ALL_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
FIRST = "2027-10-31T01:30:00+01:00"  # 00:30 UTC
SECOND = "2027-10-31T01:30:00+00:00"  # 01:30 UTC


def open_all_night(clock: FixedClock, make_queue: Any, slot_minutes: int = 30) -> None:
    clock.set(datetime(2027, 10, 29, 12, 0, tzinfo=UTC))  # Friday before
    make_queue(weekly_hours=weekday_hours(slot_minutes, 1, "00:00", "00:00", ALL_WEEK))


def sunday(client: FlaskClient) -> list[dict[str, Any]]:
    return [s for s in slots(client, **{"from": "2027-10-31", "days": 1}) if s["start"].startswith("2027-10-31")]


def test_the_repeated_hour_is_offered_twice_with_its_two_offsets(
    client: FlaskClient, clock: FixedClock, make_queue: Any
) -> None:
    open_all_night(clock, make_queue)
    starts = [s["start"][11:] for s in sunday(client)]
    assert starts[:8] == [
        "00:00:00+01:00",
        "00:30:00+01:00",
        "01:00:00+01:00",
        "01:30:00+01:00",
        "01:00:00+00:00",
        "01:30:00+00:00",
        "02:00:00+00:00",
        "02:30:00+00:00",
    ]
    assert len(starts) == 50  # 25 hours of half-hour slots
    by_start = {s["start"]: s for s in sunday(client)}
    assert by_start[FIRST]["end"] == "2027-10-31T01:00:00+00:00"  # the first 01:30 runs into the second 01:00
    assert by_start[SECOND]["end"] == "2027-10-31T02:00:00+00:00"


def test_an_hourly_queue_offers_01_00_twice(client: FlaskClient, clock: FixedClock, make_queue: Any) -> None:
    open_all_night(clock, make_queue, slot_minutes=60)
    starts = [s["start"][11:] for s in sunday(client)]
    assert starts[:4] == ["00:00:00+01:00", "01:00:00+01:00", "01:00:00+00:00", "02:00:00+00:00"]
    assert len(starts) == 25


def test_booking_the_second_occurrence_takes_its_own_seat(
    client: FlaskClient, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    open_all_night(clock, make_queue)
    second = book(client, 1, SECOND)
    assert second.status_code == 201, second.get_json()
    assert second.get_json()["slot_start"] == SECOND
    listed = {s["start"] for s in sunday(client)}
    assert SECOND not in listed and FIRST in listed  # one seat each: only the second is full
    first = book(client, 2, FIRST)
    assert first.status_code == 201 and first.get_json()["slot_start"] == FIRST
    assert book(client, 3, SECOND).get_json()["type"] == "slot_full"
    assert book(client, 4, "2027-10-31T01:30:00").status_code == 422  # which 01:30? never guessed
    with db.read() as session:
        booked = session.scalars(select(Slot.starts_at).join(Callback, Callback.slot_id == Slot.id)).all()
    assert sorted(booked) == [
        datetime(2027, 10, 31, 0, 30, tzinfo=UTC),
        datetime(2027, 10, 31, 1, 30, tzinfo=UTC),
    ]


def test_the_booking_page_labels_both_occurrences_with_their_zone(
    client: FlaskClient, clock: FixedClock, make_queue: Any
) -> None:
    open_all_night(clock, make_queue)
    shown = page(client.get("/book/support?from=2027-10-31"))
    assert FIRST in shown.radios and SECOND in shown.radios
    assert shown.radios.index(FIRST) < shown.radios.index(SECOND)
    assert "01:30 BST" in shown.text and "01:30 GMT" in shown.text  # both say which they are


def test_the_console_grid_has_a_row_for_the_second_occurrence(
    signed_in: SignedIn,  # noqa: F811
    clock: FixedClock,
    make_queue: Any,
) -> None:
    open_all_night(clock, make_queue)
    shown = signed_in("viewer").get("/console/queues/support/grid?week=2027-10-25").get_data(as_text=True)
    assert 'data-slot="2027-10-31T01:30"' in shown  # the first, in the 01:30 row with the other days
    assert 'data-slot="2027-10-31T01:30 GMT"' in shown  # the second, a row of its own
    assert 'data-slot="2027-10-30T01:30 GMT"' not in shown

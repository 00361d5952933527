"""The capacity grid's bulk changes through the Flask client (console/capacity_views.py):
seats for a range, a week copied to the next weeks, a pattern; each one POST, one
transaction, one audit entry, refused as a whole naming the cells below their bookings,
past slots untouched, DST weeks in Europe/London kept to local time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import AuditEntry
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Slot
from services.accounts import create_user
from tests.integration.helpers import book, weekday_hours
from tests.integration.test_console_access import PASSWORD, csrf, sign_in

ALL_WEEK = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@pytest.fixture
def supervisor(app: Flask, db: Database, clock: FixedClock) -> FlaskClient:
    with db.write() as session:
        create_user(session, "sup@example.com", PASSWORD, "supervisor", clock.now())
    client = app.test_client()
    assert sign_in(client, "sup@example.com").status_code == 303
    return client


def post(client: FlaskClient, what: str, **form: Any) -> Any:
    return client.post(
        f"/console/queues/support/capacity/{what}", data={"csrf_token": csrf(client, "/console/"), **form}
    )


def capacities(db: Database) -> dict[datetime, int]:
    with db.read() as session:
        return {s: c for s, c in session.execute(select(Slot.starts_at, Slot.capacity).where(Slot.active.is_(True)))}


def audits(db: Database) -> list[AuditEntry]:
    with db.read() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == "slot.capacity")))


def at(day: int, hour: int, minute: int = 0, month: int = 1) -> datetime:
    return datetime(2027, month, day, hour, minute, tzinfo=UTC)


def test_seats_for_a_range_are_one_save_and_one_audit_entry(
    supervisor: FlaskClient, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    before = capacities(db)
    done = post(
        supervisor,
        "range",
        first_day="2027-01-05",
        last_day="2027-01-07",
        starts="09:00",
        ends="10:00",
        seats="5",
        week="2027-01-04",
    )
    assert done.status_code == 303 and done.headers["Location"].endswith("/grid?week=2027-01-04")
    after = capacities(db)
    changed = {s for s in after if after[s] != before[s]}
    assert changed == {at(d, 9, m) for d in (5, 6, 7) for m in (0, 15, 30, 45)}
    assert {after[s] for s in changed} == {5}
    [entry] = audits(db)
    assert entry.actor == "sup@example.com"
    assert entry.target == "support 12 slots Tue 05 Jan 09:00 – Thu 07 Jan 09:45"
    assert entry.after is not None and (entry.after["slots"], entry.after["seats"]) == (12, 5)
    seats = {s["start"]: s["seats_left"] for s in client.get("/api/v1/queues/support/slots").get_json()["slots"]}
    assert seats["2027-01-06T09:30:00+00:00"] == 5


def test_one_cell_below_its_bookings_refuses_the_whole_range_and_names_the_cells(
    supervisor: FlaskClient, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    assert book(client, 1, "2027-01-06T09:30:00+00:00").status_code == 201
    assert book(client, 2, "2027-01-06T09:30:00+00:00").status_code == 201
    assert book(client, 3, "2027-01-07T09:00:00+00:00").status_code == 201
    before = capacities(db)
    refused = post(
        supervisor,
        "range",
        first_day="2027-01-05",
        last_day="2027-01-07",
        starts="09:00",
        ends="10:00",
        seats="0",
        week="2027-01-04",
    )
    assert refused.status_code == 409
    page = refused.get_data(as_text=True)
    assert 'data-type="capacity_below_booked"' in page and "Nothing was changed" in page
    assert "<li>Wed 06 Jan 09:30: 2 booked</li>" in page and "<li>Thu 07 Jan 09:00: 1 booked</li>" in page
    assert capacities(db) == before and audits(db) == []


def test_past_slots_are_never_changed(supervisor: FlaskClient, db: Database, demo_queue: str) -> None:
    # Monday 4 January, 10:00 UTC now: 09:00 to 10:00 has begun.
    done = post(
        supervisor, "range", first_day="2027-01-04", last_day="2027-01-04", starts="09:00", ends="11:00", seats="7"
    )
    assert done.status_code == 303
    after = capacities(db)
    assert [after[at(4, 9, m)] for m in (0, 15, 30, 45)] + [after[at(4, 10)]] == [2, 2, 2, 2, 2]
    assert [after[at(4, 10, m)] for m in (15, 30, 45)] == [7, 7, 7]
    only_past = post(
        supervisor, "range", first_day="2027-01-04", last_day="2027-01-04", starts="09:00", ends="10:00", seats="7"
    )
    assert only_past.status_code == 409 and "have begun" in only_past.get_data(as_text=True)


GOOD_RANGE = {"first_day": "2027-01-05", "last_day": "2027-01-05", "starts": "09:00", "ends": "10:00", "seats": "3"}


@pytest.mark.parametrize(
    ("wrong", "field"),
    [
        ({"starts": "10:00", "ends": "09:00"}, "end"),
        ({"first_day": "05/01/2027"}, "first"),
        ({"starts": "9am"}, "starts"),
        ({"seats": "-1"}, "seats"),
        ({"seats": "10001"}, "seats"),
    ],
)
def test_a_range_typed_wrong_is_refused_with_the_field(
    supervisor: FlaskClient, db: Database, demo_queue: str, wrong: dict[str, str], field: str
) -> None:
    assert post(supervisor, "range", **GOOD_RANGE).status_code == 303  # the good one is saved
    refused = post(supervisor, "range", **(GOOD_RANGE | wrong))
    assert refused.status_code == 422
    page = refused.get_data(as_text=True)
    assert 'data-type="validation_error"' in page and field in page
    assert len(audits(db)) == 1


def test_this_week_copied_to_the_next_week(supervisor: FlaskClient, db: Database, demo_queue: str) -> None:
    post(supervisor, "range", first_day="2027-01-08", last_day="2027-01-08", starts="14:00", ends="15:00", seats="4")
    done = post(supervisor, "copy", week="2027-01-04", weeks="1")
    assert done.status_code == 303
    after = capacities(db)
    assert [after[at(15, 14, m)] for m in (0, 15, 30, 45)] == [4, 4, 4, 4]
    assert after[at(15, 15)] == 2 and after[at(11, 9)] == 2
    copied = audits(db)[-1]
    assert copied.after is not None and copied.after["how"] == "copy"
    assert copied.after["capacity"] == {"2": 156, "4": 4}  # the week after: 5 days × 32 slots
    assert (copied.after["week"], copied.after["weeks"]) == ("2027-01-04", 1)
    assert len(audits(db)) == 2


def test_a_copy_refused_by_a_booking_changes_nothing(
    supervisor: FlaskClient, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    post(supervisor, "range", first_day="2027-01-08", last_day="2027-01-08", starts="14:00", ends="15:00", seats="0")
    assert book(client, 1, "2027-01-15T14:30:00+00:00").status_code == 201
    before = capacities(db)
    refused = post(supervisor, "copy", week="2027-01-04", weeks="1")
    assert refused.status_code == 409 and "Fri 15 Jan 14:30: 1 booked" in refused.get_data(as_text=True)
    assert capacities(db) == before and len(audits(db)) == 1
    assert post(supervisor, "copy", week="2027-01-04", weeks="0").status_code == 422


def test_a_pattern_over_the_next_weeks(supervisor: FlaskClient, db: Database, demo_queue: str) -> None:
    done = post(supervisor, "pattern", weekday=["4"], starts="14:00", ends="17:00", seats="4", over="weeks", weeks="2")
    assert done.status_code == 303
    after = capacities(db)
    fridays = {s for s in after if s.weekday() == 4 and 14 <= s.hour < 17}
    assert len(fridays) == 24 and {after[s] for s in fridays} == {4}
    assert {after[s] for s in after if s not in fridays} == {2}
    [entry] = audits(db)
    assert entry.after is not None and (entry.after["how"], entry.after["slots"], entry.after["seats"]) == (
        "pattern",
        24,
        4,
    )
    assert entry.after["weekdays"] == [4] and (entry.after["starts"], entry.after["ends"]) == ("14:00", "17:00")
    assert (entry.after["first_day"], entry.after["last_day"]) == ("2027-01-04", "2027-01-17")


def test_a_pattern_over_dates_and_one_without_weekdays(supervisor: FlaskClient, db: Database, demo_queue: str) -> None:
    done = post(
        supervisor,
        "pattern",
        weekday=["0", "2"],
        starts="16:00",
        ends="17:00",
        seats="3",
        over="dates",
        first_day="2027-01-11",
        last_day="2027-01-17",
    )
    assert done.status_code == 303
    after = capacities(db)
    assert {s for s in after if after[s] == 3} == {at(d, 16, m) for d in (11, 13) for m in (0, 15, 30, 45)}
    refused = post(supervisor, "pattern", starts="16:00", ends="17:00", seats="3", over="weeks", weeks="1")
    assert refused.status_code == 422 and "weekday" in refused.get_data(as_text=True)


def test_the_week_the_clocks_go_forward_is_copied_by_local_time(
    supervisor: FlaskClient, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    clock.set(datetime(2027, 3, 20, 12, 0, tzinfo=UTC))  # Saturday before: GMT until 28 March
    make_queue()
    post(supervisor, "range", first_day="2027-03-22", last_day="2027-03-22", starts="09:00", ends="09:15", seats="6")
    assert post(supervisor, "copy", week="2027-03-22", weeks="1").status_code == 303
    after = capacities(db)
    assert after[at(22, 9, month=3)] == 6  # 09:00 GMT
    assert after[at(29, 8, month=3)] == 6  # 09:00 BST is 08:00 UTC
    assert after[at(29, 9, month=3)] == 2


def test_the_night_the_clocks_go_back_a_pattern_covers_both_01_30s(
    supervisor: FlaskClient, db: Database, clock: FixedClock, make_queue: Any
) -> None:
    clock.set(datetime(2027, 10, 29, 12, 0, tzinfo=UTC))
    make_queue(weekly_hours=weekday_hours(30, 1, "00:00", "00:00", ALL_WEEK))
    done = post(
        supervisor,
        "pattern",
        weekday=["6"],
        starts="01:00",
        ends="02:00",
        seats="3",
        over="dates",
        first_day="2027-10-31",
        last_day="2027-10-31",
    )
    assert done.status_code == 303
    after = capacities(db)
    assert {s for s in after if after[s] == 3} == {
        datetime(2027, 10, 31, h, m, tzinfo=UTC) for h in (0, 1) for m in (0, 30)
    }
    shown = supervisor.get("/console/queues/support/grid?week=2027-10-25").get_data(as_text=True)
    assert 'data-slot="2027-10-31T01:30 GMT"' in shown and 'data-slot="2027-10-31T01:30"' in shown


def test_the_grid_shows_how_full_each_cell_is_with_a_legend(
    supervisor: FlaskClient, client: FlaskClient, demo_queue: str
) -> None:
    book(client, 1, "2027-01-08T09:00:00+00:00")
    book(client, 2, "2027-01-08T09:15:00+00:00")
    book(client, 3, "2027-01-08T09:15:00+00:00")
    page = supervisor.get("/console/queues/support/grid").get_data(as_text=True)
    assert 'role="grid"' in page and 'aria-multiselectable="true"' in page
    assert "none booked" in page and "under half booked" in page and "half booked or more" in page
    friday = page.split('data-slot="2027-01-08T09:00"')[1].split("</td>")[0]
    assert "1 / 2" in friday and '<span class="fill">high</span>' in friday
    full = page.split('data-slot="2027-01-08T09:15"')[1].split("</td>")[0]
    assert "2 / 2" in full and '<span class="fill">full</span>' in full
    assert 'id="range-form"' in page and "/console/grid.js" in page
    assert supervisor.get("/console/grid.js").headers["Content-Type"].startswith("text/javascript")


def test_a_booking_landing_after_the_read_fails_the_whole_change_in_its_update(
    supervisor: FlaskClient, client: FlaskClient, db: Database, demo_queue: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another process books a seat between our read and our UPDATE: the conditional UPDATE
    (booked <= new capacity) catches it and the whole change rolls back."""
    import services.slot_capacity as slot_capacity
    from scheduler.bulk_capacity import GridSlot

    assert book(client, 1, "2027-01-06T09:30:00+00:00").status_code == 201
    read = slot_capacity._locked_slots

    def stale(*args: Any) -> list[GridSlot]:  # what was read before the booking
        return [GridSlot(s.id, s.starts_at, s.capacity, 0) for s in read(*args)]

    monkeypatch.setattr(slot_capacity, "_locked_slots", stale)
    before = capacities(db)
    refused = post(
        supervisor, "range", first_day="2027-01-05", last_day="2027-01-07", starts="09:00", ends="10:00", seats="0"
    )
    assert refused.status_code == 409 and "Wed 06 Jan 09:30: 1 booked" in refused.get_data(as_text=True)
    assert capacities(db) == before and audits(db) == []

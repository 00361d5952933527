"""The booking API end to end, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, CallbackEvent, Slot
from tests.integration.helpers import book, phone, slots, weekday_hours


def seats(db: Database, start: str) -> tuple[int, int]:
    with db.read() as session:
        row = session.execute(
            select(Slot.capacity, Slot.booked).where(Slot.starts_at == datetime.fromisoformat(start))
        ).one()
    return row.capacity, row.booked


def test_the_queue_says_whether_it_is_open_and_its_hours(client: FlaskClient, demo_queue: str) -> None:
    body = client.get("/api/v1/queues/support").get_json()
    assert body["key"] == "support" and body["timezone"] == "Europe/London"
    assert body["open_now"] is True
    assert body["collect_off_hours"] is False
    assert body["schedule"]["monday"] == [{"opens": "09:00", "closes": "17:00"}]
    assert body["schedule"]["saturday"] == []


def test_the_queue_is_closed_at_night(client: FlaskClient, demo_queue: str, clock: FixedClock) -> None:
    clock.set(datetime(2027, 1, 4, 22, 0, tzinfo=UTC))
    assert client.get("/api/v1/queues/support").get_json()["open_now"] is False


def test_slots_respect_lead_time_and_show_seats(client: FlaskClient, demo_queue: str) -> None:
    listed = slots(client, days=1)
    # 10:00 now + 30 minutes lead: the first bookable slot is 10:30, the last 16:45.
    assert listed[0] == {"start": "2027-01-04T10:30:00+00:00", "end": "2027-01-04T10:45:00+00:00", "seats_left": 2}
    assert listed[-1]["start"] == "2027-01-04T16:45:00+00:00"
    assert len(listed) == 26


def test_slots_cover_the_horizon_only(client: FlaskClient, demo_queue: str) -> None:
    listed = slots(client, days=31)
    last = datetime.fromisoformat(listed[-1]["start"])
    assert last.date().isoformat() == "2027-01-18"  # 14 days after Monday 4 January
    assert all(datetime.fromisoformat(s["start"]).weekday() < 5 for s in listed)


def test_slots_are_shown_in_the_queue_zone_in_summer(client: FlaskClient, demo_queue: str, clock: FixedClock) -> None:
    clock.set(datetime(2027, 7, 5, 7, 0, tzinfo=UTC))
    listed = slots(client, days=1)
    assert listed[0]["start"] == "2027-07-05T09:00:00+01:00"


def test_booking_a_slot_takes_a_seat_and_records_an_event(client: FlaskClient, demo_queue: str, db: Database) -> None:
    start = slots(client)[0]["start"]
    response = book(client, 1, start, name="Ada", fields=[{"name": "order", "value": "A-1"}], tags=["vip"])
    assert response.status_code == 201
    body = response.get_json()
    assert response.headers["Location"] == f"/api/v1/callbacks/{body['ref']}"
    assert body["state"] == "scheduled" and body["kind"] == "scheduled"
    assert body["slot_start"] == start and body["phone"] == phone(1)
    assert body["fields"] == [{"name": "order", "value": "A-1"}] and body["tags"] == ["vip"]
    assert seats(db, start) == (2, 1)
    assert slots(client)[0]["seats_left"] == 1
    with db.read() as session:
        event = session.scalars(select(CallbackEvent)).one()
    assert (event.step, event.from_state, event.to_state, event.actor) == ("book", None, "scheduled", "api")
    assert client.get(f"/api/v1/callbacks/{body['ref']}").get_json() == body


def test_a_full_slot_disappears_and_refuses_more_bookings(client: FlaskClient, demo_queue: str, db: Database) -> None:
    start = slots(client)[0]["start"]
    assert book(client, 1, start).status_code == 201
    assert book(client, 2, start).status_code == 201
    third = book(client, 3, start)
    assert third.status_code == 409
    assert third.get_json()["type"] == "slot_full"
    assert slots(client)[0]["start"] != start
    assert seats(db, start) == (2, 2)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 2


def test_the_same_phone_gets_its_live_callback_back(client: FlaskClient, demo_queue: str, db: Database) -> None:
    listed = slots(client)
    first = book(client, 1, listed[0]["start"])
    again = client.post(
        "/api/v1/callbacks",
        json={"queue": "support", "phone": "07400 000001", "kind": "scheduled", "slot_start": listed[5]["start"]},
    )
    assert again.status_code == 200
    assert again.get_json()["ref"] == first.get_json()["ref"]
    assert seats(db, listed[5]["start"]) == (2, 0)


def test_cancel_gives_the_seat_back_and_twice_is_harmless(client: FlaskClient, demo_queue: str, db: Database) -> None:
    start = slots(client)[0]["start"]
    ref = book(client, 1, start).get_json()["ref"]
    first = client.delete(f"/api/v1/callbacks/{ref}")
    assert first.status_code == 200 and first.get_json()["state"] == "cancelled"
    assert seats(db, start) == (2, 0)
    second = client.delete(f"/api/v1/callbacks/{ref}")
    assert second.status_code == 200
    assert seats(db, start) == (2, 0)
    with db.read() as session:
        steps = session.scalars(select(CallbackEvent.step).order_by(CallbackEvent.id)).all()
    assert steps == ["book", "cancel"]
    # After cancelling, the same phone may book again.
    assert book(client, 1, start).status_code == 201


def test_reschedule_moves_the_seat_atomically(client: FlaskClient, demo_queue: str, db: Database) -> None:
    listed = slots(client)
    old, new = listed[0]["start"], listed[4]["start"]
    ref = book(client, 1, old).get_json()["ref"]
    moved = client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": new})
    assert moved.status_code == 200
    assert moved.get_json()["slot_start"] == new
    assert seats(db, old) == (2, 0) and seats(db, new) == (2, 1)
    with db.read() as session:
        event = session.scalars(select(CallbackEvent).where(CallbackEvent.step == "reschedule")).one()
    assert event.payload == {
        "from_slot_start": datetime.fromisoformat(old).isoformat(),
        "to_slot_start": datetime.fromisoformat(new).isoformat(),
    }


def test_a_failed_reschedule_changes_nothing(client: FlaskClient, demo_queue: str, db: Database) -> None:
    listed = slots(client)
    old, full = listed[0]["start"], listed[1]["start"]
    ref = book(client, 1, old).get_json()["ref"]
    book(client, 2, full)
    book(client, 3, full)
    refused = client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": full})
    assert refused.status_code == 409 and refused.get_json()["type"] == "slot_full"
    assert seats(db, old) == (2, 1) and seats(db, full) == (2, 2)
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["slot_start"] == old


def test_a_cancelled_callback_cannot_be_rescheduled(client: FlaskClient, demo_queue: str) -> None:
    listed = slots(client)
    ref = book(client, 1, listed[0]["start"]).get_json()["ref"]
    client.delete(f"/api/v1/callbacks/{ref}")
    refused = client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": listed[1]["start"]})
    assert refused.status_code == 409 and refused.get_json()["type"] == "not_reschedulable"


def test_booking_rules_give_typed_errors(client: FlaskClient, demo_queue: str, clock: FixedClock) -> None:
    now = clock.now()
    too_soon = book(client, 1, (now + timedelta(minutes=15)).isoformat())
    assert (too_soon.status_code, too_soon.get_json()["type"]) == (422, "too_soon")
    too_far = book(client, 1, datetime(2027, 2, 1, 10, 0, tzinfo=UTC).isoformat())
    assert (too_far.status_code, too_far.get_json()["type"]) == (422, "too_far")
    misaligned = book(client, 1, datetime(2027, 1, 5, 10, 7, tzinfo=UTC).isoformat())
    assert (misaligned.status_code, misaligned.get_json()["type"]) == (404, "slot_not_found")
    saturday = book(client, 1, datetime(2027, 1, 9, 10, 0, tzinfo=UTC).isoformat())
    assert saturday.get_json()["type"] == "slot_not_found"
    unknown = client.post("/api/v1/callbacks", json={"queue": "nope", "phone": phone(1), "kind": "asap"})
    assert (unknown.status_code, unknown.get_json()["type"]) == (404, "queue_not_found")
    bad_phone = client.post("/api/v1/callbacks", json={"queue": "support", "phone": "12", "kind": "asap"})
    assert (bad_phone.status_code, bad_phone.get_json()["type"]) == (422, "phone_invalid")
    assert client.get("/api/v1/callbacks/NOSUCHREF1").get_json()["type"] == "callback_not_found"


def test_a_queue_refuses_countries_it_does_not_call(client: FlaskClient, make_queue, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    make_queue(allowed_countries=["GB"])
    refused = client.post("/api/v1/callbacks", json={"queue": "support", "phone": "+33612345678", "kind": "asap"})
    assert (refused.status_code, refused.get_json()["type"]) == (422, "phone_country_not_allowed")


def test_asap_keeps_the_callers_place(client: FlaskClient, make_queue, clock: FixedClock) -> None:  # type: ignore[no-untyped-def]
    make_queue(estimated_wait_seconds=300)
    response = book(client, 1)
    assert response.status_code == 201
    body = response.get_json()
    assert body["kind"] == "asap"
    # Due when the caller would have reached an agent: now + the queue's estimated wait (300 s).
    assert datetime.fromisoformat(body["due_at"]) == clock.now() + timedelta(minutes=5)
    assert body["slot_start"] == "2027-01-04T10:00:00+00:00"


def test_asap_outside_hours_is_refused_unless_the_queue_collects_them(
    client: FlaskClient,
    make_queue,
    clock: FixedClock,  # type: ignore[no-untyped-def]
) -> None:
    make_queue()
    clock.set(datetime(2027, 1, 4, 20, 0, tzinfo=UTC))
    refused = book(client, 1)
    assert (refused.status_code, refused.get_json()["type"]) == (409, "outside_hours")
    make_queue(collect_off_hours=True)
    accepted = book(client, 1)
    assert accepted.status_code == 201
    assert accepted.get_json()["due_at"] == "2027-01-05T09:00:00+00:00"  # next morning's first slot


def test_asap_uses_the_reserve_that_scheduled_bookings_cannot(
    client: FlaskClient,
    make_queue,
    db: Database,  # type: ignore[no-untyped-def]
) -> None:
    hours = weekday_hours(15, 4)
    make_queue(weekly_hours=hours, asap_reserve_percent=50, estimated_wait_seconds=3600)  # ASAP due 11:00
    eleven = "2027-01-04T11:00:00+00:00"
    assert next(s for s in slots(client) if s["start"] == eleven)["seats_left"] == 2
    assert book(client, 1, eleven).status_code == 201
    assert book(client, 2, eleven).status_code == 201
    assert book(client, 3, eleven).get_json()["type"] == "slot_full"
    for n in (4, 5):
        asap = book(client, n)
        assert asap.status_code == 201 and asap.get_json()["slot_start"] == eleven
    overflow = book(client, 6)  # 11:00 is now full: the next slot with a seat
    assert overflow.get_json()["slot_start"] == "2027-01-04T11:15:00+00:00"
    assert seats(db, eleven) == (4, 4)


def test_idempotency_key_replays_the_first_answer(client: FlaskClient, demo_queue: str, db: Database) -> None:
    start = slots(client)[0]["start"]
    body = {"queue": "support", "phone": phone(1), "kind": "scheduled", "slot_start": start}
    headers = {"Idempotency-Key": "order-42"}
    first = client.post("/api/v1/callbacks", json=body, headers=headers)
    client.delete(f"/api/v1/callbacks/{first.get_json()['ref']}")
    replay = client.post("/api/v1/callbacks", json=body, headers=headers)
    assert replay.status_code == 201
    assert replay.get_json() == first.get_json()  # the stored answer, not a new booking
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 1
    other = client.post("/api/v1/callbacks", json={**body, "phone": phone(2)}, headers=headers)
    assert (other.status_code, other.get_json()["type"]) == (422, "idempotency_key_reused")
    bad = client.post("/api/v1/callbacks", json=body, headers={"Idempotency-Key": "has space"})
    assert bad.get_json()["type"] == "validation_error"


def test_an_error_is_not_stored_under_the_idempotency_key(client: FlaskClient, demo_queue: str) -> None:
    start = slots(client)[0]["start"]
    book(client, 1, start)
    book(client, 2, start)
    body = {"queue": "support", "phone": phone(3), "kind": "scheduled", "slot_start": start}
    assert client.post("/api/v1/callbacks", json=body, headers={"Idempotency-Key": "k"}).status_code == 409
    client.delete(f"/api/v1/callbacks/{book(client, 1, start).get_json()['ref']}")
    assert client.post("/api/v1/callbacks", json=body, headers={"Idempotency-Key": "k"}).status_code == 201


def test_slots_extend_themselves_when_no_worker_has_run(
    client: FlaskClient, demo_queue: str, clock: FixedClock
) -> None:
    clock.advance(days=10)  # Thursday 14 January: rows must now reach 28 January
    listed = slots(client, days=31)
    assert listed[-1]["start"].startswith("2027-01-28")


def test_an_idempotency_key_expires_after_a_day(client: FlaskClient, demo_queue: str, clock: FixedClock) -> None:
    listed = slots(client)
    body = {"queue": "support", "phone": phone(1), "kind": "scheduled", "slot_start": listed[-1]["start"]}
    first = client.post("/api/v1/callbacks", json=body, headers={"Idempotency-Key": "k1"})
    client.delete(f"/api/v1/callbacks/{first.get_json()['ref']}")
    clock.advance(hours=25)
    again = client.post("/api/v1/callbacks", json=body, headers={"Idempotency-Key": "k1"})
    assert again.status_code == 201
    assert again.get_json()["ref"] != first.get_json()["ref"]  # a new booking, not the old answer


def test_too_soon_tells_the_earliest_time_in_the_queue_zone(
    client: FlaskClient, demo_queue: str, clock: FixedClock
) -> None:
    clock.set(datetime(2027, 7, 5, 9, 0, tzinfo=UTC))  # 10:00 BST
    refused = book(client, 1, "2027-07-05T10:15:00+01:00")
    assert refused.get_json()["details"] == {"earliest": "2027-07-05T10:30:00+01:00"}

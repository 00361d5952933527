"""Booking links end to end: the short link in a text redirects to the signed booking
page; the API validates a token and a reschedule link moves its callback exactly once."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import CallbackEvent, ShortLink, Slot, UsedLink
from scheduler.errors import DomainError
from services.links import (
    booking_token,
    forget_expired_links,
    read_booking_token,
    reschedule_with_link,
    short_booking_url,
)
from tests.integration.helpers import book, phone, slots


def make_link(app: Flask, db: Database, clock: FixedClock, ref: str | None = None, n: int = 1) -> str:
    with db.write() as session:
        return short_booking_url(session, app.extensions["settings"], clock.now(), "support", phone(n), ref=ref)


def test_a_short_link_redirects_to_the_signed_booking_page(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    link = make_link(app, db, clock)
    base = app.extensions["settings"].public_base_url
    assert link.startswith(f"{base}/b/") and len(link) == len(base) + len("/b/") + 10
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302
    assert response.headers["Cache-Control"] == "no-store"
    target = urlsplit(response.headers["Location"])
    assert f"{target.scheme}://{target.netloc}" == base and target.path == "/book/support"
    token = read_booking_token(app.extensions["settings"].secret_key, parse_qs(target.query)["t"][0], clock.now())
    assert (token.queue, token.phone, token.ref, token.is_reschedule) == ("support", phone(1), None, False)
    assert make_link(app, db, clock) != link  # a new code per text


def test_an_unknown_short_link_is_404_and_an_expired_one_410(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    for code in ("AAAAAAAAAA", "short", "x" * 300):
        response = client.get(f"/b/{code}")
        assert (response.status_code, response.get_json()["type"]) == (404, "link_invalid"), code
    page = client.get("/b/AAAAAAAAAA", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html" and "not valid" in page.get_data(as_text=True)

    path = urlsplit(make_link(app, db, clock)).path
    clock.advance(days=7, seconds=-1)
    assert client.get(path).status_code == 302
    clock.advance(seconds=1)
    response = client.get(path)
    assert (response.status_code, response.get_json()["type"]) == (410, "link_expired")
    # A person's browser goes to the queue's booking page, which says so above a fresh form.
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 302 and page.headers["Location"].endswith("/book/support?notice=link_expired")
    fresh = client.get(urlsplit(page.headers["Location"]).path + "?notice=link_expired")
    assert fresh.status_code == 200 and "This link has expired" in fresh.get_data(as_text=True)


def test_booking_link_days_sets_the_expiry(app: Flask, db: Database, clock: FixedClock, demo_queue: str) -> None:
    settings = app.extensions["settings"].with_overrides(booking_link_days=2)
    with db.write() as session:
        short_booking_url(session, settings, clock.now(), "support", phone(1))
    with db.read() as session:
        row = session.scalars(select(ShortLink)).one()
    assert row.expires_at == clock.now() + timedelta(days=2)


def token_of(client: FlaskClient, link: str) -> str:
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302
    return parse_qs(urlsplit(response.headers["Location"]).query)["t"][0]


def booked(client: FlaskClient, n: int, start: str, **extra: object) -> dict[str, Any]:
    response = book(client, n, start, **extra)
    assert response.status_code == 201, response.get_json()
    body: dict[str, Any] = response.get_json()
    return body


def error_of(response: Any) -> tuple[int, str]:
    return response.status_code, response.get_json()["type"]


def test_the_api_reads_a_booking_link(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    token = token_of(client, make_link(app, db, clock))
    response = client.get(f"/api/v1/booking-links/{token}")
    assert response.status_code == 200
    assert response.get_json() == {
        "queue": "support",
        "phone": phone(1),
        "phone_masked": "+44********01",
        "language": "en",
        "reschedule": False,
        "expires_at": "2027-01-11T10:00:00+00:00",
        "callback": None,
    }


def test_the_api_reads_a_reschedule_link_with_its_callback(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    callback = booked(client, 1, slots(client)[0]["start"], locale="ru")
    token = token_of(client, make_link(app, db, clock, ref=callback["ref"]))
    body = client.get(f"/api/v1/booking-links/{token}").get_json()
    assert (body["reschedule"], body["language"], body["callback"]) == (True, "ru", callback)


def test_a_link_we_did_not_sign_is_invalid_and_an_old_one_expired(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    token = token_of(client, make_link(app, db, clock))
    payload, signature = token.rsplit(".", 1)
    other_payload = token_of(client, make_link(app, db, clock, n=2)).rsplit(".", 1)[0]
    later = clock.now() + timedelta(days=1)
    for bad in (
        f"{payload}.{signature[:-2]}xx",  # a signature changed
        f"{other_payload}.{signature}",  # another phone under this signature
        "nonsense",
        booking_token("another-install-s-key", "support", phone(1), later),
    ):
        assert error_of(client.get(f"/api/v1/booking-links/{bad}")) == (404, "link_invalid"), bad
    clock.advance(days=7)
    assert error_of(client.get(f"/api/v1/booking-links/{token}")) == (410, "link_expired")


def test_a_reschedule_link_moves_its_callback_once(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    starts = [s["start"] for s in slots(client)]
    callback = booked(client, 1, starts[0])
    token = token_of(client, make_link(app, db, clock, ref=callback["ref"]))
    url = f"/api/v1/booking-links/{token}/reschedule"

    # A failed move (no seat) changes nothing and leaves the link usable.
    booked(client, 2, starts[3])
    booked(client, 3, starts[3])
    assert error_of(client.post(url, json={"slot_start": starts[3]})) == (409, "slot_full")
    assert error_of(client.post(url, json={"slot_start": "2027-01-04T10:15:00+00:00"})) == (422, "too_soon")
    assert client.get(f"/api/v1/booking-links/{token}").status_code == 200

    key = {"Idempotency-Key": "page-1"}
    moved = client.post(url, json={"slot_start": starts[1]}, headers=key)
    assert moved.status_code == 200
    assert (moved.get_json()["ref"], moved.get_json()["slot_start"]) == (callback["ref"], starts[1])
    seats = {s["start"]: s["seats_left"] for s in slots(client)}
    assert (seats[starts[0]], seats[starts[1]]) == (2, 1)  # the old seat is given back
    # The page retrying the same request gets the same answer; any other use is refused.
    replay = client.post(url, json={"slot_start": starts[1]}, headers=key)
    assert (replay.status_code, replay.get_json()) == (200, moved.get_json())
    assert error_of(client.post(url, json={"slot_start": starts[2]})) == (410, "link_used")
    assert error_of(client.get(f"/api/v1/booking-links/{token}")) == (410, "link_used")
    assert client.get(f"/api/v1/callbacks/{callback['ref']}").get_json()["slot_start"] == starts[1]
    with db.read() as session:
        events = session.scalars(select(CallbackEvent.step).where(CallbackEvent.actor == "customer:link")).all()
    assert events == ["reschedule"]


def test_a_booking_link_does_not_move_a_callback(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    start = slots(client)[0]["start"]
    booked(client, 1, start)
    token = token_of(client, make_link(app, db, clock))
    response = client.post(f"/api/v1/booking-links/{token}/reschedule", json={"slot_start": start})
    assert error_of(response) == (404, "link_invalid")
    # ...and may be used as often as wanted until it expires.
    assert client.get(f"/api/v1/booking-links/{token}").status_code == 200
    assert client.get(f"/api/v1/booking-links/{token}").status_code == 200


def test_a_reschedule_link_of_a_cancelled_callback_cannot_move_it(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    starts = [s["start"] for s in slots(client)]
    callback = booked(client, 1, starts[0])
    token = token_of(client, make_link(app, db, clock, ref=callback["ref"]))
    client.delete(f"/api/v1/callbacks/{callback['ref']}")
    assert client.get(f"/api/v1/booking-links/{token}").get_json()["callback"]["state"] == "cancelled"
    response = client.post(f"/api/v1/booking-links/{token}/reschedule", json={"slot_start": starts[1]})
    assert error_of(response) == (409, "not_reschedulable")


CONTENDERS = 6


def test_two_concurrent_uses_of_a_reschedule_link_cannot_both_succeed(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    """Each contender moves the callback to its own free slot, released together: the
    used_link key lets exactly one of them through; every other is told link_used."""
    starts = [datetime.fromisoformat(s["start"]) for s in slots(client)]
    callback = booked(client, 1, starts[0].isoformat())
    token = token_of(client, make_link(app, db, clock, ref=callback["ref"]))
    link = read_booking_token(app.extensions["settings"].secret_key, token, clock.now())
    barrier = threading.Barrier(CONTENDERS)
    results: list[str] = []

    def contend(n: int) -> None:
        barrier.wait(timeout=30)
        try:
            with db.write() as session:
                reschedule_with_link(session, link, starts[n + 1], clock.now())
            results.append("moved")
        except DomainError as error:
            results.append(error.type)

    threads = [threading.Thread(target=contend, args=(n,)) for n in range(CONTENDERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(results) == ["link_used"] * (CONTENDERS - 1) + ["moved"]
    with db.read() as session:
        assert sum(session.scalars(select(Slot.booked))) == 1  # one seat: the new one
        assert len(session.scalars(select(UsedLink)).all()) == 1


def test_expired_links_are_forgotten_by_the_clean_up(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    starts = [datetime.fromisoformat(s["start"]) for s in slots(client)]
    callback = booked(client, 1, starts[0].isoformat())
    short = make_link(app, db, clock, ref=callback["ref"])
    link = read_booking_token(app.extensions["settings"].secret_key, token_of(client, short), clock.now())
    with db.write() as session:
        reschedule_with_link(session, link, starts[1], clock.now())
    clock.advance(days=6)
    make_link(app, db, clock)  # a newer link, still valid for a week
    with db.write() as session:
        assert forget_expired_links(session, clock.now()) == 0
    clock.advance(days=1)  # the first link has expired: its used_link row may go
    with db.write() as session:
        assert forget_expired_links(session, clock.now()) == 1
    assert error_of(client.get(urlsplit(short).path)) == (410, "link_expired")  # still told "expired"
    clock.advance(days=30)
    with db.write() as session:
        assert forget_expired_links(session, clock.now()) == 1
        assert len(session.scalars(select(ShortLink)).all()) == 1
    assert error_of(client.get(urlsplit(short).path)) == (404, "link_invalid")

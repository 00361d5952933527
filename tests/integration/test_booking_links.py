"""Booking links end to end: the short link in a text redirects to the signed booking
page; the API validates a token and a reschedule link moves its callback exactly once."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app.clock import FixedClock
from app.db import Database
from app.links import read_booking_token, short_booking_url
from app.models import ShortLink
from tests.integration.helpers import phone


def make_link(app: Flask, db: Database, clock: FixedClock, ref: str | None = None, n: int = 1) -> str:
    with db.write() as session:
        return short_booking_url(session, app.extensions["settings"], clock.now(), "support", phone(n), ref=ref)


def test_a_short_link_redirects_to_the_signed_booking_page(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    link = make_link(app, db, clock)
    base = app.extensions["settings"].public_base_url
    assert link.startswith(f"{base}/l/") and len(link) == len(base) + len("/l/") + 10
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
        response = client.get(f"/l/{code}")
        assert (response.status_code, response.get_json()["type"]) == (404, "link_invalid"), code
    page = client.get("/l/AAAAAAAAAA", headers={"Accept": "text/html,*/*;q=0.8"})
    assert page.status_code == 404 and page.mimetype == "text/html" and "not valid" in page.get_data(as_text=True)

    path = urlsplit(make_link(app, db, clock)).path
    clock.advance(days=7, seconds=-1)
    assert client.get(path).status_code == 302
    clock.advance(seconds=1)
    response = client.get(path)
    assert (response.status_code, response.get_json()["type"]) == (410, "link_expired")
    page = client.get(path, headers={"Accept": "text/html"})
    assert page.status_code == 410 and "expired" in page.get_data(as_text=True)


def test_booking_link_days_sets_the_expiry(app: Flask, db: Database, clock: FixedClock, demo_queue: str) -> None:
    settings = app.extensions["settings"].with_overrides(booking_link_days=2)
    with db.write() as session:
        short_booking_url(session, settings, clock.now(), "support", phone(1))
    with db.read() as session:
        row = session.scalars(select(ShortLink)).one()
    assert row.expires_at == clock.now() + timedelta(days=2)

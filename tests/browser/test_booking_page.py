"""The hosted booking page in headless Chromium with JavaScript switched off: a visitor
books a time, sees the reference, and cancels; an error is shown next to its field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from infra.db import Database
from infra.models import Callback
from tests.browser.conftest import browser_page


@pytest.fixture
def no_js_page(live_server: str) -> Iterator[Any]:
    yield from browser_page(live_server, java_script_enabled=False)


def callbacks(db: Database) -> list[tuple[str, str, str]]:
    with db.read() as session:
        return [(c.state, c.source, c.phone) for c in session.scalars(select(Callback))]


def test_booking_and_cancelling_without_javascript(no_js_page: Any, demo_queue: str, db: Database) -> None:
    page = no_js_page
    page.goto("/book/support")
    # A day, then its times: Monday 4 January (today) is shown first, with its count.
    assert page.locator("nav.days a[aria-current=date]").inner_text().split() == [
        "Monday",
        "4",
        "January",
        "26",
        "times",
    ]
    assert page.locator('input[name="when"]').count() == 1 + 26  # ASAP and today's times, not a wall
    page.get_by_role("link", name="Tuesday 5 January").click()  # a link: no JavaScript needed
    assert page.get_by_role("heading", name="Tuesday 5 January").is_visible()
    assert page.get_by_role("group", name="Tuesday 5 January Morning").is_visible()
    page.get_by_label("09:15").check()
    page.fill("#phone", "07400 123456")
    page.get_by_role("button", name="Book the callback").click()
    page.wait_for_selector("h1:has-text('Your callback is booked')")
    assert "Tuesday 5 January, 09:15" in page.inner_text("main")
    assert callbacks(db) == [("scheduled", "web", "+447400123456")]
    page.get_by_role("button", name="Cancel this callback").click()
    page.wait_for_selector("h1:has-text('Your callback is cancelled')")
    assert callbacks(db)[0][0] == "cancelled"


def test_an_invalid_number_is_shown_next_to_the_phone_field(no_js_page: Any, demo_queue: str, db: Database) -> None:
    page = no_js_page
    page.goto("/book/support")
    page.fill("#phone", "12345")
    page.get_by_label("As soon as possible").check()
    page.get_by_role("button", name="Book the callback").click()
    error = page.locator("#phone-error")
    assert error.inner_text() == "This is not a phone number we can call. Please check it."
    assert page.get_attribute("#phone", "aria-describedby") == "phone-error"
    assert page.input_value("#phone") == "12345"
    assert callbacks(db) == []


def test_an_sms_reschedule_link_moves_the_booking(
    app: Any, live_server: str, no_js_page: Any, demo_queue: str, db: Database
) -> None:
    from services.links import short_booking_url
    from tests.integration.helpers import book

    client = app.test_client()
    ref = book(client, 7, "2027-01-05T09:00:00+00:00").get_json()["ref"]
    with db.write() as session:
        link = short_booking_url(
            session, app.extensions["settings"], app.extensions["clock"].now(), "support", "+447400000007", ref=ref
        )
    page = no_js_page
    page.goto(link)  # /b/<code>: as the customer's phone opens it from the text
    assert "Tuesday 5 January, 09:00" in page.inner_text("main")
    page.get_by_role("link", name="Wednesday 6 January").click()  # the link's token is kept
    page.locator('input[value="2027-01-06T11:00:00+00:00"]').check()
    page.get_by_role("button", name="Move the callback").click()
    page.wait_for_selector("h1:has-text('Your callback is booked')")
    assert "Wednesday 6 January, 11:00" in page.inner_text("main")
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["slot_start"] == "2027-01-06T11:00:00+00:00"
    page.goto(link)  # used: it says so, above a fresh form
    assert "already been used" in page.inner_text("main")

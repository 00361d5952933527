"""The console's reports in headless Chromium: a viewer signs in, follows Reports in the
navigation and sees the week's charts drawn as SVG by the server (no script, no CDN)."""

from __future__ import annotations

from typing import Any

from flask import Flask

from infra.db import Database
from services.accounts import create_user
from services.booking_service import BookingRequest, book

PASSWORD = "correct horse battery"


def test_a_viewer_opens_the_report_and_sees_its_charts(app: Flask, db: Database, demo_queue: str, page: Any) -> None:
    now = app.extensions["clock"].now()
    with db.write() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer", now)
        book(
            session,
            BookingRequest(queue="support", phone="+447400123456", kind="asap", source="web"),
            now,
            "customer:web",
        )
    page.goto("/console/")
    page.fill("#email", "viewer@example.com")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Reports").click()
    chart = page.get_by_role("img", name="Callbacks booked, each day, by source")
    assert chart.is_visible()
    assert chart.evaluate("svg => svg.tagName") == "svg"
    assert page.locator("#chart-booked rect").count() == 1  # Monday's one web booking
    assert page.locator("#chart-booked rect title").text_content() == "Mon 04, web: 1"
    box = chart.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    assert page.locator("#figures").get_by_role("row", name="Booked by web").locator("td.total").inner_text() == "1"

    # The bar is a link to the callbacks it counts: Monday's one web booking.
    page.get_by_role("link", name="Mon 04, web: 1: list the callbacks").click()
    page.wait_for_selector("h1:has-text('callbacks counted')")
    assert page.locator("#counted tbody tr").count() == 1
    assert page.locator("#counted tbody td").nth(1).inner_text() == "+447400123456"
    # By the hour: the interval picker, then the same booking in Monday's 10:00 bar.
    page.get_by_role("link", name="Back to the report").click()
    page.select_option("#period", "day")
    page.get_by_role("button", name="Show").click()
    page.select_option("#interval", "hour")
    page.get_by_role("button", name="Show").click()
    assert page.locator("#figures thead th").nth(11).inner_text() == "10:00"
    assert page.locator("#chart-booked rect title").text_content() == "10:00, web: 1"

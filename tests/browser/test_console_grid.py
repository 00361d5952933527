"""The console's capacity grid in headless Chromium: a supervisor selects a range of cells
with the keyboard alone and with the mouse, sets their seats once, and sees the grid (and
the API) change."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import expect

from infra.db import Database
from services.accounts import create_user

PASSWORD = "correct horse battery"


def open_grid(app: Flask, db: Database, page: Any) -> None:
    with db.write() as session:
        create_user(session, "sup@example.com", PASSWORD, "supervisor", app.extensions["clock"].now())
    page.goto("/console/")
    page.fill("#email", "sup@example.com")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Support").click()
    expect(page.get_by_role("grid")).to_be_visible()


def cell(page: Any, slot: str) -> Any:
    return page.locator(f'td[data-slot="{slot}"]')


def test_a_range_selected_by_keyboard_alone_gets_its_seats(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str, page: Any
) -> None:
    open_grid(app, db, page)
    page.focus("#next-week")
    page.keyboard.press("Tab")  # into the grid: one stop (roving tabindex), the first cell
    first = cell(page, "2027-01-04T09:00")
    expect(first).to_be_focused()
    assert first.get_attribute("tabindex") == "0"
    page.keyboard.press("ArrowRight")  # Tuesday 09:00
    for key in ("Shift+ArrowRight", "Shift+ArrowRight", "Shift+ArrowDown", "Shift+ArrowDown", "Shift+ArrowDown"):
        page.keyboard.press(key)
    focused = cell(page, "2027-01-07T09:45")
    expect(focused).to_be_focused()
    assert focused.get_attribute("tabindex") == "0" and first.get_attribute("tabindex") == "-1"
    assert page.locator('td[aria-selected="true"]').count() == 12
    expect(cell(page, "2027-01-05T09:00")).to_have_attribute("aria-selected", "true")
    expect(cell(page, "2027-01-07T10:00")).to_have_attribute("aria-selected", "false")
    expect(page.locator("#selection")).to_contain_text("Selected 12 cells: 2027-01-05 to 2027-01-07, 09:00 to 10:00")
    page.keyboard.press("Enter")  # to the seats field
    expect(page.locator("#range-seats")).to_be_focused()
    page.keyboard.type("5")
    page.keyboard.press("Enter")
    expect(cell(page, "2027-01-06T09:30").locator(".load")).to_have_text("0 / 5")
    expect(cell(page, "2027-01-05T09:00").locator(".load")).to_have_text("0 / 5")
    expect(cell(page, "2027-01-07T10:00").locator(".load")).to_have_text("0 / 2")
    expect(cell(page, "2027-01-04T10:15").locator(".load")).to_have_text("0 / 2")
    seats = {s["start"]: s["seats_left"] for s in client.get("/api/v1/queues/support/slots").get_json()["slots"]}
    assert seats["2027-01-07T09:45:00+00:00"] == 5 and seats["2027-01-07T10:00:00+00:00"] == 2


def test_a_range_dragged_with_the_mouse_and_one_shift_clicked_get_their_seats(
    app: Flask, db: Database, demo_queue: str, page: Any
) -> None:
    open_grid(app, db, page)
    cell(page, "2027-01-08T14:45").scroll_into_view_if_needed()
    start, end = cell(page, "2027-01-08T14:00").bounding_box(), cell(page, "2027-01-08T14:45").bounding_box()
    page.mouse.move(start["x"] + 5, start["y"] + 5)
    page.mouse.down()
    page.mouse.move(end["x"] + 5, end["y"] + 5, steps=8)
    page.mouse.up()
    assert page.locator('td[aria-selected="true"]').count() == 4
    expect(page.locator("#range-starts")).to_have_value("14:00")
    expect(page.locator("#range-ends")).to_have_value("15:00")
    page.get_by_label("Seats", exact=True).first.fill("3")
    page.get_by_role("button", name="Set seats").click()
    expect(cell(page, "2027-01-08T14:45").locator(".load")).to_have_text("0 / 3")
    expect(cell(page, "2027-01-08T15:00").locator(".load")).to_have_text("0 / 2")
    # Click, then shift-click: Wednesday and Thursday 16:00.
    cell(page, "2027-01-06T16:00").click()
    cell(page, "2027-01-07T16:00").click(modifiers=["Shift"])
    assert page.locator('td[aria-selected="true"]').count() == 2
    page.locator("#range-seats").fill("0")
    page.get_by_role("button", name="Set seats").click()
    expect(cell(page, "2027-01-07T16:00").locator(".load")).to_have_text("0 / 0")
    expect(cell(page, "2027-01-07T16:00").locator(".fill")).to_have_text("full")
    expect(cell(page, "2027-01-06T16:15").locator(".load")).to_have_text("0 / 2")


def test_without_javascript_the_typed_range_and_the_pattern_still_save(
    app: Flask, db: Database, demo_queue: str, live_server: str
) -> None:
    from tests.browser.conftest import browser_page

    for page in browser_page(live_server, java_script_enabled=False):
        open_grid(app, db, page)
        page.locator("#range-first").fill("2027-01-05")
        page.locator("#range-last").fill("2027-01-05")
        page.locator("#range-starts").fill("11:00")
        page.locator("#range-ends").fill("11:30")
        page.locator("#range-seats").fill("6")
        page.get_by_role("button", name="Set seats").click()
        expect(cell(page, "2027-01-05T11:15").locator(".load")).to_have_text("0 / 6")
        expect(cell(page, "2027-01-05T11:30").locator(".load")).to_have_text("0 / 2")
        page.get_by_label("Friday").check()
        page.locator("#pattern-starts").fill("16:30")
        page.locator("#pattern-ends").fill("17:00")
        page.locator("#pattern-seats").fill("1")
        page.get_by_role("button", name="Apply pattern").click()
        expect(cell(page, "2027-01-08T16:45").locator(".load")).to_have_text("0 / 1")


def test_a_viewer_moves_through_the_grid_without_selecting_or_forms(
    app: Flask, db: Database, demo_queue: str, page: Any
) -> None:
    with db.write() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer", app.extensions["clock"].now())
    page.goto("/console/")
    page.fill("#email", "viewer@example.com")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Support").click()
    page.focus("#next-week")
    page.keyboard.press("Tab")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Shift+ArrowRight")
    expect(cell(page, "2027-01-05T09:15")).to_be_focused()
    assert page.locator("td[aria-selected]").count() == 0 and page.locator("form#range-form").count() == 0

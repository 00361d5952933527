"""The console's capacity grid in headless Chromium: a supervisor signs in, changes
Friday 09:00's capacity, and the API offers the new seats at once."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from infra.db import Database
from services.accounts import create_user

PASSWORD = "correct horse battery"


def test_a_supervisor_changes_a_slot_in_the_grid(
    app: Flask, client: FlaskClient, db: Database, demo_queue: str, page: Any
) -> None:
    with db.write() as session:
        create_user(session, "sup@example.com", PASSWORD, "supervisor", app.extensions["clock"].now())
    page.goto("/console/")
    page.fill("#email", "sup@example.com")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("link", name="Support").click()
    cell = page.locator('td[data-slot="2027-01-08T09:00"]')
    assert cell.locator(".load").inner_text() == "0 / 2"
    page.get_by_label("Capacity Friday 09:00").fill("5")
    page.get_by_label("Save Friday 09:00").click()
    page.wait_for_selector('td[data-slot="2027-01-08T09:00"] .load:has-text("0 / 5")')
    seats = {s["start"]: s["seats_left"] for s in client.get("/api/v1/queues/support/slots").get_json()["slots"]}
    assert seats["2027-01-08T09:00:00+00:00"] == 5

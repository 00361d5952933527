"""The simulator's texts in headless Chromium: text "call me" from a new number, read the
three times offered, reply "2" and the second is booked; reply "cancel call" and it is
cancelled. The test plays the worker: it sends what the outbox holds."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from infra.db import Database
from infra.models import Callback
from sms.outbox import send_pending_sms


def send_outbox(app: Flask) -> int:
    ext = app.extensions
    return send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"])


def callbacks(db: Database) -> list[tuple[str, str]]:
    with db.read() as session:
        return [(c.state, c.source) for c in session.scalars(select(Callback))]


def text_us(page: Any, body: str) -> None:
    page.fill("#sms-text", body)
    # Wait for the page's own request to be answered (our replies may contain the same words).
    with page.expect_response(lambda response: response.url.endswith("/simulator/api/texts")) as answer:
        page.click("#sms button[type=submit]")
    assert answer.value.status == 200


def test_call_me_then_2_books_the_second_time_and_cancel_call_cancels(
    app: Flask, demo_queue: str, db: Database, page: Any
) -> None:
    page.goto("/simulator")
    page.fill("#sms-from", "+447400765432")
    text_us(page, "call me")
    assert send_outbox(app) == 1
    page.wait_for_selector(".text:has-text('Reply 1, 2 or 3')")
    text_us(page, "2")
    assert send_outbox(app) == 1
    page.wait_for_selector(".text:has-text('Booked: Support will call you on Mon 4 Jan 10:45')")
    assert callbacks(db) == [("scheduled", "sms")]
    text_us(page, "cancel call")
    assert send_outbox(app) == 1
    page.wait_for_selector(".text:has-text('is cancelled')")
    assert callbacks(db) == [("cancelled", "sms")]


def test_the_reminder_of_a_callback_booked_by_text_reaches_the_inbox(
    app: Flask, demo_queue: str, db: Database, page: Any
) -> None:
    page.goto("/simulator")
    page.fill("#sms-from", "+447400765433")
    text_us(page, "call me")
    text_us(page, "3")  # Mon 4 Jan 11:00; it is 10:00
    assert send_outbox(app) == 2  # the offer, the confirmation
    page.wait_for_selector(".text:has-text('Booked: Support will call you on Mon 4 Jan 11:00')")
    app.extensions["clock"].advance(minutes=45)  # 10:45: the 15-minute reminder is due
    assert send_outbox(app) == 1
    page.wait_for_selector(".text:has-text('Support will call you soon, at 11:00')")
    text_us(page, "cancel call")
    assert send_outbox(app) == 1
    page.wait_for_selector(".text:has-text('is cancelled')")
    assert callbacks(db) == [("cancelled", "sms")]

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


def test_texts_are_grouped_by_the_number_they_are_on(app: Flask, demo_queue: str, page: Any) -> None:
    page.goto("/simulator")
    for number in ("+447400765434", "+447400765435"):
        page.fill("#sms-from", number)
        text_us(page, "call me")
    assert send_outbox(app) == 2  # an offer to each
    page.wait_for_selector(".number[data-number='+447400765434'] .text:has-text('Reply 1, 2 or 3')")
    page.wait_for_selector(".number[data-number='+447400765435'] .text:has-text('Reply 1, 2 or 3')")
    groups = page.locator("#texts .number")
    # The number with the newest text first, each under its own heading with its two texts.
    assert groups.locator("h3").all_inner_texts() == ["+447400765435", "+447400765434"]
    for n in range(2):
        texts = groups.nth(n).locator(".text")
        assert texts.count() == 2
        assert "you wrote" in texts.nth(1).inner_text() and "call me" in texts.nth(1).inner_text()
        assert "Reply 1, 2 or 3" in texts.nth(0).inner_text()
    assert page.locator("#texts > .text").count() == 0  # no text outside a number's group

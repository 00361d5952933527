"""The /simulator page in headless Chromium: request a callback, the phone rings,
answer, press 1 and talk to an agent; and a call let ring out is retried. The test plays
the worker: it dials what is due and applies the stored call reports."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from infra.db import Database
from infra.models import Callback
from services.dialer.dialer import Dialer
from sms.outbox import send_pending_sms
from tests.integration.helpers import apply_call_events


def dial_due(app: Flask) -> int:
    """What the worker's dispatch tick does."""
    ext = app.extensions
    return Dialer(ext["db"], ext["providers"], ext["clock"], ext["settings"]).dispatch()


def states(db: Database) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(Callback.state)))


def test_request_answer_and_reach_an_agent(app: Flask, demo_queue: str, db: Database, page: Any) -> None:
    page.goto("/simulator")
    page.fill("#phone", "+447400123456")
    page.click("button[type=submit]")
    page.wait_for_selector("#booked:has-text('booked')")
    assert states(db) == ["scheduled"]

    assert dial_due(app) == 1
    page.wait_for_selector(".call.ringing")
    page.get_by_role("button", name="Answer").click()
    page.wait_for_selector(".say:has-text('returning your call')")
    page.locator(".keypad button", has_text="1").click()
    page.wait_for_selector(".say:has-text('You are talking to an agent')")
    assert states(db) == ["connected"]
    page.get_by_role("button", name="Hang up").click()
    page.wait_for_selector(".call.completed")
    apply_call_events(app)  # the worker's tick: the hang-up's status report was stored, not applied
    assert states(db) == ["completed"]
    page.screenshot(path="/tmp/simulator.png")


def test_a_call_let_ring_out_is_retried(app: Flask, demo_queue: str, db: Database, page: Any) -> None:
    page.goto("/simulator")
    page.fill("#phone", "+447400123457")
    page.click("button[type=submit]")
    page.wait_for_selector("#booked:has-text('booked')")
    dial_due(app)
    page.wait_for_selector(".call.ringing")
    page.get_by_role("button", name="Let it ring out").click()
    page.wait_for_selector(".call.no_answer")
    assert states(db) == ["dialing"]  # reported, stored, not yet applied
    apply_call_events(app)
    assert states(db) == ["retry_wait"]


def test_call_the_queue_choose_a_time_by_keypad_and_see_the_booking(
    app: Flask, demo_queue: str, db: Database, page: Any
) -> None:
    page.goto("/simulator")
    page.fill("#caller", "+447400123458")
    page.fill("#queue-number", "+441632960001")
    page.get_by_role("button", name="Call the queue").click()
    page.wait_for_selector(".call.inbound .say:has-text('Thank you for calling Support.')")
    page.wait_for_selector(".say:has-text('To choose a time for a callback, press 2.')")
    page.locator(".call.inbound .keypad button", has_text="2").click()
    page.wait_for_selector(".say:has-text('the number you are calling from, press 1')")
    page.locator(".call.inbound .keypad button", has_text="1").click()
    page.wait_for_selector(".say:has-text('Press 1 for today at half past ten.')")
    page.wait_for_selector(".say:has-text('Press 3 for today at eleven o')")
    page.locator(".call.inbound .keypad button", has_text="2").click()
    page.wait_for_selector(".say:has-text('We will call you back today at quarter to eleven')")
    page.wait_for_selector(".say:has-text('To get a text confirming this, press 1.')")
    page.locator(".call.inbound .keypad button", has_text="1").click()
    page.wait_for_selector(".call.inbound.completed .say:has-text('We have sent you a text.')")
    ext = app.extensions
    assert send_pending_sms(ext["db"], ext["providers"], ext["clock"], ext["settings"]) == 1  # the worker's tick
    page.wait_for_selector(".text:has-text('Your callback from Support is booked for Monday 4 January 10:45.')")
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    assert (callback.source, callback.phone) == ("ivr", "+447400123458")
    # The booking is in the API, as any other.
    shown = page.evaluate(f"fetch('/api/v1/callbacks/{callback.ref}').then((r) => r.json())")
    assert (shown["source"], shown["slot_start"]) == ("ivr", "2027-01-04T10:45:00+00:00")
    page.screenshot(path="/tmp/simulator-inbound.png")


def test_call_the_queue_and_type_another_number(app: Flask, demo_queue: str, db: Database, page: Any) -> None:
    page.goto("/simulator")
    page.get_by_role("button", name="Call the queue").click()
    page.wait_for_selector(".call.inbound .say:has-text('press star')")
    page.locator(".call.inbound .keypad button", has_text="1").click()
    page.wait_for_selector(".say:has-text('To enter another number, press 2.')")
    page.locator(".call.inbound .keypad button", has_text="2").click()
    page.wait_for_selector(".say:has-text('enter your phone number')")
    for key in "07400900123":
        page.locator(".call.inbound .keypad button", has_text=key).first.click()
    page.wait_for_selector(".typed:has-text('07400900123')")
    page.locator(".call.inbound .keypad button", has_text="#").click()
    page.wait_for_selector(".say:has-text('You entered 0 7 4 0 0, 9 0 0 1 2 3.')")
    page.locator(".call.inbound .keypad button", has_text="1").click()
    page.wait_for_selector(".say:has-text('we will call you back between 8 and 10 minutes from now')")
    page.locator(".call.inbound .keypad button", has_text="9").click()  # no text, thanks
    page.wait_for_selector(".call.inbound.completed .say:has-text('Goodbye.')")
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
    assert (callback.phone, callback.kind, callback.source) == ("+447400900123", "asap", "ivr")


def test_a_recorded_prompt_shows_its_audio_and_its_text(app: Flask, make_queue, page: Any) -> None:  # type: ignore[no-untyped-def]
    welcome = "https://cdn.example.com/support/welcome.mp3"
    make_queue(prompt_audio={"welcome": welcome})
    page.goto("/simulator")
    page.fill("#caller", "+447400123459")
    page.fill("#queue-number", "+441632960001")
    page.get_by_role("button", name="Call the queue").click()
    page.wait_for_selector(f".call.inbound .say:has-text('▶ audio: {welcome}')")
    page.wait_for_selector(".call.inbound .say:has-text('Thank you for calling Support.')")
    page.wait_for_selector(".call.inbound .say:has-text('press star')")

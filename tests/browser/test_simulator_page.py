"""The /simulator page in headless Chromium: request a callback, the phone rings,
answer, press 1 and talk to an agent; and a call let ring out is retried. The test plays
the worker: it dials what is due and applies the stored call reports."""

from __future__ import annotations

from typing import Any

from flask import Flask
from sqlalchemy import select

from app.db import Database
from app.dialer import Dialer
from app.models import Callback
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

"""The /simulator page with simulated agents (SIMULATOR_AGENTS=1), in headless Chromium:
the agent shows free, takes the customer's call (busy, with the seconds left), and is
free again once its handle time is over. The test plays the worker."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from app import simulated_agents
from infra.clock import FixedClock
from infra.settings import Settings
from tests.browser.test_simulator_page import dial_due
from tests.integration.helpers import app_with_simulated_agents, apply_call_events


@pytest.fixture
def app(settings: Settings, clock: FixedClock) -> Iterator[Flask]:
    yield from app_with_simulated_agents(settings, clock, agents=1, handle_seconds=45)


def test_the_page_shows_the_agent_busy_then_free(app: Flask, demo_queue: str, clock: FixedClock, page: Any) -> None:
    page.goto("/simulator")
    page.wait_for_selector(".agent.free")
    assert not page.is_visible("#agents-switch")  # the agents decide, not the switch
    page.fill("#phone", "+447400123456")
    page.click("button[type=submit]")
    page.wait_for_selector("#booked:has-text('booked')")
    simulated_agents.tick(app)
    clock.advance(minutes=10)  # due
    simulated_agents.tick(app)
    assert dial_due(app) == 1
    page.wait_for_selector(".call.ringing")
    page.get_by_role("button", name="Answer").click()
    page.locator(".keypad button", has_text="1").click()
    page.wait_for_selector(".agent.busy:has-text('45 s left')")
    assert page.locator(".agent.free").count() == 0
    clock.advance(seconds=45)
    assert simulated_agents.tick(app) == 1  # the agent hangs up
    page.wait_for_selector(".agent.free")
    page.wait_for_selector(".call.completed")
    apply_call_events(app)

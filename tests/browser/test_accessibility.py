"""Accessibility of what customers use, checked by axe-core (npm, run in the page) in
headless Chromium: the widget's dialog on another site, in each state a visitor sees, the
hosted booking page, the console's capacity grid and the console in Russian and French.
Any WCAG 2.1 A/AA violation fails, named with where it is."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from infra.clock import FixedClock
from tests.browser.conftest import HostSite, browser_page
from tests.browser.test_widget import open_dialog

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
RULES = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
SATURDAY_NOON = datetime(2027, 1, 9, 12, 0, tzinfo=UTC)


@pytest.fixture
def page(live_server: str) -> Iterator[Any]:
    if not AXE.exists():
        if os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{AXE} is missing (make test installs it with npm ci)")
        pytest.skip(f"{AXE} is missing: npm ci")
    # bypass_csp: axe is injected as an inline script, which our pages' CSP forbids
    yield from browser_page(live_server, timezone_id="Europe/London", bypass_csp=True)


def violations(page: Any) -> list[str]:
    """axe-core's WCAG 2.1 A/AA violations on the page as it is now (shadow DOM included)."""
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async (tags) => (await axe.run(document, { runOnly: { type: 'tag', values: tags } }))
             .violations.map((v) => v.id + ' (' + v.impact + '): '
               + v.nodes.map((n) => JSON.stringify(n.target)).join(', '))""",
        RULES,
    )
    return list(found)


def test_the_widget_dialog_has_no_violations_in_the_form_the_day_picker_and_the_booking(
    page: Any,
    live_server: str,
    host: HostSite,
    make_queue: Any,
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    dialog = open_dialog(page, host.page(live_server))
    assert violations(page) == []
    dialog.get_by_label("Your phone number").fill("07400 123461")
    dialog.get_by_role("button", name="Choose a time").click()
    expect(dialog.locator("button.day").first).to_have_attribute("aria-pressed", "true")
    assert violations(page) == []
    dialog.locator("label.time").first.click()
    dialog.get_by_role("button", name="Book this time").click()
    expect(dialog).to_contain_text("Your callback is booked")
    assert violations(page) == []


def test_the_widget_of_a_closed_queue_has_no_violations(
    page: Any,
    live_server: str,
    host: HostSite,
    make_queue: Any,
    clock: FixedClock,
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    clock.set(SATURDAY_NOON)
    dialog = open_dialog(page, host.page(live_server))
    expect(dialog.locator("button.day").first).to_be_visible()
    assert violations(page) == []


def test_the_hosted_booking_page_has_no_violations(page: Any, demo_queue: str) -> None:
    page.goto("/book/support")
    assert violations(page) == []


def test_the_console_capacity_grid_has_no_violations(app: Any, db: Any, page: Any, demo_queue: str) -> None:
    from tests.browser.test_console_grid import open_grid

    open_grid(app, db, page)
    assert violations(page) == []
    page.locator('td[data-slot="2027-01-05T09:00"]').click()
    page.locator('td[data-slot="2027-01-06T09:15"]').click(modifiers=["Shift"])
    assert violations(page) == []  # with a selection too


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_the_console_in_another_language_has_no_violations(
    app: Any, db: Any, page: Any, live_server: str, language: str
) -> None:
    from services.accounts import create_user
    from tests.browser.test_console_language import PASSWORD, sign_in

    with db.write() as session:
        create_user(session, "lead@example.com", PASSWORD, "supervisor", app.extensions["clock"].now())
    page.context.add_cookies([{"name": "console_lang", "value": language, "url": live_server}])
    sign_in(page, "lead@example.com")
    assert page.locator("html").get_attribute("lang") == language
    assert violations(page) == []
    page.goto("/console/callbacks")
    assert violations(page) == []


def test_the_check_finds_a_violation_inside_the_widget(
    page: Any,
    live_server: str,
    host: HostSite,
    make_queue: Any,
) -> None:
    """The control: a field without a label, put in the widget's shadow DOM, is found."""
    make_queue(widget={"allowed_origins": [host.origin]})
    open_dialog(page, host.page(live_server))
    page.evaluate(
        """() => document.querySelector('callback-widget').shadowRoot
             .querySelector('form').append(Object.assign(document.createElement('input'), { type: 'text' }))"""
    )
    found = violations(page)
    assert any(v.startswith("label ") for v in found), found

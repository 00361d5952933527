"""The embeddable widget in headless Chromium, on a page served from another origin (a second
server on another port) that embeds <script src="http://127.0.0.1:<app port>/widget.js">.

WIDGET_SCREENSHOTS=1 also saves the widget in each state to docs/img/widget-*.png.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback
from tests.browser.conftest import CHROMIUM, FLAGS, HostSite
from tests.integration.helpers import book, phone, weekday_hours

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "img"
SATURDAY_NOON = datetime(2027, 1, 9, 12, 0, tzinfo=UTC)
XSS = "<img src=x onerror=window.__xss=1>"


@pytest.fixture
def browser(live_server: str) -> Iterator[Callable[..., Any]]:
    """New pages in a fresh context; the visitor is in Paris unless a test says otherwise."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        contexts = []

        def new_page(timezone: str = "Europe/Paris", width: int = 900, height: int = 760) -> Any:
            context = chromium.new_context(timezone_id=timezone, viewport={"width": width, "height": height})
            contexts.append(context)
            return context.new_page()

        yield new_page
        for context in contexts:
            context.close()
        chromium.close()


def shot(page: Any, name: str) -> None:
    if os.environ.get("WIDGET_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(IMAGES / f"widget-{name}.png"))


def expect(locator: Any) -> Any:
    from playwright.sync_api import expect as playwright_expect

    return playwright_expect(locator)


def callbacks(db: Database) -> list[Callback]:
    with db.read() as session:
        rows = list(session.scalars(select(Callback).order_by(Callback.id)))
        for row in rows:
            _ = row.slot  # loaded while the session is open
        return rows


def widget(page: Any) -> Any:
    return page.locator("callback-widget")


def open_dialog(page: Any, url: str) -> Any:
    page.goto(url)
    page.locator("callback-widget button.launch").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    return dialog


def test_a_visitor_on_another_site_books_a_slot_sees_the_reference_and_can_cancel(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    page.goto(host.page(live_server))
    # The host's heavy styles (red !important buttons, purple everything) stay out of the
    # widget's shadow DOM, and the widget's styles stay out of the page.
    launcher = page.locator("callback-widget button.launch")
    assert launcher.evaluate("(b) => getComputedStyle(b).backgroundColor") == "rgb(26, 127, 55)"
    assert launcher.evaluate("(b) => getComputedStyle(b).color") == "rgb(255, 255, 255)"
    assert page.locator("h1").evaluate("(h) => getComputedStyle(h).color") == "rgb(128, 0, 128)"
    shot(page, "button")
    dialog = open_dialog(page, host.origin + "/")
    expect(widget(page)).to_have_attribute("data-state", "form")
    assert dialog.locator("h2").evaluate("(h) => getComputedStyle(h).color") == "rgb(29, 35, 48)"
    phone_input = dialog.get_by_label("Your phone number")
    expect(phone_input).to_be_focused()
    phone_input.fill("07400 123456")
    shot(page, "form")
    dialog.get_by_role("button", name="Choose a time").click()
    # 10:30 in London is 11:30 for a visitor in Paris; the day is named in their zone.
    first = dialog.get_by_role("radio").first
    expect(first).to_have_attribute("data-start", "2027-01-04T10:30:00+00:00")
    expect(dialog.locator("label.time").first).to_have_text("11:30")
    expect(dialog.locator("button.day[aria-pressed='true']")).to_contain_text("Monday 4 January")
    expect(dialog.locator("legend").first).to_have_text("Morning")  # 11:30 in Paris
    expect(dialog).to_contain_text("Times are in your time zone (Europe/Paris); the centre is in Europe/London.")
    dialog.locator("label.time").nth(1).click()  # 10:45 London
    shot(page, "slots")
    dialog.get_by_role("button", name="Book this time").click()

    expect(widget(page)).to_have_attribute("data-state", "booked")
    expect(dialog).to_contain_text("Your callback is booked")
    expect(dialog).to_contain_text("We will call you on Monday 4 January at 11:45.")
    [callback] = callbacks(db)
    assert (callback.state, callback.kind, callback.phone, callback.locale) == (
        "scheduled",
        "scheduled",
        "+447400123456",
        "en",
    )
    assert callback.slot is not None
    assert callback.slot.starts_at.replace(tzinfo=UTC) == datetime(2027, 1, 4, 10, 45, tzinfo=UTC)
    expect(dialog.locator("[data-ref]")).to_have_text(callback.ref)
    shot(page, "booked")

    dialog.get_by_role("button", name="Cancel this callback").click()
    expect(dialog).to_contain_text("Your callback is cancelled.")
    expect(widget(page)).to_have_attribute("data-state", "cancelled")
    assert [c.state for c in callbacks(db)] == ["cancelled"]
    shot(page, "cancelled")


def test_call_me_now_books_an_asap_callback_with_the_queues_fields_unit_and_the_tags(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(
        widget={
            "allowed_origins": [host.origin],
            "fields": [{"name": "order", "label": "Order number", "required": True}],
            "units": [{"id": "sales", "name": "Sales"}, {"id": "repairs", "name": "Repairs"}],
        }
    )
    page = browser()
    dialog = open_dialog(page, host.page(live_server, 'data-queue="support" data-tags="web,spring-sale"'))
    dialog.get_by_label("Your phone number").fill("+44 7400 123457")
    dialog.get_by_role("button", name="Call me now").click()
    # A required field left empty is said next to it; nothing is sent.
    order = dialog.get_by_label("Order number")
    expect(order).to_have_attribute("aria-invalid", "true")
    expect(dialog.locator("[data-field='fields.0']")).to_have_text("Please fill this in")
    expect(dialog).not_to_contain_text("null")
    shot(page, "fields")
    assert callbacks(db) == []
    order.fill("A-1042")
    dialog.get_by_label("Department").select_option("repairs")
    dialog.get_by_role("button", name="Call me now").click()
    # The range the IVR and the confirmation text say too (estimated_call_at), in the visitor's zone.
    expect(dialog).to_contain_text(re.compile(r"We will call you between \d\d:\d\d and \d\d:\d\d\."))
    [callback] = callbacks(db)
    assert (callback.kind, callback.unit, callback.tags) == ("asap", "repairs", ["web", "spring-sale"])
    assert callback.promised_window is not None
    assert callback.fields == [{"name": "order", "value": "A-1042"}]


def test_the_times_come_from_a_day_picker_and_are_grouped_by_part_of_the_day(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    # Open 09:00–17:00 London, 60-minute slots; a visitor in London, on Monday at 10:00
    make_queue(widget={"allowed_origins": [host.origin]}, weekly_hours=weekday_hours(slot_minutes=60, capacity=2))
    page = browser(timezone="Europe/London")
    dialog = open_dialog(page, host.page(live_server))
    dialog.get_by_label("Your phone number").fill("07400 123460")
    dialog.get_by_role("button", name="Choose a time").click()
    days = dialog.locator("button.day")
    expect(days.first).to_contain_text("Monday 4 January")
    expect(days.first).to_contain_text("6 times")  # 11:00 … 16:00: 10:00 is inside the lead time
    expect(days.nth(1)).to_contain_text("Tuesday 5 January")
    expect(days.nth(1)).to_contain_text("8 times")
    expect(days.first).to_have_attribute("aria-pressed", "true")
    # Only the chosen day's times: no wall of every day's
    assert dialog.locator("input[data-start^='2027-01-05']").count() == 0
    days.nth(1).click()  # tomorrow
    expect(days.nth(1)).to_have_attribute("aria-pressed", "true")
    expect(days.first).to_have_attribute("aria-pressed", "false")
    expect(dialog.locator("legend")).to_have_text(["Morning", "Afternoon"])
    expect(dialog.locator("fieldset").first.locator("label.time")).to_have_text(["09:00", "10:00", "11:00"])
    assert dialog.locator("input[data-start^='2027-01-04']").count() == 0
    dialog.locator("label.time", has_text="10:00").click()
    dialog.get_by_role("button", name="Book this time").click()  # tomorrow 10:00: the day, the time, book
    expect(dialog).to_contain_text("Your callback is booked")
    [callback] = callbacks(db)
    assert callback.promised_at == datetime(2027, 1, 5, 10, 0, tzinfo=UTC)


def test_a_full_slot_is_not_offered(browser: Any, live_server: str, host: HostSite, make_queue: Any, app: Any) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    client = app.test_client()
    full = "2027-01-04T10:30:00+00:00"
    assert book(client, 1, full).status_code == 201
    assert book(client, 2, full).status_code == 201
    page = browser()
    dialog = open_dialog(page, host.page(live_server))
    dialog.get_by_role("button", name="Choose a time").click()
    expect(dialog.get_by_role("radio").first).to_have_attribute("data-start", "2027-01-04T10:45:00+00:00")
    assert dialog.locator(f"input[data-start='{full}']").count() == 0
    assert dialog.locator("input[data-start='2027-01-04T11:00:00+00:00']").count() == 1


def test_off_hours_without_collecting_still_offers_the_next_open_times(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, clock: FixedClock, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    clock.set(SATURDAY_NOON)
    page = browser(timezone="Europe/London")
    dialog = open_dialog(page, host.page(live_server))
    expect(widget(page)).to_have_attribute("data-state", "closed-times")
    expect(dialog).to_contain_text("We are closed now. Choose one of our next open times")
    # No "call me now" (the queue takes no ASAP request while closed): the times at once.
    assert dialog.get_by_role("button", name="Call me now").count() == 0
    assert dialog.get_by_role("button", name="Call me when you open").count() == 0
    dialog.get_by_label("Your phone number").fill("07400 123459")
    expect(dialog.locator("button.day[aria-pressed='true']")).to_contain_text("Monday 11 January")
    dialog.locator("input[data-start='2027-01-11T10:30:00+00:00']").check()
    dialog.get_by_label("Your phone number").press("Enter")  # Enter books the time chosen
    expect(dialog).to_contain_text("Your callback is booked")
    assert [(c.kind, c.state) for c in callbacks(db)] == [("scheduled", "scheduled")]
    with db.read() as session:
        assert session.scalars(select(Callback)).one().promised_at == datetime(2027, 1, 11, 10, 30, tzinfo=UTC)


def test_off_hours_without_collecting_or_free_times_shows_the_hours(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, clock: FixedClock
) -> None:
    make_queue(horizon_days=1, widget={"allowed_origins": [host.origin]})  # nothing open before Monday
    clock.set(SATURDAY_NOON)
    page = browser(timezone="Europe/London")
    dialog = open_dialog(page, host.page(live_server))
    expect(widget(page)).to_have_attribute("data-state", "closed-hours")
    expect(dialog).to_contain_text("We are closed now.")
    expect(dialog).to_contain_text("Our opening hours (Europe/London)")
    expect(dialog.locator("dd").first).to_have_text("09:00–17:00")
    expect(dialog.locator("dd").last).to_have_text("closed")
    assert dialog.get_by_role("textbox").count() == 0
    shot(page, "closed")


def test_off_hours_with_collecting_offers_the_next_open_times(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, clock: FixedClock, db: Database
) -> None:
    make_queue(collect_off_hours=True, widget={"allowed_origins": [host.origin]})
    clock.set(SATURDAY_NOON)
    page = browser(timezone="Europe/London")
    dialog = open_dialog(page, host.page(live_server))
    expect(widget(page)).to_have_attribute("data-state", "off-hours")
    expect(dialog).to_contain_text("We are closed now. Leave your number")
    dialog.get_by_label("Your phone number").fill("07400 123458")
    # The next open times are offered straight away.
    expect(dialog.locator("button.day[aria-pressed='true']")).to_contain_text("Monday 11 January")
    expect(dialog.get_by_role("radio").first).to_have_attribute("data-start", "2027-01-11T09:00:00+00:00")
    shot(page, "off-hours")
    dialog.get_by_role("button", name="Call me when you open").click()
    expect(dialog).to_contain_text("Your callback is booked")
    assert [(c.kind, c.state) for c in callbacks(db)] == [("asap", "scheduled")]


def test_the_servers_phone_error_is_shown_next_to_the_phone_field(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    dialog = open_dialog(page, host.page(live_server))
    phone_input = dialog.get_by_label("Your phone number")
    phone_error = dialog.locator("[data-field='phone']")
    # As you type: a letter is refused at once...
    phone_input.fill("07400 12a")
    expect(phone_error).to_have_text("Use digits, spaces and a leading + only")
    expect(phone_input).to_have_attribute("aria-invalid", "true")
    # ...a plausible number passes the light check, but phonenumbers knows 07700 900xxx is fictional.
    phone_input.fill("+44 7700 900123")
    expect(phone_error).to_have_text("")
    dialog.get_by_role("button", name="Call me now").click()
    expect(phone_error).to_have_text("We cannot call this number; please check it")
    expect(phone_input).to_have_attribute("aria-invalid", "true")
    expect(phone_input).to_be_focused()
    expect(dialog.locator("p[role=alert]")).to_have_text("")  # said once, by the field
    shot(page, "phone-error")
    assert callbacks(db) == []


def test_integrated_mode_uses_the_sites_own_field_and_button(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    form = """<form id="f"><label for="tel">Phone</label> <input id="tel" type="tel">
<button id="go" type="submit">Ring me</button></form>"""
    page.goto(
        host.page(
            live_server, 'data-queue="support" data-phone-input="tel" data-button="go" data-tags="header"', body=form
        )
    )
    assert page.locator("callback-widget").count() == 0  # no button of its own
    message = page.locator(".callback-widget-message")
    page.fill("#tel", "07400 12x")
    expect(message).to_have_text("Use digits, spaces and a leading + only")
    page.fill("#tel", "07400 123459")
    page.click("#go")
    expect(message).to_contain_text("Your callback is booked. Reference: ")
    [callback] = callbacks(db)
    assert (callback.kind, callback.phone, callback.tags) == ("asap", "+447400123459", ["header"])
    expect(message).to_have_attribute("data-ref", callback.ref)
    assert page.url == host.origin + "/"  # the site's form was not submitted
    shot(page, "integrated")


def test_keyboard_only_booking_with_the_focus_kept_in_the_dialog(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    page.goto(host.page(live_server))
    launcher = page.locator("callback-widget button.launch")
    expect(launcher).to_be_visible()
    page.keyboard.press("Tab")
    expect(launcher).to_be_focused()
    page.keyboard.press("Enter")
    dialog = page.get_by_role("dialog")
    phone_input = dialog.get_by_label("Your phone number")
    expect(phone_input).to_be_focused()

    # Escape closes the dialog and gives the focus back to the button.
    page.keyboard.press("Escape")
    expect(dialog).to_have_count(0)
    expect(launcher).to_be_focused()
    page.keyboard.press("Space")
    expect(phone_input).to_be_focused()

    page.keyboard.type("07400 123460")
    page.keyboard.press("Tab")
    expect(dialog.get_by_role("button", name="Call me now")).to_be_focused()
    page.keyboard.press("Tab")
    choose = dialog.get_by_role("button", name="Choose a time")
    expect(choose).to_be_focused()
    page.keyboard.press("Enter")
    first = dialog.get_by_role("radio").first
    expect(first).to_be_focused()
    page.keyboard.press("Space")
    expect(first).to_be_checked()
    page.keyboard.press("Tab")
    book_button = dialog.get_by_role("button", name="Book this time")
    expect(book_button).to_be_focused()
    shot(page, "keyboard")

    # The focus trap: Tab from the last control comes back to the first; Shift+Tab goes round.
    page.keyboard.press("Tab")
    close = dialog.get_by_role("button", name="Close")
    expect(close).to_be_focused()
    page.keyboard.press("Shift+Tab")
    expect(book_button).to_be_focused()
    for _ in range(8):
        page.keyboard.press("Tab")
        assert page.evaluate(
            "() => !!document.querySelector('callback-widget').shadowRoot.activeElement?.closest('.dialog')"
        )
    for _ in range(8):  # back to the button to book
        if (
            page.evaluate("() => document.querySelector('callback-widget').shadowRoot.activeElement?.textContent")
            == "Book this time"
        ):
            break
        page.keyboard.press("Tab")
    expect(book_button).to_be_focused()
    page.keyboard.press("Enter")
    expect(dialog).to_contain_text("Your callback is booked")
    [callback] = callbacks(db)
    assert callback.slot is not None
    assert callback.slot.starts_at.replace(tzinfo=UTC) == datetime(2027, 1, 4, 10, 30, tzinfo=UTC)
    expect(dialog.locator("[data-ref]")).to_have_text(callback.ref)


def test_a_site_that_is_not_allowed_cannot_use_the_api(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": ["https://another.example.com"]})
    page = browser()
    dialog = open_dialog(page, host.page(live_server))
    expect(widget(page)).to_have_attribute("data-state", "unavailable")
    expect(dialog).to_contain_text("Callback requests are not available on this site.")
    shot(page, "unavailable")
    result = page.evaluate("() => new Promise((done) => CallbackWidget.getQueue('support', done))")
    assert result["ok"] is False and result["error"]["type"] == "request_widget_not_found"
    result = page.evaluate(
        "() => new Promise((done) => CallbackWidget.createRequest('support', '+447400123461', [], done))"
    )
    assert result["error"]["type"] == "request_widget_not_found"
    assert callbacks(db) == []


def test_the_js_api_for_a_sites_own_form(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, db: Database
) -> None:
    make_queue(widget={"allowed_origins": [host.origin], "fields": [{"name": "order", "label": "Order"}]})
    page = browser()
    page.goto(host.page(live_server))
    call = "(args) => new Promise((done) => CallbackWidget[args[0]](...args.slice(1, 4), done, ...args.slice(4)))"

    queue = page.evaluate("() => new Promise((done) => CallbackWidget.getQueue('support', done))")
    assert queue["ok"] is True
    assert (queue["queue"]["open_now"], queue["queue"]["collect_off_hours"]) == (True, False)
    assert queue["queue"]["timezone"] == "Europe/London"
    assert queue["queue"]["schedule"]["monday"] == [{"opens": "09:00", "closes": "17:00"}]
    missing = page.evaluate("() => new Promise((done) => CallbackWidget.getQueue('nope', done))")
    assert missing["error"]["type"] == "request_widget_not_found"

    invalid = page.evaluate(call, ["createRequest", "support", "+447700900123", {"order": "A-1"}])
    assert invalid["ok"] is False
    assert invalid["error"]["type"] == "validation_error" and "phone" in invalid["error"]["fields"]
    light = page.evaluate(call, ["createRequest", "support", "call me", []])
    assert light["error"]["type"] == "validation_error" and set(light["error"]["fields"]) == {"phone"}
    too_long = page.evaluate(
        call, ["createRequest", "support", "+447400123462", [{"name": "order", "value": "x" * 300}]]
    )
    assert too_long["error"]["type"] == "validation_error"
    assert set(too_long["error"]["fields"]) == {"fields.0.value", "order"}

    booked = page.evaluate(
        call,
        ["createRequest", "support", "07400 123462", {"order": "A-1"}, "2027-01-04T11:00:00+00:00", ["api"], None],
    )
    assert booked["ok"] is True and booked["created"] is True
    assert (booked["callback"]["slot_start"], booked["callback"]["tags"]) == ("2027-01-04T11:00:00+00:00", ["api"])
    again = page.evaluate(call, ["createRequest", "support", "07400 123462", {}])
    assert (again["ok"], again["created"], again["callback"]["ref"]) == (True, False, booked["callback"]["ref"])
    other = page.evaluate(call, ["createRequest", "support", phone(63), [], "2027-01-04T10:37:00+00:00"])
    assert other["error"]["type"] == "slot_not_found"
    gone = page.evaluate(call, ["createRequest", "nope", phone(64), []])
    assert gone["error"]["type"] == "request_widget_not_found"
    assert [c.ref for c in callbacks(db)] == [booked["callback"]["ref"]]


def test_labels_from_the_queue_are_text_never_html(
    browser: Any, live_server: str, host: HostSite, make_queue: Any
) -> None:
    make_queue(
        name=XSS,
        widget={
            "allowed_origins": [host.origin],
            "fields": [{"name": "order", "label": XSS}],
            "units": [{"id": "sales", "name": XSS}],
        },
    )
    page = browser()
    dialog = open_dialog(page, host.page(live_server))
    expect(dialog.locator(".queue-name")).to_have_text(XSS)
    expect(dialog.locator("label").filter(has_text=XSS)).to_have_count(1)
    expect(dialog.locator("option")).to_have_text(XSS)
    assert dialog.locator("img").count() == 0
    assert page.evaluate("() => window.__xss") is None


def test_on_a_phone_the_dialog_fits_the_screen(browser: Any, live_server: str, host: HostSite, make_queue: Any) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser(width=375, height=700)
    dialog = open_dialog(page, host.page(live_server))
    dialog.get_by_label("Your phone number").fill("07400 123467")
    dialog.get_by_role("button", name="Choose a time").click()
    expect(dialog.get_by_role("radio").first).to_be_focused()
    box = dialog.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 375
    assert box["y"] >= 0 and box["y"] + box["height"] <= 700
    assert page.evaluate("() => document.documentElement.scrollWidth") <= 375  # no sideways scrolling
    shot(page, "mobile")


def test_the_page_language_chooses_the_texts(browser: Any, live_server: str, host: HostSite, make_queue: Any) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    page.goto(host.page(live_server, lang="fr"))
    expect(page.locator("callback-widget button.launch")).to_have_text("Être rappelé")
    page.goto(host.page(live_server, 'data-queue="support" data-lang="ru"', lang="fr"))
    page.locator("callback-widget button.launch").click()
    expect(page.get_by_role("dialog")).to_contain_text("Заказать обратный звонок")
    expect(page.get_by_role("dialog").get_by_label("Ваш номер телефона")).to_be_visible()
    shot(page, "russian")


def test_the_new_server_errors_keep_their_types_and_are_shown(
    browser: Any, live_server: str, host: HostSite, make_queue: Any
) -> None:
    """request_throttle_* and request_phone_blacklisted (answered by the API's abuse checks)
    reach the JS API unchanged; the dialog says them, the blocked number next to the field."""
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    answers = {
        "+447400123470": (429, "request_throttle_timeout"),
        "+447400123471": (429, "request_throttle_count"),
        "+447400123472": (403, "request_phone_blacklisted"),
    }

    def fake(route: Any) -> None:
        if route.request.method != "POST":
            route.continue_()
            return
        status, type_ = answers[route.request.post_data_json["phone"]]
        route.fulfill(
            status=status,
            json={"type": type_, "message": "refused", "details": {}},
            headers={"Access-Control-Allow-Origin": host.origin},
        )

    page.route(f"{live_server}/api/v1/callbacks", fake)
    page.goto(host.page(live_server))
    call = "(p) => new Promise((done) => CallbackWidget.createRequest('support', p, [], done))"
    for number, (_, type_) in answers.items():
        assert page.evaluate(call, number)["error"]["type"] == type_

    dialog = open_dialog(page, host.origin + "/")
    phone_input = dialog.get_by_label("Your phone number")
    phone_input.fill("+447400123471")
    dialog.get_by_role("button", name="Call me now").click()
    expect(dialog.locator("p[role=alert]")).to_have_text("Too many requests; please try again later.")
    phone_input.fill("+447400123472")
    dialog.get_by_role("button", name="Call me now").click()
    expect(dialog.locator("[data-field='phone']")).to_have_text("This number cannot be used.")
    expect(dialog.locator("p[role=alert]")).to_have_text("")


def test_the_demo_page_opened_at_another_name_is_another_origin_and_books(
    browser: Any, live_server: str, make_queue: Any, db: Database
) -> None:
    """As with make run at http://localhost:5000/widget-demo: the page is localhost, the
    script and the API are 127.0.0.1 (PUBLIC_BASE_URL), so the queue must allow localhost."""
    other_name = live_server.replace("127.0.0.1", "localhost")
    make_queue(widget={"allowed_origins": [other_name]})
    page = browser()
    dialog = open_dialog(page, other_name + "/widget-demo")
    dialog.get_by_label("Your phone number").fill("07400 123466")
    dialog.get_by_role("button", name="Call me now").click()
    expect(dialog).to_contain_text("Your callback is booked")
    assert [c.kind for c in callbacks(db)] == ["asap"]


def test_the_demo_page_books_a_real_slot(browser: Any, live_server: str, demo_queue: str, db: Database) -> None:
    page = browser()
    page.goto(live_server + "/widget-demo")
    dialog = open_dialog(page, live_server + "/widget-demo")
    dialog.get_by_label("Your phone number").fill("07400 123465")
    dialog.get_by_role("button", name="Choose a time").click()
    dialog.locator("label.time").first.click()
    dialog.get_by_role("button", name="Book this time").click()
    expect(dialog).to_contain_text("Your callback is booked")
    shot(page, "demo")
    [callback] = callbacks(db)
    assert callback.kind == "scheduled"


def test_the_repeated_hour_of_fall_back_shows_both_times_with_their_zone(
    browser: Any, live_server: str, host: HostSite, make_queue: Any, clock: FixedClock
) -> None:
    # Saturday 30 October 2027; that night London's clocks go back from 02:00 BST to 01:00 GMT.
    clock.set(datetime(2027, 10, 30, 12, 0, tzinfo=UTC))
    every_day = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"]
    make_queue(
        widget={"allowed_origins": [host.origin]}, weekly_hours=weekday_hours(30, 1, "00:00", "00:00", every_day)
    )
    page = browser(timezone="Europe/London")
    dialog = open_dialog(page, host.page(live_server))
    dialog.get_by_label("Your phone number").fill("07400 123456")
    dialog.get_by_role("button", name="Choose a time").click()
    dialog.locator("button.day", has_text="Sunday 31 October").click()
    labels = dialog.locator("label.time").all_inner_texts()
    assert labels[:5] == ["00:00", "00:30", "01:00 BST", "01:30 BST", "01:00 GMT"], labels
    assert labels[5:7] == ["01:30 GMT", "02:00"]
    # Four distinct instants: the first 01:00 and 01:30 in BST (+01:00), then again in GMT.
    starts = [r.get_attribute("data-start") for r in dialog.get_by_role("radio").all()[2:6]]
    assert starts == [f"2027-10-31T01:{m}:00+0{h}:00" for h in (1, 0) for m in ("00", "30")]

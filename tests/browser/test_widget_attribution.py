"""The widget's attribution in headless Chromium (docs/widget.md#attribution): a visitor
follows a link to a page of another site with UTM parameters and books; the stored
callback has where they came from, as getRouteKeyData says; nothing lands in the site's
storage without consent."""

from __future__ import annotations

import re
from typing import Any

from infra.db import Database
from tests.browser.conftest import HostSite
from tests.browser.test_widget import browser, callbacks, expect, open_dialog, widget  # noqa: F401

UTM = "?utm_source=newsletter&utm_medium=email&utm_campaign=winter"
STORE = "callbackWidget.attribution"


def _arrive(page: Any, host: HostSite, live_server: str, tag: str) -> str:
    """The visitor on the host's /from page follows its link to the landing page with UTM
    parameters; the landing page's URL."""
    host.page(live_server, tag)
    host.pages["/shop"] = host.pages["/"]  # another page of the site, with the widget too
    host.pages["/from"] = f'<!doctype html><title>Mail</title><a id="go" href="/{UTM}">Our winter offer</a>'
    page.goto(host.origin + "/from")
    page.click("#go")
    page.wait_for_url(f"{host.origin}/{UTM}")
    page.wait_for_function("() => window.CallbackWidget && window.CallbackWidget.getRouteKeyData")
    return f"{host.origin}/{UTM}"


def _route_key_data(page: Any) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("() => new Promise((done) => CallbackWidget.getRouteKeyData(done))")
    return result


def _book_now(page: Any, url: str | None, phone: str) -> None:
    """Book "Call me now" in the dialog, on ``url`` or (None) on the page the visitor is on."""
    if url is None:
        page.locator("callback-widget button.launch").click()
        dialog = page.get_by_role("dialog")
    else:
        dialog = open_dialog(page, url)
    dialog.get_by_label("Your phone number").fill(phone)
    dialog.get_by_role("button", name="Call me now").click()
    expect(widget(page)).to_have_attribute("data-state", "booked")


def test_with_consent_the_first_visit_is_kept_and_sent_from_a_later_page(
    browser: Any,  # noqa: F811
    live_server: str,
    host: HostSite,
    make_queue: Any,
    db: Database,
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    landing = _arrive(page, host, live_server, 'data-queue="support" data-attribution-consent="granted"')
    kept = page.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE}'))")
    assert re.fullmatch(r"[0-9a-f]{32}", kept["session_key"])
    assert (kept["source"], kept["campaign"], kept["landing_page"]) == ("newsletter", "winter", landing)

    # A later page of the visit, without UTM parameters: the first visit's record is sent.
    _book_now(page, host.origin + "/shop", "07400 123456")
    data = _route_key_data(page)
    expected = {
        "session_key": kept["session_key"],
        "first_visit_at": kept["first_visit_at"],
        "source": "newsletter",
        "medium": "email",
        "campaign": "winter",
        "term": None,
        "content": None,
        "referrer": host.origin + "/from",
        "landing_page": landing,
    }
    assert data == expected
    [callback] = callbacks(db)
    assert callback.source == "web"
    assert callback.attribution == {k: v for k, v in expected.items() if v is not None}

    page.evaluate("() => CallbackWidget.setConsent(false)")  # the visitor withdrew it: forgotten
    assert page.evaluate(f"() => localStorage.getItem('{STORE}')") is None
    assert _route_key_data(page)["session_key"] is None


def test_without_consent_nothing_is_stored_but_the_page_is_sent(
    browser: Any,  # noqa: F811
    live_server: str,
    host: HostSite,
    make_queue: Any,
    db: Database,
) -> None:
    make_queue(widget={"allowed_origins": [host.origin]})
    page = browser()
    landing = _arrive(page, host, live_server, 'data-queue="support"')
    _book_now(page, None, "07400 123457")
    [callback] = callbacks(db)
    assert callback.attribution == {
        "source": "newsletter",
        "medium": "email",
        "campaign": "winter",
        "referrer": host.origin + "/from",
        "landing_page": landing,
    }
    assert _route_key_data(page)["session_key"] is None
    assert page.evaluate("() => [localStorage.length, sessionStorage.length, document.cookie]") == [0, 0, ""]

    # The site's banner says yes: from now on the visit is kept.
    page.evaluate("() => CallbackWidget.setConsent(true)")
    kept = page.evaluate(f"() => JSON.parse(localStorage.getItem('{STORE}'))")
    assert kept["campaign"] == "winter" and kept["session_key"] == _route_key_data(page)["session_key"]

"""Browser tests: real headless Chromium (Debian's /usr/bin/chromium) driven by
Playwright against the app served on loopback by a real HTTP server in a thread."""

from __future__ import annotations

import os
import shutil
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path, sqlite_template) -> str:  # type: ignore[no-untyped-def]
    """Browser tests run on SQLite only: what they test is the page, not the database."""
    path = tmp_path / "callbacks.db"
    shutil.copyfile(sqlite_template, path)
    return f"sqlite:///{path}"


@pytest.fixture
def live_server(app: Flask) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    base = f"http://127.0.0.1:{server.server_port}"
    # Providers must call back (and signatures are computed) at the address really served.
    settings = app.extensions["settings"]
    app.extensions["settings"] = settings.with_overrides(public_base_url=base)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield base
    server.shutdown()
    thread.join(timeout=10)


def browser_page(live_server: str, **context_options: object) -> Iterator[object]:
    """A page of headless Chromium on the live server (``context_options``: Playwright's,
    say ``java_script_enabled=False``); skipped without Chromium, failed in CI."""
    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI") or os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail(f"{CHROMIUM} is missing (make test installs Debian's chromium)")
        pytest.skip(f"{CHROMIUM} is missing")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        context = browser.new_context(base_url=live_server, **context_options)  # type: ignore[arg-type]
        yield context.new_page()
        context.close()
        browser.close()


@pytest.fixture
def page(live_server: str) -> Iterator[object]:
    yield from browser_page(live_server)


class HostSite:
    """Another origin: serves the pages a test gives it, as a customer's website would."""

    def __init__(self) -> None:
        self.pages: dict[str, str] = {}
        self.server = make_server("127.0.0.1", 0, self, threaded=True)
        self.origin = f"http://127.0.0.1:{self.server.server_port}"

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = self.pages.get(environ["PATH_INFO"])
        if body is None:
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"not found"]
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
        return [body.encode()]

    def page(
        self, app_base: str, tag_attributes: str = 'data-queue="support"', body: str = "", lang: str = "en"
    ) -> str:
        self.pages["/"] = f"""<!doctype html><html lang="{lang}"><head><meta charset="utf-8">
<title>A shop</title><style>button {{ background: red !important; font-size: 40px }} * {{ color: purple }}</style>
</head><body><h1>A shop</h1>{body}
<script src="{app_base}/widget.js" {tag_attributes} async></script></body></html>"""
        return self.origin + "/"


@pytest.fixture
def host() -> Iterator[HostSite]:
    site = HostSite()
    thread = threading.Thread(target=site.server.serve_forever, daemon=True)
    thread.start()
    yield site
    site.server.shutdown()
    thread.join(timeout=10)

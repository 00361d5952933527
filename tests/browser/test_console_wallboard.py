"""The live wallboard in headless Chromium: a wallboard user signs in, lands on the
wallboard, and a callback booked through the JSON API shows in its row within 2 s without
a reload (Server-Sent Events); when the server ends the stream, the page's EventSource
reconnects by itself and keeps updating."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask

from infra.db import Database
from services.accounts import create_user

PASSWORD = "correct horse battery"


def _book(page: Any, n: int) -> None:
    answer = page.request.post(
        "/api/v1/callbacks", data={"queue": "support", "phone": f"+44740012345{n}", "kind": "asap"}
    )
    assert answer.status == 201, answer.text()


def test_the_wallboard_updates_live_and_recovers_when_its_stream_is_cut(
    app: Flask, db: Database, demo_queue: str, page: Any
) -> None:
    app.config["WALLBOARD_STREAM_SECONDS"] = 2  # the server cuts every stream after 2 s
    streams = []
    inner = app.wsgi_app

    def counting(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["PATH_INFO"] == "/console/wallboard/stream":
            streams.append(time.monotonic())
        return inner(environ, start_response)

    app.wsgi_app = counting  # type: ignore[method-assign]
    with db.write() as session:
        create_user(session, "tv@example.com", PASSWORD, "wallboard", app.extensions["clock"].now())
    page.goto("/console/login")
    page.fill("#email", "tv@example.com")
    page.fill("#password", PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/console/wallboard")
    pending = page.locator('tr[data-queue="support"] [data-field="pending"]')
    assert pending.inner_text() == "0"
    page.wait_for_function("() => document.getElementById('live').textContent.startsWith('Updated')")
    time.sleep(0.2)  # the stream's first snapshot is in

    _book(page, 1)
    page.wait_for_function(
        "() => document.querySelector('tr[data-queue=\"support\"] [data-field=\"pending\"]').textContent === '1'",
        timeout=2000,
    )

    # The server ends the stream; EventSource reconnects after the retry it was sent (2 s).
    first = len(streams)
    deadline = time.monotonic() + 10
    while len(streams) == first and time.monotonic() < deadline:
        time.sleep(0.1)
    assert len(streams) > first, "the page did not reconnect"
    time.sleep(0.5)
    _book(page, 2)
    page.wait_for_function(
        "() => document.querySelector('tr[data-queue=\"support\"] [data-field=\"pending\"]').textContent === '2'",
        timeout=2000,
    )
    assert page.locator("#live").inner_text().startswith("Updated")

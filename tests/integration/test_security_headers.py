"""Every route's answer carries the headers against framing, sniffing and leaking; the pages
run no inline script; a URL over the limit gets a JSON 414; the SQLite file is private.

The route walk takes every GET rule in the URL map: a new route is visited without being
listed here, and one whose parameters are not known below fails the test until they are."""

from __future__ import annotations

import re
import stat
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from app.factory import create_app
from app.security_headers import MAX_URL_BYTES
from infra.clock import FixedClock
from infra.db import Database
from services.accounts import create_user
from tests.conftest import _settings
from tests.integration.helpers import book

PASSWORD = "correct horse battery"

# A value for each URL parameter, so that a route renders rather than 404s where it can.
SAMPLES = {
    "token": "not-a-token",
    "phone": "+447400123456",
    "key": "support",
    "subscription_id": "1",
    "code": "not-a-code",
    "provider": "simulator",
}
FILES = {"simulator.static": "simulator.js", "static": "missing.css"}
# A script the page runs inline (CSP forbids it); a JSON data block (the words grid.js says) is never run.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\b(?:src=|type=\"application/json\"))[^>]*>", re.I)
EVENT_ATTRIBUTE = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def _signed_in_admin(app: Flask, clock: FixedClock) -> FlaskClient:
    db: Database = app.extensions["db"]
    with db.write() as session:
        create_user(session, "admin@example.com", PASSWORD, "admin", clock.now())
    client = app.test_client()
    html = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    signed = client.post(
        "/console/login", data={"email": "admin@example.com", "password": PASSWORD, "csrf_token": token.group(1)}
    )
    assert signed.status_code == 303
    return client


def _paths(app: Flask, ref: str) -> list[tuple[str, str]]:
    found = []
    for rule in app.url_map.iter_rules():
        if "GET" not in (rule.methods or ()):
            continue
        values = {name: SAMPLES.get(name) for name in rule.arguments}
        if "ref" in rule.arguments:
            values["ref"] = ref
        if "filename" in rule.arguments:
            values["filename"] = FILES.get(rule.endpoint)
        unknown = [name for name, value in values.items() if value is None]
        assert not unknown, f"{rule.rule}: give tests/integration/test_security_headers.py a sample for {unknown}"
        path = rule.build(values, append_unknown=False)
        assert path is not None
        found.append((rule.endpoint, path[1]))
    return found


def test_every_get_route_answers_with_the_security_headers(
    app: Flask, client: FlaskClient, demo_queue: str, clock: FixedClock
) -> None:
    made = book(client, 1)
    assert made.status_code == 201, made.get_json()
    admin = _signed_in_admin(app, clock)
    pages = set()
    for endpoint, path in _paths(app, made.get_json()["ref"]):
        response = admin.get(path)
        # /readyz is 503 here on purpose: no worker has beaten its heartbeat.
        assert response.status_code < 500 or endpoint == "health.readyz", (path, response.status_code)
        headers = response.headers
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert headers.get("Referrer-Policy") in ("strict-origin-when-cross-origin", "no-referrer"), path
        policy = headers.get("Content-Security-Policy", "")
        assert "frame-ancestors 'none'" in policy, path
        if response.mimetype == "text/html" and response.status_code == 200:
            pages.add(endpoint)
            assert headers["X-Frame-Options"] == "DENY", path
            assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0], path
            assert "object-src 'none'" in policy, path
            html = response.get_data(as_text=True)
            assert not INLINE_SCRIPT.search(html), (path, INLINE_SCRIPT.search(html))
            assert not EVENT_ATTRIBUTE.search(html), (path, EVENT_ATTRIBUTE.search(html))
            assert "javascript:" not in html.lower(), path
        response.close()  # a static file's answer holds the file open until closed
    # The walk really rendered the pages people use, not only their 404s.
    assert {
        "console.overview",
        "console.callback_detail",
        "console.grid",
        "booking_page.show_form",
        "simulator.page",
        "demo_crm.page",
        "widget_pages.widget_demo",
    } <= pages


def test_the_booking_page_sends_no_referrer_and_the_host_page_allows_the_widget_origin(
    client: FlaskClient, demo_queue: str, settings: object
) -> None:
    assert client.get("/book/support").headers["Referrer-Policy"] == "no-referrer"  # its links hold tokens
    policy = client.get("/widget-demo").headers["Content-Security-Policy"]
    assert "script-src 'self' http://127.0.0.1:5000" in policy
    assert "connect-src 'self' http://127.0.0.1:5000" in policy
    assert "frame-ancestors 'none'" in policy


def test_a_url_over_the_limit_gets_a_json_414(client: FlaskClient, demo_queue: str) -> None:
    response = client.get("/api/v1/queues/support/slots", query_string={"days": "7", "pad": "x" * MAX_URL_BYTES})
    assert response.status_code == 414
    assert response.get_json()["type"] == "uri_too_long"
    assert client.get("/api/v1/queues/support/slots", query_string={"pad": "x" * 3000}).status_code == 200


def test_the_sqlite_database_is_created_readable_by_its_owner_only(tmp_path: Path, clock: FixedClock) -> None:
    path = tmp_path / "data" / "callbacks.db"
    app = create_app(_settings(f"sqlite:///{path}", tmp_path), clock=clock)
    db: Database = app.extensions["db"]
    with db.write() as session:
        session.execute(text("CREATE TABLE t (x INTEGER)"))
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    for companion in (path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if companion.exists():
            assert stat.S_IMODE(companion.stat().st_mode) == 0o600, companion
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    db.dispose()

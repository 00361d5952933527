"""The demo's pages (the phone simulator and the stand-in CRM) exist only in DEMO_MODE, and
then open to this machine and to signed-in console users only (console/demo_access.py)."""

from __future__ import annotations

import dataclasses
import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from app.factory import create_app
from infra.clock import FixedClock
from infra.db import Database
from infra.settings import Settings
from infra.simulator_models import SimText
from services.accounts import create_user
from tests.integration.helpers import book

PASSWORD = "correct horse battery"
ELSEWHERE = {"REMOTE_ADDR": "203.0.113.7"}
TEXT = {"from": "+447400123456", "text": "CANCEL"}


def _sign_in(app: Flask, role: str, clock: FixedClock) -> FlaskClient:
    db: Database = app.extensions["db"]
    with db.write() as session:
        create_user(session, f"{role}@example.com", PASSWORD, role, clock.now())
    client = app.test_client()
    html = client.get("/console/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    answer = client.post(
        "/console/login",
        data={"email": f"{role}@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
        environ_base=ELSEWHERE,
    )
    assert answer.status_code == 303
    return client


def _texts(app: Flask) -> int:
    db: Database = app.extensions["db"]
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(SimText)) or 0)


def test_without_demo_mode_there_is_no_simulator(settings: Settings, clock: FixedClock) -> None:
    app = create_app(dataclasses.replace(settings, demo_mode=False), clock=clock)
    client = app.test_client()
    for path in ("/simulator", "/simulator/api/state", "/simulator/crm"):
        assert client.get(path).status_code == 404, path
    assert client.post("/simulator/api/texts", json=TEXT).status_code == 404
    assert "simulator" not in client.get("/").get_json()


def test_from_elsewhere_nobody_signed_in_is_sent_to_sign_in_and_changes_nothing(
    app: Flask, client: FlaskClient, demo_queue: str
) -> None:
    made = book(client, 1)
    assert made.status_code == 201
    page = client.get("/simulator", environ_base=ELSEWHERE)
    assert page.status_code == 302 and "/console/login?next=/simulator" in page.headers["Location"]
    assert client.get("/simulator/crm", environ_base=ELSEWHERE).status_code == 302
    state = client.get("/simulator/api/state", environ_base=ELSEWHERE)
    assert state.status_code == 401 and state.get_json()["type"] == "demo_access_refused"
    before = _texts(app)
    cancel = client.post(
        "/simulator/api/texts", json={**TEXT, "from": made.get_json()["phone"]}, environ_base=ELSEWHERE
    )
    assert cancel.status_code == 401 and cancel.get_json()["type"] == "demo_access_refused"
    assert client.post("/simulator/crm/switch", data={"down": "1"}, environ_base=ELSEWHERE).status_code == 401
    assert _texts(app) == before
    assert client.get(f"/api/v1/callbacks/{made.get_json()['ref']}").get_json()["state"] != "cancelled"


def test_a_local_proxy_does_not_make_every_visitor_local(client: FlaskClient) -> None:
    # TRUSTED_PROXIES=0 and an X-Forwarded-For: a proxy on this machine passed it on.
    answer = client.get("/simulator/api/state", headers={"X-Forwarded-For": "203.0.113.7"})
    assert answer.status_code == 401
    assert client.get("/simulator/api/state").status_code == 200  # straight from 127.0.0.1


def test_signed_in_users_look_as_viewers_and_act_as_supervisors(app: Flask, clock: FixedClock) -> None:
    viewer = _sign_in(app, "viewer", clock)
    assert viewer.get("/simulator", environ_base=ELSEWHERE).status_code == 200
    assert viewer.get("/simulator/api/state", environ_base=ELSEWHERE).status_code == 200
    refused = viewer.post("/simulator/api/texts", json=TEXT, environ_base=ELSEWHERE)
    assert refused.status_code == 403 and refused.get_json()["type"] == "demo_access_refused"
    supervisor = _sign_in(app, "supervisor", clock)
    sent = supervisor.post(
        "/simulator/api/texts", json=TEXT, environ_base=ELSEWHERE, headers={"Origin": "http://localhost"}
    )
    assert sent.status_code == 200, sent.get_json()
    assert sent.get_json()["message_id"]


def test_another_site_cannot_make_a_local_browser_act(app: Flask, client: FlaskClient) -> None:
    for headers in ({"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}):
        answer = client.post("/simulator/api/texts", json=TEXT, headers=headers)
        assert answer.status_code == 403, headers
        assert client.post("/simulator/crm/switch", data={"down": "1"}, headers=headers).status_code == 403
    assert client.post("/simulator/api/texts", json=TEXT, headers={"Origin": "http://localhost"}).status_code == 200


def test_the_stand_in_crm_receiver_checks_its_own_signature(client: FlaskClient) -> None:
    # Open to any address: the signature is its check (401 "bad signature", not the demo gate's).
    answer = client.post("/simulator/crm", data=b"{}", environ_base=ELSEWHERE)
    assert answer.status_code == 401 and answer.get_data(as_text=True) == "bad signature"


@pytest.mark.parametrize("path", ["/simulator", "/simulator/crm"])
def test_signing_in_goes_back_to_the_demo_page(app: Flask, client: FlaskClient, clock: FixedClock, path: str) -> None:
    db: Database = app.extensions["db"]
    with db.write() as session:
        create_user(session, "viewer@example.com", PASSWORD, "viewer", clock.now())
    html = client.get(f"/console/login?next={path}").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert token
    answer = client.post(
        f"/console/login?next={path}",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token.group(1)},
        environ_base=ELSEWHERE,
    )
    assert answer.status_code == 303 and answer.headers["Location"] == path

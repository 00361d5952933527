"""Mindful-style limits per queue (issue 18, section 3): switches for taking and for
dialling callbacks, and the thresholds (callbacks waiting, estimated callback time) past
which no new callback is taken: the API answers 409 callbacks_withheld, the IVR makes no
offer and the caller holds, told why; the console edits them, audited."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import AuditEntry
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Queue
from services.dialer.dialer import Dialer
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import book
from tests.integration.test_console_access import SignedIn, signed_in, users  # noqa: F401 (fixtures)
from tests.integration.test_console_queues import _settings_form
from tests.integration.test_ivr_simulator import QUEUE_NUMBER, heard, inbound_url

CALLER = "+447400123456"


def test_a_queue_not_taking_callbacks_refuses_new_ones_but_gives_back_a_live_one(
    client: FlaskClient, make_queue: Any
) -> None:
    make_queue()
    first = book(client, 1)
    assert first.status_code == 201
    make_queue(register_enabled=False)
    refused = book(client, 2)
    assert refused.status_code == 409
    assert (refused.get_json()["type"], refused.get_json()["details"]) == ("callbacks_withheld", {"reason": "paused"})
    assert book(client, 1).status_code == 200  # the live one, as ever


def test_max_pending_and_max_ecbt_stop_new_callbacks(client: FlaskClient, make_queue: Any) -> None:
    make_queue(max_pending=2)
    assert book(client, 1).status_code == 201
    assert book(client, 2).status_code == 201
    full = book(client, 3)
    assert (full.status_code, full.get_json()["details"]) == (409, {"reason": "too_many_pending"})
    make_queue(max_pending=None, max_ecbt_seconds=240, estimated_wait_seconds=300)  # an ASAP wait of 300 s
    long = book(client, 3)
    assert (long.status_code, long.get_json()["details"]) == (409, {"reason": "wait_too_long"})
    assert book(client, 3, "2027-01-04T14:15:00+00:00").status_code == 201  # a time, not ASAP: taken


def test_the_ivr_makes_no_offer_and_the_caller_holds_told_why(
    app: Flask, make_queue: Any, phone_sim: SimulatorDriver
) -> None:
    make_queue(max_pending=0)
    call = phone_sim.dial_in(CALLER, QUEUE_NUMBER, inbound_url(app))
    said = heard(call)
    assert "too many callers are waiting for one" in said and "press" not in said.lower()
    assert call["state"] == "with_agent"  # holding for the next agent
    make_queue(register_enabled=False, max_pending=None)
    again = phone_sim.dial_in("+447400123457", QUEUE_NUMBER, inbound_url(app))
    assert "We are not taking callback requests at the moment." in heard(again)


def test_a_queue_whose_dialling_is_off_keeps_its_callbacks_waiting(
    client: FlaskClient, db: Database, clock: FixedClock, dialer: Dialer, make_queue: Any
) -> None:
    make_queue(estimated_wait_seconds=0, process_enabled=False)
    assert book(client, 1).status_code == 201  # still taken: only the dialling is off
    assert dialer.dispatch() == 0
    make_queue(estimated_wait_seconds=0, process_enabled=True)
    assert dialer.dispatch() == 1


def test_the_console_edits_the_limits_and_the_audit_log_says_who(
    signed_in: SignedIn,  # noqa: F811
    client: FlaskClient,
    db: Database,
    demo_queue: str,
) -> None:
    supervisor = signed_in("supervisor")
    form = _settings_form(supervisor.get("/console/queues/support/settings").get_data(as_text=True))
    assert (form.get("register_enabled"), form["max_pending"]) == ("yes", "")
    del form["register_enabled"]  # unchecked: not taking callbacks
    form.update({"max_pending": "25", "max_ecbt_seconds": "1200", "over_dial_ratio": "0.25"})
    assert supervisor.post("/console/queues/support/settings", data=form).status_code == 303
    with db.read() as session:
        queue = session.scalars(select(Queue).where(Queue.key == "support")).one()
        assert (queue.register_enabled, queue.process_enabled) == (False, True)
        assert (queue.max_pending, queue.max_ecbt_seconds, queue.over_dial_ratio) == (25, 1200, 0.25)
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "queue.settings")).all()
    assert set(entry.after or {}) == {"register_enabled", "max_pending", "max_ecbt_seconds", "over_dial_ratio"}
    assert book(client, 1).get_json()["type"] == "callbacks_withheld"

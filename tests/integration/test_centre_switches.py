"""The switches for every queue at once (issue 18, section 3; services/centre_switches.py):
with "take new callbacks" off, no queue takes one (409 callbacks_withheld, the IVR makes no
offer and says why) while the waiting ones are still dialled; with "dial" off, no queue's
callbacks are dialled while new ones are still taken. Set from the console's overview or
PUT /api/v1/switches (admin keys), audited."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import AuditEntry
from infra.clock import FixedClock
from infra.db import Database
from services import centre_switches
from services.accounts import new_api_key
from services.dialer.dialer import Dialer
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import book
from tests.integration.test_console_access import SignedIn, csrf, signed_in, users  # noqa: F401 (fixtures)
from tests.integration.test_ivr_simulator import QUEUE_NUMBER, heard, inbound_url


def set_switches(db: Database, clock: FixedClock, register: bool, process: bool) -> None:
    with db.write() as session:
        centre_switches.change(session, register, process, "test", clock.now())


def test_not_taking_callbacks_anywhere_refuses_new_ones_and_keeps_dialling_the_waiting(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, dialer: Dialer, make_queue: Any,
    phone_sim: SimulatorDriver,
) -> None:  # fmt: skip
    make_queue(estimated_wait_seconds=0)
    assert book(client, 1).status_code == 201
    set_switches(db, clock, register=False, process=True)
    refused = book(client, 2)
    assert refused.status_code == 409
    assert (refused.get_json()["type"], refused.get_json()["details"]) == ("callbacks_withheld", {"reason": "paused"})
    said = heard(phone_sim.dial_in("+447400123456", QUEUE_NUMBER, inbound_url(app)))
    assert "We are not taking callback requests at the moment." in said and "press 1" not in said.lower()
    assert dialer.dispatch() == 1  # the waiting one is still dialled
    set_switches(db, clock, register=True, process=True)
    assert book(client, 2).status_code == 201


def test_not_dialling_anywhere_keeps_every_queues_callbacks_waiting_and_still_takes_new_ones(
    client: FlaskClient, db: Database, clock: FixedClock, dialer: Dialer, make_queue: Any
) -> None:
    make_queue(estimated_wait_seconds=0)
    set_switches(db, clock, register=True, process=False)
    assert book(client, 1).status_code == 201
    assert book(client, 2).status_code == 201
    assert dialer.dispatch() == 0
    set_switches(db, clock, register=True, process=True)
    assert dialer.dispatch() == 2  # in due order, once dialling is back on


def test_the_console_overview_sets_them_audited_and_says_so(
    signed_in: SignedIn,  # noqa: F811
    db: Database,
    demo_queue: str,
) -> None:
    supervisor = signed_in("supervisor")
    page = supervisor.get("/console/").get_data(as_text=True)
    assert 'name="register_enabled" value="yes" checked' in page and "centre-switches-state" not in page
    form = {"csrf_token": csrf(supervisor, "/console/"), "process_enabled": "yes"}  # "take new" unchecked
    assert supervisor.post("/console/switches", data=form).status_code == 303
    page = supervisor.get("/console/").get_data(as_text=True)
    assert "No queue is taking new callbacks" in page and "supervisor@example.com" in page
    assert "not taking, dialling" in page  # the demo queue's row
    supervisor.post("/console/switches", data=form)  # the same again: nothing changes, nothing audited
    with db.read() as session:
        assert (
            centre_switches.current(session).register_enabled,
            centre_switches.current(session).process_enabled,
        ) == (
            False,
            True,
        )
        (entry,) = session.scalars(select(AuditEntry).where(AuditEntry.action == "centre_switches.update")).all()
    assert (entry.actor, entry.target) == ("supervisor@example.com", "all queues")
    assert (entry.before, entry.after) == (
        {"register_enabled": True, "process_enabled": True},
        {"register_enabled": False, "process_enabled": True},
    )
    viewer = signed_in("viewer")
    assert 'id="centre-switches"' not in viewer.get("/console/").get_data(as_text=True)


def test_the_api_sets_them_with_an_admin_key_only(client: FlaskClient, db: Database, clock: FixedClock) -> None:
    with db.write() as session:
        admin, _ = new_api_key(session, "Ops", "admin@example.com", clock.now(), role="admin")
        crm, _ = new_api_key(session, "CRM", "admin@example.com", clock.now())
    body = {"register_enabled": True, "process_enabled": False}
    refused = client.put("/api/v1/switches", json=body, headers={"Authorization": f"Bearer {crm}"})
    assert (refused.status_code, refused.get_json()["type"]) == (403, "admin_key_required")
    answer = client.put("/api/v1/switches", json=body, headers={"Authorization": f"Bearer {admin}"})
    assert answer.status_code == 200
    assert answer.get_json() == {**body, "changed_at": clock.now().isoformat(), "changed_by": "api-key:Ops"}
    with db.read() as session:
        assert centre_switches.current(session).process_enabled is False

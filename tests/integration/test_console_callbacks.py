"""The console's callbacks: list with filters and paging, CSV, detail, supervisor actions."""

from __future__ import annotations

import csv
import io
from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, CallbackEvent
from tests.integration.helpers import book, phone, slots
from tests.integration.test_console_access import SignedIn, csrf, signed_in, users

__all__ = ["signed_in", "users"]  # fixtures


def test_the_list_filters_by_state_source_and_phone(signed_in: SignedIn, client: FlaskClient, demo_queue: str) -> None:
    start = slots(client)[0]["start"]
    first = book(client, 1, start).get_json()["ref"]
    second = book(client, 2).get_json()["ref"]
    client.delete(f"/api/v1/callbacks/{second}")
    viewer = signed_in("viewer")
    everything = viewer.get("/console/callbacks").get_data(as_text=True)
    assert first in everything and second in everything and "2 callbacks." in everything
    cancelled = viewer.get("/console/callbacks?state=cancelled").get_data(as_text=True)
    assert second in cancelled and first not in cancelled
    by_phone = viewer.get(f"/console/callbacks?phone={phone(1)[-6:]}").get_data(as_text=True)
    assert first in by_phone and second not in by_phone
    assert "0 callbacks." in viewer.get("/console/callbacks?source=sms").get_data(as_text=True)
    assert "0 callbacks." in viewer.get("/console/callbacks?from=2027-01-05").get_data(as_text=True)


def test_the_list_pages_by_fifty(signed_in: SignedIn, client: FlaskClient, make_queue: Any) -> None:
    make_queue(widget={"requests_per_phone_per_hour": 1000})
    make_queue(key="sales", name="Sales desk")
    for n in range(55):
        assert book(client, n, None).status_code == 201
    viewer = signed_in("viewer")
    first = viewer.get("/console/callbacks").get_data(as_text=True)
    assert first.count('href="/console/callbacks/') == 50 and "Page 1 of 2" in first
    assert '<option value="sales" >Sales desk</option>' in first  # the queue picker names the queues
    assert viewer.get("/console/callbacks?page=2").get_data(as_text=True).count('href="/console/callbacks/') == 5


def test_the_csv_has_every_filtered_row_and_defuses_formulas(
    signed_in: SignedIn, client: FlaskClient, demo_queue: str
) -> None:
    start = slots(client)[0]["start"]
    ref = book(client, 1, start, name='=HYPERLINK("http://evil")').get_json()["ref"]
    book(client, 2)
    answer = signed_in("viewer").get("/console/callbacks.csv?source=api&state=scheduled")
    assert answer.mimetype == "text/csv" and "attachment" in answer.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(answer.get_data(as_text=True))))
    assert rows[0][:3] == ["ref", "queue", "phone"]
    assert len(rows) == 3 and rows[1][0] == ref
    assert rows[1][3] == '\'=HYPERLINK("http://evil")'
    assert rows[1][7] == start


def test_the_detail_shows_history_and_a_supervisor_acts_on_it(
    signed_in: SignedIn, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    starts = [s["start"] for s in slots(client)[:3]]
    ref = book(client, 1, starts[2]).get_json()["ref"]
    supervisor = signed_in("supervisor")
    detail = supervisor.get(f"/console/callbacks/{ref}").get_data(as_text=True)
    assert "book" in detail and "Dial now" in detail and "No calls yet." in detail
    token = csrf(supervisor, "/console/")
    assert (
        supervisor.post(f"/console/callbacks/{ref}/note", data={"csrf_token": token, "note": "VIP <b>"}).status_code
        == 303
    )
    assert "VIP &lt;b&gt;" in supervisor.get(f"/console/callbacks/{ref}").get_data(as_text=True)
    moved = supervisor.post(f"/console/callbacks/{ref}/reschedule", data={"csrf_token": token, "slot_start": starts[1]})
    assert moved.status_code == 303
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["slot_start"] == starts[1]
    assert supervisor.post(f"/console/callbacks/{ref}/dial-now", data={"csrf_token": token}).status_code == 303
    with db.read() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        assert callback.next_attempt_at == clock.now()
        actors = {e.step: e.actor for e in session.scalars(select(CallbackEvent))}
    assert actors["note"] == actors["reschedule"] == actors["dial_now"] == "console:supervisor@example.com"
    assert supervisor.post(f"/console/callbacks/{ref}/cancel", data={"csrf_token": token}).status_code == 303
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    again = supervisor.post(f"/console/callbacks/{ref}/dial-now", data={"csrf_token": token})
    assert again.status_code == 409 and "cannot be dialled now" in again.get_data(as_text=True)


def test_a_viewer_sees_no_actions_and_cannot_act(signed_in: SignedIn, client: FlaskClient, demo_queue: str) -> None:
    ref = book(client, 1).get_json()["ref"]
    viewer = signed_in("viewer")
    assert "Dial now" not in viewer.get(f"/console/callbacks/{ref}").get_data(as_text=True)
    refused = viewer.post(f"/console/callbacks/{ref}/cancel", data={"csrf_token": csrf(viewer, "/console/")})
    assert refused.status_code == 403
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "scheduled"

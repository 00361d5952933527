"""Redelivery end to end: a delivery that failed against a real receiver is sent again,
by the worker's own sender, once the API (or the console) asks for it."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient

from infra.clock import FixedClock
from infra.db import Database
from tests.integration.event_receiver import Receiver
from tests.integration.helpers import book
from tests.integration.test_event_delivery import deliver_all, event_settings, receiver, sender
from tests.integration.test_events_api import make_key

__all__ = ["event_settings", "receiver", "sender"]  # fixtures


def test_a_failed_delivery_redelivered_through_the_api_reaches_the_receiver_once_it_is_back(
    client: FlaskClient, demo_queue: str, db: Database, clock: FixedClock, sender: Any, receiver: Receiver
) -> None:
    admin = make_key(db, clock, "admin")
    made = client.post(
        "/api/v1/subscriptions",
        json={"name": "CRM", "url": receiver.url, "event_types": ["callback.created"]},
        headers=admin,
    ).get_json()
    receiver.answer(500)
    assert book(client, 1).status_code == 201
    for attempt in range(1, 5):
        deliver_all(sender)
        receiver.wait_for(attempt)
        clock.advance(minutes=5)
    deliver_all(sender)
    (failed,) = client.get("/api/v1/deliveries", headers=admin).get_json()["deliveries"]
    assert (failed["status"], len(failed["attempts"])) == ("failed", 4)

    receiver.answer(200)
    answer = client.post(f"/api/v1/deliveries/{failed['id']}/redeliver", headers=admin)
    assert answer.status_code == 202 and answer.get_json()["status"] == "pending"
    deliver_all(sender)
    receiver.wait_for(5)
    (delivered,) = client.get(f"/api/v1/deliveries?subscription={made['id']}", headers=admin).get_json()["deliveries"]
    assert (delivered["status"], delivered["attempts_in_round"]) == ("delivered", 1)
    assert [a["succeeded"] for a in delivered["attempts"]] == [False] * 4 + [True]
    assert len({r.headers["X-Callbacks-Event-Id"] for r in receiver.received}) == 1  # the same event again

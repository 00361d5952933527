"""CRM event push end to end: a callback's life cycle on the simulator reaches a real
HTTP receiver on loopback, signed, in order, in JSON or XML; a receiver that fails, is too
slow or drops the connection gets the event again later, then the delivery fails for good,
and every attempt is in the log."""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from werkzeug.serving import make_server

from app.factory import create_app
from app.simulator_page import in_process_deliver
from events.demo_receiver import DEMO_SECRET
from events.outbox import fan_out
from events.sender import EventSender, claim
from events.signing import signed_headers
from infra.clock import FixedClock
from infra.db import Database
from infra.event_models import DeliveryAttempt, EventDelivery, EventSubscription, OutboxEvent
from infra.models import Callback, Queue
from infra.settings import Settings
from infra.simulator_models import SimCrmEvent
from services.dialer.dialer import Dialer
from services.queue_documents import import_queue, parse_queue_document
from services.transitions import apply_step
from telephony.simulator_driver import SimulatorDriver
from tests.conftest import demo_document
from tests.integration.event_receiver import Received, Receiver, running_receiver
from tests.integration.helpers import apply_call_events, book, phone, slots
from tests.integration.test_worker_processes import live_queue, start_worker, wait_until  # noqa: F401 - fixtures

SECRET = "whsec_test-secret-of-some-length"
DOCS = Path(__file__).resolve().parents[2] / "docs" / "events.md"
LIFE_CYCLE = ["callback.created", "callback.connected", "callback.attempt_finished", "callback.completed"]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with running_receiver() as running:
        yield running


@pytest.fixture
def event_settings(app: Flask) -> Settings:
    settings: Settings = app.extensions["settings"]
    return settings.with_overrides(event_timeout_seconds=0.5, event_retry_seconds=300, event_max_attempts=4)


@pytest.fixture
def sender(db: Database, clock: FixedClock, event_settings: Settings) -> Iterator[EventSender]:
    running = EventSender(db, clock, event_settings, owner="test-sender")
    yield running
    running.close()


def subscribe(
    db: Database,
    clock: FixedClock,
    url: str,
    types: list[str],
    *,
    format_: str = "json",
    queue: str | None = None,
    name: str = "CRM",
) -> int:
    with db.write() as session:
        queue_id = session.scalar(select(Queue.id).where(Queue.key == queue)) if queue else None
        row = EventSubscription(
            name=name,
            url=url,
            secret=SECRET,
            event_types=types,
            queue_id=queue_id,
            format=format_,
            active=True,
            created_by="test",
            created_at=clock.now(),
            updated_at=clock.now(),
        )
        session.add(row)
        session.flush()
        return row.id


def deliver_all(sender: EventSender) -> None:
    """Ticks until nothing more is due now, waiting for each tick's POSTs."""
    while sender.tick():
        assert sender.wait_idle(10)


def documents(received: list[Received]) -> list[dict[str, Any]]:
    return [json.loads(r.body) for r in received]


def docs_verify() -> Any:
    """The receiver's verification code from docs/events.md, run as a subscriber would."""
    code = re.search(r"```python\n(# verify\.py.*?)```", DOCS.read_text(encoding="utf-8"), re.S)
    assert code is not None, "docs/events.md lost its verify.py sample"
    namespace: dict[str, Any] = {}
    exec(code.group(1), namespace)
    return namespace["verify"]


def deliveries(db: Database) -> list[EventDelivery]:
    with db.read() as session:
        return list(session.scalars(select(EventDelivery).order_by(EventDelivery.id)))


def log_of(db: Database) -> list[DeliveryAttempt]:
    with db.read() as session:
        return list(session.scalars(select(DeliveryAttempt).order_by(DeliveryAttempt.id)))


def run_life_cycle(app: Flask, client: FlaskClient, clock: FixedClock, dialer: Dialer, sim: SimulatorDriver) -> str:
    """An ASAP callback booked, rung, a human presses 1, talks to an agent, hangs up."""
    ref = str(book(client, 1, name="Ada Lovelace", sms_consent=True).get_json()["ref"])
    assert dialer.dispatch() == 1
    (call,) = [c for c in sim.calls() if c["state"] == "ringing"]
    sim.answer(call["call_id"])
    clock.advance(seconds=20)
    sim.press(call["call_id"], "1")
    clock.advance(minutes=4)
    sim.hang_up(call["call_id"])
    apply_call_events(app)
    return ref


def test_a_whole_life_cycle_reaches_the_subscriber_signed_and_in_order(
    app: Flask,
    client: FlaskClient,
    make_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
    sender: EventSender,
    receiver: Receiver,
) -> None:
    make_queue(estimated_wait_seconds=0)
    subscribe(db, clock, receiver.url, LIFE_CYCLE)
    ref = run_life_cycle(app, client, clock, dialer, phone_sim)
    deliver_all(sender)

    got = receiver.wait_for(4)
    docs = documents(got)
    assert [d["type"] for d in docs] == LIFE_CYCLE
    assert len({d["id"] for d in docs}) == 4
    assert {d["callback"]["ref"] for d in docs} == {ref}
    created, connected, finished, completed = docs
    assert created["callback"]["phone"] == phone(1) and created["callback"]["name"] == "Ada Lovelace"
    assert created["callback"]["state"] == "scheduled" and created["change"]["from_state"] is None
    assert connected["change"]["to_state"] == "connected" and connected["change"]["actor"] == "customer"
    cdr = finished["attempt"]
    assert (cdr["result"], cdr["answered_by"], cdr["duration_seconds"], cdr["provider"]) == (
        "connected",
        "human",
        260,
        "simulator",
    )
    assert cdr["answered_at"] is not None and cdr["ended_at"] is not None
    assert completed["callback"]["state"] == "completed" and completed["change"]["from_state"] == "connected"

    verify = docs_verify()
    now = clock.now().timestamp()
    for request in got:
        assert request.headers["Content-Type"] == "application/json"
        assert request.headers["X-Callbacks-Event-Id"] == json.loads(request.body)["id"]
        stamp, signature = request.headers["X-Callbacks-Timestamp"], request.headers["X-Callbacks-Signature"]
        assert verify(SECRET, stamp, signature, request.body, now)
        # A changed body, another secret or an old timestamp does not verify.
        assert not verify(SECRET, stamp, signature, request.body + b" ", now)
        assert not verify("another-secret", stamp, signature, request.body, now)
        assert not verify(SECRET, stamp, signature, request.body, now + 3600)
    assert [d.status for d in deliveries(db)] == ["delivered"] * 4
    assert all(a.succeeded and a.http_status == 200 for a in log_of(db))


def test_xml_subscribers_get_the_same_event_as_xml_and_only_the_types_they_asked_for(
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    sender: EventSender,
    receiver: Receiver,
) -> None:
    subscribe(db, clock, receiver.url, ["callback.cancelled"], format_="xml")
    start = slots(client)[0]["start"]
    ref = book(client, 1, slot_start=start, fields=[{"name": "order", "value": "A-17"}]).get_json()["ref"]
    assert client.delete(f"/api/v1/callbacks/{ref}").status_code == 200
    deliver_all(sender)

    (request,) = receiver.wait_for(1)
    assert request.headers["Content-Type"] == "application/xml"
    root = ElementTree.fromstring(request.body)
    assert (root.tag, root.get("type")) == ("event", "callback.cancelled")
    assert root.findtext("callback/ref") == ref
    assert root.findtext("callback/phone") == phone(1)
    assert root.findtext("callback/state") == "cancelled"
    assert root.findtext("callback/fields/field/value") == "A-17"
    assert root.find("callback/name").get("null") == "true"  # type: ignore[union-attr]
    assert root.findtext("change/to_state") == "cancelled"
    # callback.created happened too, but this subscriber did not ask for it.
    with db.read() as session:
        assert set(session.scalars(select(OutboxEvent.type))) == {"callback.created", "callback.cancelled"}
    assert len(deliveries(db)) == 1


def test_a_subscription_for_one_queue_gets_nothing_of_another(
    client: FlaskClient,
    make_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    sender: EventSender,
    receiver: Receiver,
) -> None:
    make_queue()
    make_queue(key="sales", name="Sales")
    subscribe(db, clock, receiver.url, ["callback.created"], queue="sales")
    assert book(client, 1).status_code == 201  # the support queue
    assert (
        client.post("/api/v1/callbacks", json={"queue": "sales", "phone": phone(2), "kind": "asap"}).status_code == 201
    )
    deliver_all(sender)
    (request,) = receiver.wait_for(1)
    assert json.loads(request.body)["callback"]["queue"] == "sales"


@pytest.mark.parametrize("failure", [500, "timeout", "close"])
def test_a_failing_receiver_gets_four_attempts_five_minutes_apart_then_the_delivery_fails(
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    sender: EventSender,
    receiver: Receiver,
    failure: int | str,
) -> None:
    release = threading.Event()

    def too_slow(_request: Received) -> int:
        release.wait(5)  # longer than the sender's 0.5 s
        return 200

    receiver.answer(too_slow if failure == "timeout" else failure)
    subscribe(db, clock, receiver.url, ["callback.created"])
    assert book(client, 1).status_code == 201
    for attempt in range(1, 5):
        deliver_all(sender)
        receiver.wait_for(attempt)
        assert deliver_all(sender) is None and len(receiver.received) == attempt  # not again before its time
        (delivery,) = deliveries(db)
        assert delivery.attempts == attempt
        clock.advance(minutes=5)
    release.set()
    deliver_all(sender)
    (delivery,) = deliveries(db)
    assert delivery.status == "failed" and delivery.settled_at is not None
    log = log_of(db)
    assert len(log) == 4 and not any(a.succeeded for a in log)
    assert [a.at for a in log] == [log[0].at + timedelta(minutes=5 * n) for n in range(4)]
    if failure == 500:
        assert {(a.http_status, a.error) for a in log} == {(500, "http_error")}
    elif failure == "timeout":
        assert {(a.http_status, a.error) for a in log} == {(None, "read_timeout")}
    else:
        assert {(a.http_status, a.error) for a in log} == {(None, "connection_dropped")}
    # The same event each time: receivers dedupe by its id.
    assert len({r.headers["X-Callbacks-Event-Id"] for r in receiver.received}) == 1


def test_a_receiver_back_after_an_outage_gets_everything_in_order(
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    sender: EventSender,
    receiver: Receiver,
) -> None:
    subscribe(db, clock, receiver.url, ["callback.created", "callback.rescheduled", "callback.cancelled"])
    receiver.answer(503)
    times = [s["start"] for s in slots(client)[:3]]
    ref = book(client, 1, slot_start=times[0]).get_json()["ref"]
    other = book(client, 2, slot_start=times[0]).get_json()["ref"]
    deliver_all(sender)  # both created events fail once
    assert client.post(f"/api/v1/callbacks/{ref}/reschedule", json={"slot_start": times[1]}).status_code == 200
    assert client.delete(f"/api/v1/callbacks/{ref}").status_code == 200
    deliver_all(sender)
    # The later events of a callback wait behind its first, which waits for its retry.
    assert len(receiver.received) == 2
    receiver.answer(200)
    clock.advance(minutes=5)
    deliver_all(sender)
    deliver_all(sender)
    deliver_all(sender)
    ok = [json.loads(r.body) for r in receiver.received[2:]]
    mine = [(d["type"], d["change"]["to_state"]) for d in ok if d["callback"]["ref"] == ref]
    assert mine == [
        ("callback.created", "scheduled"),
        ("callback.rescheduled", "scheduled"),
        ("callback.cancelled", "cancelled"),
    ]
    assert [d["type"] for d in ok if d["callback"]["ref"] == other] == ["callback.created"]
    assert {d.status for d in deliveries(db)} == {"delivered"}


def test_a_slow_receiver_does_not_hold_up_another_subscription(
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    sender: EventSender,
) -> None:
    fast_got = threading.Event()
    with running_receiver() as slow, running_receiver() as fast:

        def hold_until_fast_got_its(_request: Received) -> int:
            return 200 if fast_got.wait(5) else 500

        def record(_request: Received) -> int:
            fast_got.set()
            return 200

        slow.answer(hold_until_fast_got_its)
        fast.answer(record)
        slow_id = subscribe(db, clock, slow.url, ["callback.created"], name="slow")
        subscribe(db, clock, fast.url, ["callback.created"], name="fast")
        assert book(client, 1).status_code == 201
        sender.tick()  # both POSTs go out at once: the slow one does not block the fast one
        assert sender.wait_idle(10)
        assert fast_got.is_set()
        with db.read() as session:
            slow_delivery = session.scalars(select(EventDelivery).where(EventDelivery.subscription_id == slow_id)).one()
        assert slow_delivery.status == "delivered"  # it answered 200: the fast one came while it waited


def test_a_delivery_whose_worker_died_mid_post_is_sent_again_when_its_lease_runs_out(
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    event_settings: Settings,
    sender: EventSender,
    receiver: Receiver,
) -> None:
    subscribe(db, clock, receiver.url, ["callback.created"])
    assert book(client, 1).status_code == 201
    with db.write() as session:  # what a worker's tick does before it POSTs; then it dies
        fan_out(session, clock.now())
        (job,) = claim(session, clock.now(), event_settings, "dead-worker", free=4)
    deliver_all(sender)
    assert receiver.received == []  # the lease still holds: not sent twice at once
    clock.advance(seconds=3 * event_settings.event_timeout_seconds + 6)
    deliver_all(sender)
    (request,) = receiver.wait_for(1)
    assert request.headers["X-Callbacks-Event-Id"] == job.event_id
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.attempts, delivery.lease_owner) == ("delivered", 1, None)


def test_events_of_a_rolled_back_change_are_not_sent(
    client: FlaskClient, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    ref = book(client, 1).get_json()["ref"]
    with pytest.raises(RuntimeError), db.write() as session:
        callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
        apply_step(session, callback, "cancel", clock.now(), "test")
        raise RuntimeError("the transaction fails after the step")
    with db.read() as session:
        assert list(session.scalars(select(OutboxEvent.type))) == ["callback.created"]


@pytest.fixture
def served_app(settings: Settings, clock: FixedClock) -> Iterator[Flask]:
    """The app served over real HTTP on loopback (its public URL), for the stand-in CRM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    application = create_app(settings.with_overrides(public_base_url=f"http://127.0.0.1:{port}"), clock=clock)
    server = make_server("127.0.0.1", port, application, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield application
    server.shutdown()
    application.extensions["db"].dispose()


def test_the_demo_crm_gets_a_whole_life_cycle_survives_an_outage_and_the_log_shows_every_attempt(
    served_app: Flask, clock: FixedClock
) -> None:
    app, db = served_app, served_app.extensions["db"]
    client = app.test_client()
    with db.write() as session:
        import_queue(session, parse_queue_document(demo_document(estimated_wait_seconds=0)), clock.now())
    assert app.test_cli_runner().invoke(args=["callbacks", "seed-demo-crm"]).exit_code == 0
    settings = app.extensions["settings"].with_overrides(event_timeout_seconds=5)
    sender = EventSender(db, clock, settings, owner="demo-worker")
    dialer = Dialer(db, app.extensions["providers"], clock, app.extensions["settings"], worker_id="demo-worker")
    sim = SimulatorDriver(db, settings.secret_key, in_process_deliver(app), clock)
    try:
        assert client.post("/simulator/crm/switch", data={"down": "1"}).status_code == 303
        ref = run_life_cycle(app, client, clock, dialer, sim)
        deliver_all(sender)  # the CRM is down: the first event fails, the others wait behind it
        clock.advance(minutes=5)
        deliver_all(sender)  # still down: a second attempt
        assert client.post("/simulator/crm/switch", data={"down": "0"}).status_code == 303
        clock.advance(minutes=5)
        for _ in range(4):
            deliver_all(sender)
    finally:
        sender.close()
    with db.read() as session:
        got = list(session.scalars(select(SimCrmEvent).order_by(SimCrmEvent.id)))
    assert all(e.signature_ok for e in got)
    assert [(e.type, e.answered) for e in got] == [
        ("callback.created", 503),
        ("callback.created", 503),
        ("callback.created", 200),
        ("callback.connected", 200),
        ("callback.attempt_finished", 200),
        ("callback.completed", 200),
    ]
    assert {e.callback_ref for e in got} == {ref}
    page = client.get("/simulator/crm").get_data(as_text=True)
    assert "callback.completed" in page and "invalid" not in page
    log = log_of(db)
    assert [(a.http_status, a.succeeded) for a in log] == [(503, False), (503, False)] + [(200, True)] * 4


def test_the_demo_crm_refuses_a_post_not_signed_with_a_subscribers_secret(
    client: FlaskClient, demo_queue: str, db: Database, clock: FixedClock
) -> None:
    assert client.application.test_cli_runner().invoke(args=["callbacks", "seed-demo-crm"]).exit_code == 0
    body = b'{"id": "x", "type": "callback.created"}'
    stamp = int(clock.now().timestamp())
    forged = client.post("/simulator/crm", data=body, headers=signed_headers("not-the-secret", stamp, body, "x", "t"))
    assert forged.status_code == 401
    genuine = client.post("/simulator/crm", data=body, headers=signed_headers(DEMO_SECRET, stamp, body, "x", "t"))
    assert genuine.status_code == 200
    with db.read() as session:
        assert [
            (e.signature_ok, e.answered) for e in session.scalars(select(SimCrmEvent).order_by(SimCrmEvent.id))
        ] == [
            (False, 401),
            (True, 200),
        ]


def test_a_worker_killed_mid_delivery_loses_nothing_the_next_worker_delivers_it(
    client: FlaskClient,
    live_queue: str,  # noqa: F811 - the fixture imported above
    db: Database,
    clock: FixedClock,
    receiver: Receiver,
    start_worker,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    first_got = threading.Event()
    release = threading.Event()

    def hold_the_first(request: Received) -> int:
        if not first_got.is_set():
            first_got.set()
            release.wait(30)  # the worker that sent it is killed meanwhile
        return 200

    receiver.answer(hold_the_first)
    subscribe(db, clock, receiver.url, ["callback.created"])
    ref = book(client, 1).get_json()["ref"]
    worker = start_worker(EVENT_TIMEOUT_SECONDS="3", DIAL_LEASE_SECONDS="60", EVENT_TARGETS_ALLOWED="127.0.0.1")
    assert first_got.wait(30), "the worker never sent the event"
    worker.kill()  # SIGKILL, mid-POST: it never hears the answer nor records anything
    worker.wait(timeout=10)
    release.set()
    (delivery,) = deliveries(db)
    assert (delivery.status, delivery.lease_owner is not None) == ("pending", True)
    # Its lease (3 x 3 s + 5 s) runs out first.
    start_worker(EVENT_TIMEOUT_SECONDS="3", DIAL_LEASE_SECONDS="60", EVENT_TARGETS_ALLOWED="127.0.0.1")
    wait_until(lambda: deliveries(db)[0].status == "delivered", 40, "the delivery after the restart")
    got = receiver.received
    assert len(got) == 2 and len({r.headers["X-Callbacks-Event-Id"] for r in got}) == 1  # at least once: dedupe by id
    assert json.loads(got[1].body)["callback"]["ref"] == ref
    (attempt,) = log_of(db)  # the killed worker's attempt was never recorded; the second was
    assert attempt.succeeded


def test_a_paused_subscription_is_sent_nothing_and_gets_what_was_queued_for_it_when_resumed(
    client: FlaskClient,
    demo_queue: str,
    db: Database,
    clock: FixedClock,
    sender: EventSender,
    receiver: Receiver,
) -> None:
    subscription_id = subscribe(db, clock, receiver.url, ["callback.created"])
    assert book(client, 1).status_code == 201
    with db.write() as session:
        fan_out(session, clock.now())  # queued for it while it was active
        session.get_one(EventSubscription, subscription_id).active = False
    assert book(client, 2).status_code == 201  # happens while it is paused: not queued for it
    deliver_all(sender)
    assert receiver.received == [] and [d.status for d in deliveries(db)] == ["pending"]
    with db.write() as session:
        session.get_one(EventSubscription, subscription_id).active = True
    deliver_all(sender)
    (request,) = receiver.wait_for(1)
    assert json.loads(request.body)["callback"]["phone"] == phone(1)
    assert [d.status for d in deliveries(db)] == ["delivered"]

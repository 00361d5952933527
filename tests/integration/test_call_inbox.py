"""The inbox of call-progress reports: the status webhook only stores a verified report
(one INSERT … ON CONFLICT DO NOTHING), and the worker applies stored reports in arrival
order, each exactly once, with a bad row neither blocking nor losing the others."""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select, update

import services.call_inbox as call_inbox
import services.dialer.call_reports as dialer_module
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent, WebhookReceipt
from infra.simulator_models import SimCall
from infra.text_models import SmsMessage
from services.dialer.dialer import Dialer
from telephony.base import CallEvent, CallState
from telephony.simulator import SIGNATURE_HEADER, sign
from tests.integration.helpers import apply_call_events, book


@pytest.fixture
def dialer(app: Flask, db: Database, clock: FixedClock) -> Dialer:
    # No pacing waits: these tests dial dozens of callbacks at once.
    fast = app.extensions["settings"].with_overrides(calls_per_second={"simulator": 1000.0})
    return Dialer(db, app.extensions["providers"], clock, fast, worker_id="test-worker")


def on_a_call(client: FlaskClient, make_queue: Any, dialer: Dialer, n: int = 1) -> list[Attempt]:
    """N callbacks due now, dialled: each has one attempt with a call id, ringing at the simulator."""
    hours = [
        {"weekday": d, "opens": "09:00", "closes": "17:00", "slot_minutes": 60, "capacity": 100}
        for d in ("monday", "tuesday", "wednesday", "thursday", "friday")
    ]
    make_queue(estimated_wait_seconds=0, max_concurrent_calls=200, weekly_hours=hours)
    for i in range(n):
        # Each dialled before the next is booked: a callback waiting ahead would make the
        # next one's estimated callback time later than now (scheduler/ecbt.py).
        assert book(client, i + 1).status_code == 201
        while dialer.dispatch() > 0:
            pass
    with dialer.db.read() as session:
        found = list(session.scalars(select(Attempt).order_by(Attempt.id)))
    assert len(found) == n and all(a.call_id for a in found)
    return found


def post_event(client: FlaskClient, dialer: Dialer, attempt: Attempt, body: dict[str, Any], signed: bool = True) -> int:
    """A status report as the simulator sends it: JSON signed over the public URL."""
    url = dialer.urls.event("simulator", attempt.id)
    raw = json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if signed:
        headers[SIGNATURE_HEADER] = sign(dialer.settings.secret_key, "POST", url, raw)
    return client.post(url[len(dialer.settings.public_base_url) :], data=raw, headers=headers).status_code


def report(attempt: Attempt, state: str, sequence: int, **extra: Any) -> dict[str, Any]:
    return {"call_id": attempt.call_id, "state": state, "sequence": sequence, **extra}


def inbox(db: Database) -> list[WebhookReceipt]:
    with db.read() as session:
        return list(session.scalars(select(WebhookReceipt).order_by(WebhookReceipt.id)))


def snapshot(db: Database) -> dict[str, Any]:
    """Everything a report can change, as plain values."""
    with db.read() as session:
        return {
            "callbacks": session.execute(
                select(Callback.id, Callback.state, Callback.attempts, Callback.next_attempt_at, Callback.lease_owner)
            ).all(),
            "attempts": session.execute(
                select(Attempt.id, Attempt.call_state, Attempt.outcome, Attempt.answered_at, Attempt.ended_at)
            ).all(),
            "events": session.scalar(select(func.count()).select_from(CallbackEvent)),
            "texts": session.scalar(select(func.count()).select_from(SmsMessage)),
        }


def statements_during(db: Database) -> tuple[list[str], Any]:
    """Every SQL statement sent on the app's engines until the returned callable is called."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    engines = {id(db.engine): db.engine, id(db.read_engine): db.read_engine}.values()
    for engine in engines:
        event.listen(engine, "before_cursor_execute", record)

    def stop() -> None:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", record)

    return seen, stop


def test_the_status_webhook_stores_one_row_with_one_statement_and_changes_nothing_else(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    before = snapshot(db)
    seen, stop = statements_during(db)
    try:
        assert post_event(client, dialer, attempt, report(attempt, "no_answer", 2, duration=0)) == 204
    finally:
        stop()
    sql = [s for s in seen if not s.startswith("BEGIN")]  # SQLite's BEGIN IMMEDIATE
    assert len(sql) == 1 and sql[0].startswith("INSERT INTO webhook_receipt"), seen
    assert "ON CONFLICT" in sql[0]
    assert snapshot(db) == before  # nothing about the callback was read or changed
    (row,) = inbox(db)
    assert (row.provider, row.attempt_id, row.applied_at, row.tries, row.error) == (
        "simulator",
        attempt.id,
        None,
        0,
        None,
    )
    assert row.dedupe_key == f"{attempt.call_id}:no_answer:2"
    assert row.event is not None and row.event["state"] == "no_answer"

    assert apply_call_events(app) == 1
    after = snapshot(db)
    assert after["callbacks"][0].state == "retry_wait"
    assert after["attempts"][0].outcome == "no_answer"
    (row,) = inbox(db)
    assert row.applied_at is not None and row.error is None


def test_a_duplicate_delivery_is_one_row_and_one_effect(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    busy = report(attempt, "busy", 2, duration=0)
    assert [post_event(client, dialer, attempt, busy) for _ in range(3)] == [204, 204, 204]
    assert len(inbox(db)) == 1
    assert apply_call_events(app) == 1
    applied = snapshot(db)
    assert post_event(client, dialer, attempt, busy) == 204  # once more, after it was applied
    assert apply_call_events(app) == 0
    assert snapshot(db) == applied
    with db.read() as session:
        steps = session.scalars(select(CallbackEvent.step).order_by(CallbackEvent.id)).all()
    assert steps == ["book", "start_dial", "retry"]


def test_a_report_without_a_key_is_stored_under_a_hash_of_its_body(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    store = app.extensions["db"]
    ringing = CallEvent("simulator", attempt.call_id or "", CallState.RINGING, sequence=1)
    for body in (b'{"a": 1}', b'{"a": 1}', b'{"a": 2}'):
        call_inbox.store_call_event(store, attempt.id, ringing, body, dialer.clock.now())
    keys = [row.dedupe_key for row in inbox(db)]
    assert len(keys) == 2 and all(k.startswith("sha256:") for k in keys)  # the identical copy deduped
    assert apply_call_events(app) == 2


def test_a_bad_signature_is_refused_and_stores_nothing(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    assert post_event(client, dialer, attempt, report(attempt, "busy", 2), signed=False) == 403
    url = dialer.urls.event("simulator", attempt.id)
    forged = client.post(
        url[len(dialer.settings.public_base_url) :],
        data=json.dumps(report(attempt, "busy", 2)),
        headers={"Content-Type": "application/json", SIGNATURE_HEADER: "0" * 64},
    )
    assert forged.status_code == 403
    assert inbox(db) == []
    assert apply_call_events(app) == 0


def test_an_unknown_attempt_token_is_404_and_an_unparseable_report_is_acknowledged(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    url = f"{dialer.settings.public_base_url}/webhooks/simulator/voice/event/not-a-token"
    raw = json.dumps(report(attempt, "busy", 2)).encode()
    headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(dialer.settings.secret_key, "POST", url, raw)}
    assert client.post(url[len(dialer.settings.public_base_url) :], data=raw, headers=headers).status_code == 404
    assert post_event(client, dialer, attempt, {"call_id": attempt.call_id, "state": "exploded", "sequence": 1}) == 204
    # Signed, but a field of the wrong type (was a TypeError and a 500): acknowledged, not stored.
    ill_typed = report(attempt, "completed", 2, duration={"seconds": 4})
    assert post_event(client, dialer, attempt, ill_typed) == 204
    assert inbox(db) == []


def test_completed_before_answered_is_applied_to_the_right_final_state(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    completed = report(attempt, "completed", 4, duration=35)
    for body in (completed, report(attempt, "answered", 3), report(attempt, "ringing", 2), completed):
        assert post_event(client, dialer, attempt, body) == 204
    assert apply_call_events(app) == 3
    with db.read() as session:
        final = session.get_one(Attempt, attempt.id)
        callback = session.get_one(Callback, final.callback_id)
    assert (final.call_state, final.outcome, final.duration_seconds) == ("completed", "customer_hung_up", 35)
    assert final.answered_at is not None
    assert callback.state == "retry_wait"


def test_the_reports_of_one_attempt_are_applied_in_arrival_order(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second = on_a_call(client, make_queue, dialer, n=2)
    plan = [
        (first, report(first, "ringing", 1)),
        (second, report(second, "ringing", 1)),
        (first, report(first, "answered", 2)),
        (second, report(second, "busy", 2, duration=0)),
        (first, report(first, "completed", 3, duration=20)),
    ]
    for attempt, body in plan:
        assert post_event(client, dialer, attempt, body) == 204
    applied: list[tuple[int, str]] = []
    real = call_inbox.apply_call_event

    def spy(session: Any, attempt_id: int, event_: CallEvent, *args: Any, **kwargs: Any) -> None:
        applied.append((attempt_id, event_.state.value))
        real(session, attempt_id, event_, *args, **kwargs)

    monkeypatch.setattr(call_inbox, "apply_call_event", spy)
    assert call_inbox.apply_call_events(db, dialer.clock, dialer.settings, limit=2) == 2
    assert call_inbox.apply_call_events(db, dialer.clock, dialer.settings, limit=2) == 2
    assert call_inbox.apply_call_events(db, dialer.clock, dialer.settings, limit=2) == 1
    assert applied == [(attempt.id, body["state"]) for attempt, body in plan]


def test_a_poisoned_row_neither_blocks_nor_loses_the_others(
    app: Flask,
    client: FlaskClient,
    make_queue: Any,
    db: Database,
    dialer: Dialer,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    one, poisoned, three = on_a_call(client, make_queue, dialer, n=3)
    for attempt in (one, poisoned, three):
        assert post_event(client, dialer, attempt, report(attempt, "no_answer", 2, duration=0)) == 204
    real_finish = dialer_module.finish_attempt

    def finish(session: Any, attempt: Attempt, *args: Any, **kwargs: Any) -> None:
        if attempt.id == poisoned.id:
            raise RuntimeError("a bug in the retry decision")  # after the attempt row was changed
        real_finish(session, attempt, *args, **kwargs)

    monkeypatch.setattr(dialer_module, "finish_attempt", finish)
    assert apply_call_events(app) == 3 + (call_inbox.MAX_TRIES - 1)  # tried again until given up
    with db.read() as session:
        attempts = {a.id: a for a in session.scalars(select(Attempt))}
        states = dict(session.execute(select(Callback.id, Callback.state)).all())
    assert attempts[one.id].outcome == attempts[three.id].outcome == "no_answer"
    assert states[one.callback_id] == states[three.callback_id] == "retry_wait"
    # The poisoned row's own changes were rolled back with its savepoint ...
    assert (attempts[poisoned.id].call_state, attempts[poisoned.id].outcome) == ("queued", None)
    assert states[poisoned.callback_id] == "dialing"
    # ... and it is kept, unapplied, with its error: a dead letter, visible and logged.
    dead = next(r for r in inbox(db) if r.attempt_id == poisoned.id)
    assert (dead.applied_at, dead.tries) == (None, call_inbox.MAX_TRIES)
    assert dead.error == "RuntimeError: a bug in the retry decision"
    assert any(r.levelname == "ERROR" and "dead letter" in r.getMessage() for r in caplog.records)
    assert all(r.applied_at is not None for r in inbox(db) if r.attempt_id != poisoned.id)


def test_a_row_that_failed_once_is_applied_on_a_later_try(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer, monkeypatch: pytest.MonkeyPatch
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    assert post_event(client, dialer, attempt, report(attempt, "busy", 2, duration=0)) == 204
    real_finish = dialer_module.finish_attempt
    failures = ["deadlock detected"]

    def flaky(*args: Any, **kwargs: Any) -> None:
        if failures:
            raise RuntimeError(failures.pop())
        real_finish(*args, **kwargs)

    monkeypatch.setattr(dialer_module, "finish_attempt", flaky)
    assert call_inbox.apply_call_events(db, dialer.clock, dialer.settings) == 1
    assert call_inbox.apply_call_events(db, dialer.clock, dialer.settings) == 1
    (row,) = inbox(db)
    assert row.applied_at is not None and row.tries == 1
    assert row.error == "RuntimeError: deadlock detected"  # kept for the record
    with db.read() as session:
        assert session.get_one(Attempt, attempt.id).outcome == "busy"


def test_reconciliation_applies_a_key_waiting_in_the_inbox_once(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer, clock: FixedClock
) -> None:
    """The provider's own view (asked when a call goes quiet) and the stored webhook share a
    key: whichever comes first applies it, the other does nothing."""
    (attempt,) = on_a_call(client, make_queue, dialer)
    assert post_event(client, dialer, attempt, report(attempt, "busy", 1, duration=0)) == 204
    with db.write() as session:  # the simulator's call ended busy: its fetch gives the same key
        session.execute(update(SimCall).where(SimCall.call_id == attempt.call_id).values(state="busy", sequence=1))
    clock.advance(minutes=6)
    assert dialer.reconcile() == 1
    assert apply_call_events(app) == 0  # taken over: nothing left to apply
    (row,) = inbox(db)
    assert row.applied_at is not None
    with db.read() as session:
        steps = session.scalars(select(CallbackEvent.step).order_by(CallbackEvent.id)).all()
    assert steps == ["book", "start_dial", "retry"]


def test_worker_once_applies_the_stored_reports(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer
) -> None:
    (attempt,) = on_a_call(client, make_queue, dialer)
    assert post_event(client, dialer, attempt, report(attempt, "no_answer", 2, duration=0)) == 204
    result: Result = app.test_cli_runner().invoke(args=["callbacks", "worker", "--once"])
    assert result.exit_code == 0, result.output
    assert inbox(db)[0].applied_at is not None
    with db.read() as session:
        assert session.scalars(select(Callback.state)).one() == "retry_wait"


@pytest.mark.postgres_only
def test_two_appliers_at_once_apply_every_report_exactly_once(
    app: Flask, client: FlaskClient, make_queue: Any, db: Database, dialer: Dialer, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts = on_a_call(client, make_queue, dialer, n=40)
    for attempt in attempts:
        for body in (report(attempt, "ringing", 1), report(attempt, "no_answer", 2, duration=0)):
            assert post_event(client, dialer, attempt, body) == 204
        assert post_event(client, dialer, attempt, report(attempt, "ringing", 1)) == 204  # a redelivery
    calls: Counter[tuple[int, str]] = Counter()
    lock = threading.Lock()
    real = call_inbox.apply_call_event

    def slow_counting(session: Any, attempt_id: int, event_: CallEvent, *args: Any, **kwargs: Any) -> None:
        with lock:
            calls[(attempt_id, event_.dedupe_key)] += 1
        time.sleep(0.002)  # so that the two appliers' transactions overlap
        real(session, attempt_id, event_, *args, **kwargs)

    monkeypatch.setattr(call_inbox, "apply_call_event", slow_counting)
    start = threading.Barrier(2)
    taken: dict[str, int] = {}
    errors: list[BaseException] = []

    def applier(name: str) -> None:
        try:
            start.wait()
            total = 0
            while batch := call_inbox.apply_call_events(db, dialer.clock, dialer.settings, limit=5):
                total += batch
            taken[name] = total
        except BaseException as error:  # reported below
            errors.append(error)

    threads = [threading.Thread(target=applier, args=(name,)) for name in ("one", "two")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert taken["one"] > 0 and taken["two"] > 0, taken  # both took a share
    assert taken["one"] + taken["two"] == 80
    assert len(calls) == 80 and set(calls.values()) == {1}
    rows = inbox(db)
    assert len(rows) == 80 and all(r.applied_at is not None and r.tries == 0 for r in rows)
    with db.read() as session:
        per_callback = Counter(
            session.scalars(select(CallbackEvent.callback_id).where(CallbackEvent.step == "retry")).all()
        )
        outcomes = session.scalars(select(Attempt.outcome)).all()
    assert len(per_callback) == 40 and set(per_callback.values()) == {1}
    assert outcomes == ["no_answer"] * 40

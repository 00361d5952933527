"""Answering machines on the built-in simulator (issue 18 §4): the machine answers, plays
its greeting over whatever we play, beeps, and records from then on. The verdict comes as
an asynchronous call event; the worker's applier takes the call away from the human menu
(the simulator's network then plays what we redirected it to). The machine's recording
shows what it heard after the beep: the queue's message, or nothing; never the menu."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Attempt, Callback, CallbackEvent
from infra.simulator_models import SimCall
from infra.text_models import SmsMessage
from services.dialer.dialer import Dialer
from services.dialer.machines import MAX_TRIES, RETRY_AFTER, retry_redirects
from telephony.base import ProviderError
from telephony.script import VoiceScript
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import apply_call_events, book, weekday_hours

MESSAGE = "This was Support returning your call. We will try again later."
MENU = "press 1"


@pytest.fixture
def machine_queue(make_queue):  # type: ignore[no-untyped-def]
    """A queue with one-hour slots, due at once, whose machine retries come after 10 minutes."""

    def make(**changes: object) -> str:
        return str(
            make_queue(
                weekly_hours=weekday_hours(60, 2),
                estimated_wait_seconds=0,
                voicemail_text=MESSAGE,
                retry_policy={"rules": {"machine": {"delay_seconds": 600, "max_attempts": 3}}},
                **changes,
            )
        )

    return make


@pytest.fixture
def redirects(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, VoiceScript]]:
    """Every redirect the simulator is asked for (to count them)."""
    simulator = app.extensions["providers"].get("simulator")
    asked: list[tuple[str, VoiceScript]] = []
    original = simulator.redirect_call

    def spy(call_id: str, script: VoiceScript) -> None:
        asked.append((call_id, script))
        original(call_id, script)

    monkeypatch.setattr(simulator, "redirect_call", spy)
    return asked


def ring(dialer: Dialer, phone_sim: SimulatorDriver) -> str:
    assert dialer.dispatch() == 1
    (call,) = [c for c in phone_sim.calls() if c["state"] == "ringing"]
    return str(call["call_id"])


def sim_call(db: Database, call_id: str) -> SimCall:
    with db.read() as session:
        return session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one()


def callback_row(db: Database, ref: str) -> Callback:
    with db.read() as session:
        return session.scalars(select(Callback).where(Callback.ref == ref)).one()


def only_attempt(db: Database) -> Attempt:
    with db.read() as session:
        return session.scalars(select(Attempt)).one()


def answer_as_machine(app: Flask, phone_sim: SimulatorDriver, call_id: str) -> None:
    """The machine answers and beeps; the worker applies the verdict (and redirects); the
    network plays the redirect; the worker applies the call's end."""
    phone_sim.answer(call_id, machine=True)
    assert sim_call(app.extensions["db"], call_id).recording == []  # beeped: recording, nothing said yet
    apply_call_events(app)
    phone_sim.follow_redirects()
    apply_call_events(app)


def test_a_machine_gets_the_message_after_the_beep_never_the_menu_and_the_callback_is_retried(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
    redirects: list[tuple[str, VoiceScript]],
) -> None:
    machine_queue()  # machine_action unset: leave_message, as the queue has a voicemail_text
    ref = book(client, 1).get_json()["ref"]
    call_id = ring(dialer, phone_sim)

    answer_as_machine(app, phone_sim, call_id)

    call = sim_call(db, call_id)
    assert call.state == "completed"
    assert call.recording == [MESSAGE]
    assert not any(MENU in said for said in call.recording)
    assert len(redirects) == 1
    attempt = only_attempt(db)
    assert (attempt.outcome, attempt.answered_by, attempt.machine_handling) == ("machine", "machine", "leave_message")
    assert attempt.menu_choice is None and attempt.machine_handled_at is not None
    row = callback_row(db, ref)
    assert row.state == "retry_wait"
    assert row.next_attempt_at == clock.now() + timedelta(minutes=10)  # the queue's machine rule
    clock.advance(minutes=10)
    assert dialer.dispatch() == 1  # the next attempt goes out


def test_a_message_left_closes_the_callback_when_the_queue_says_close(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    machine_queue(machine_action="leave_message", after_message="close")
    ref = book(client, 1).get_json()["ref"]
    call_id = ring(dialer, phone_sim)

    answer_as_machine(app, phone_sim, call_id)

    assert sim_call(db, call_id).recording == [MESSAGE]
    row = callback_row(db, ref)
    assert (row.state, row.next_attempt_at, row.attempts) == ("unreachable", None, 1)
    with db.read() as session:
        last = session.scalars(select(CallbackEvent).order_by(CallbackEvent.id.desc())).first()
        texts = session.scalars(select(SmsMessage.kind)).all()
    assert last is not None and (last.step, last.reason) == ("give_up", "a message was left on the answering machine")
    assert "unreachable" in texts  # the usual text with a link to book another time
    clock.advance(hours=1)
    assert dialer.dispatch() == 0


def test_hang_up_leaves_no_message_and_retries(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    machine_queue(machine_action="hang_up", after_message="close")  # close applies to a message left only
    ref = book(client, 1).get_json()["ref"]
    call_id = ring(dialer, phone_sim)

    answer_as_machine(app, phone_sim, call_id)

    call = sim_call(db, call_id)
    assert (call.state, call.recording) == ("completed", [])  # nothing said after the beep
    attempt = only_attempt(db)
    assert (attempt.outcome, attempt.machine_handling) == ("machine", "hang_up")
    row = callback_row(db, ref)
    assert row.state == "retry_wait" and row.next_attempt_at == clock.now() + timedelta(minutes=10)


def test_a_verdict_delivered_twice_redirects_the_call_once(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
    redirects: list[tuple[str, VoiceScript]],
) -> None:
    machine_queue()
    book(client, 1)
    call_id = ring(dialer, phone_sim)
    phone_sim.answer(call_id, machine=True)
    # The provider delivers the verdict again (a later sequence: another report to the inbox).
    phone_sim._event(call_id, "answered", answered_by="machine", beep=True)

    apply_call_events(app)
    apply_call_events(app)

    assert [call for call, _ in redirects] == [call_id]
    phone_sim.follow_redirects()
    assert sim_call(db, call_id).recording == [MESSAGE]


def test_without_a_redirect_the_machine_would_record_the_menu(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
) -> None:
    """The control: the recording does show the menu when nothing takes the call away
    (the verdict not applied yet, the menu's silence rules run on)."""
    machine_queue()
    book(client, 1)
    call_id = ring(dialer, phone_sim)
    phone_sim.answer(call_id, machine=True)

    phone_sim.stay_silent(call_id)  # the menu's first gather timed out: it is said once more

    assert any(MENU in said for said in sim_call(db, call_id).recording or [])


def test_a_person_is_never_redirected(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
    redirects: list[tuple[str, VoiceScript]],
) -> None:
    machine_queue()
    book(client, 1)
    call_id = ring(dialer, phone_sim)
    phone_sim.answer(call_id)
    apply_call_events(app)
    assert redirects == [] and phone_sim.follow_redirects() == 0
    assert sim_call(db, call_id).recording is None


def test_a_redirect_the_provider_did_not_take_is_asked_again_until_it_is(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The provider refused the redirect (or the worker died before asking): the worker's
    sweep asks again, RETRY_AFTER apart, and the machine still gets the message, not the menu."""
    simulator = app.extensions["providers"].get("simulator")
    taken = simulator.redirect_call
    refusals = iter([ProviderError("down for a moment")])

    def flaky(call_id: str, script: VoiceScript) -> None:
        if (refusal := next(refusals, None)) is not None:
            raise refusal
        taken(call_id, script)

    monkeypatch.setattr(simulator, "redirect_call", flaky)
    machine_queue()
    ref = book(client, 1).get_json()["ref"]
    call_id = ring(dialer, phone_sim)
    phone_sim.answer(call_id, machine=True)
    apply_call_events(app)  # the verdict: the redirect is refused
    attempt = only_attempt(db)
    assert (attempt.machine_redirected_at, attempt.machine_redirect_tries) == (None, 1)
    assert retry_redirects(db, app.extensions["providers"], clock) == 0  # not before RETRY_AFTER
    clock.advance(seconds=int(RETRY_AFTER.total_seconds()))
    assert retry_redirects(db, app.extensions["providers"], clock) == 1
    assert retry_redirects(db, app.extensions["providers"], clock) == 0  # taken: never asked twice
    assert only_attempt(db).machine_redirected_at == clock.now()
    phone_sim.follow_redirects()
    apply_call_events(app)
    assert sim_call(db, call_id).recording == [MESSAGE]
    assert callback_row(db, ref).state == "retry_wait"


def test_redirects_are_asked_at_most_max_tries_times(
    app: Flask,
    client: FlaskClient,
    machine_queue,  # type: ignore[no-untyped-def]
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    simulator = app.extensions["providers"].get("simulator")
    asked: list[str] = []

    def refuse(call_id: str, script: VoiceScript) -> None:
        asked.append(call_id)
        raise ProviderError("down")

    monkeypatch.setattr(simulator, "redirect_call", refuse)
    machine_queue()
    book(client, 1)
    call_id = ring(dialer, phone_sim)
    phone_sim.answer(call_id, machine=True)
    apply_call_events(app)
    for _ in range(MAX_TRIES + 1):
        clock.advance(seconds=int(RETRY_AFTER.total_seconds()))
        retry_redirects(db, app.extensions["providers"], clock)
    assert asked == [call_id] * MAX_TRIES
    assert only_attempt(db).machine_redirected_at is None

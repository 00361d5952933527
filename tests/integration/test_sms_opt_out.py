"""Opt-outs are honoured by the outbox: a text to a number that texted STOP is never
sent, and stays visible as ``skipped`` with the reason, whatever queued it."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.simulator_models import SimText
from infra.text_models import SmsMessage, SmsOptOut
from services.dialer.dialer import Dialer
from sms.outbox import send_pending_sms
from telephony.simulator_driver import SimulatorDriver
from tests.integration.helpers import apply_call_events, book, phone, weekday_hours
from tests.integration.test_dialer_simulator import ringing


def opt_out(db: Database, clock: FixedClock, number: str) -> None:
    with db.write() as session:
        session.add(SmsOptOut(phone=number, opted_out_at=clock.now(), keyword="stop", provider="simulator"))


def test_the_unreachable_text_is_skipped_for_a_number_that_opted_out(
    app: Flask,
    client: FlaskClient,
    make_queue,
    db: Database,
    clock: FixedClock,
    dialer: Dialer,
    phone_sim: SimulatorDriver,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(weekly_hours=weekday_hours(60, 2), estimated_wait_seconds=0)
    book(client, 1)
    opt_out(db, clock, phone(1))
    for _ in range(3):
        assert dialer.dispatch() == 1
        phone_sim.ring_out(ringing(phone_sim))
        apply_call_events(app)
        clock.advance(minutes=10)
    assert send_pending_sms(db, dialer.providers, clock, dialer.settings) == 0
    with db.read() as session:
        sms = session.scalars(select(SmsMessage)).one()
        assert session.scalars(select(SimText)).all() == []
    assert (sms.kind, sms.status, sms.error) == ("unreachable", "skipped", "the number opted out of texts (STOP)")


def test_other_numbers_still_get_their_texts_and_the_confirmation_of_an_opt_out_goes_out(
    app: Flask, db: Database, clock: FixedClock, dialer: Dialer
) -> None:
    opt_out(db, clock, phone(1))
    with db.write() as session:
        for to, kind in ((phone(1), "reply"), (phone(2), "reply"), (phone(1), "opt_out_confirmation")):
            session.add(SmsMessage(kind=kind, to=to, body="hello", status="pending", created_at=clock.now()))
    assert send_pending_sms(db, dialer.providers, clock, dialer.settings) == 2
    with db.read() as session:
        statuses = [(m.to, m.kind, m.status) for m in session.scalars(select(SmsMessage).order_by(SmsMessage.id))]
    assert statuses == [
        (phone(1), "reply", "skipped"),
        (phone(2), "reply", "sent"),
        (phone(1), "opt_out_confirmation", "sent"),
    ]

"""Inbound calls through the real Twilio adapter: form posts signed with
X-Twilio-Signature over the public URL, TwiML answers parsed as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from twilio.request_validator import RequestValidator

from infra.clock import FixedClock
from infra.db import Database
from infra.models import Callback, IvrOffer
from infra.text_models import SmsMessage
from telephony.twilio_adapter import TwilioTelephony
from tests.integration.helpers import book, follow_link, slots
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response

CALL_SID = "CA" + "b" * 32
CALLER = "+447400123456"
QUEUE_NUMBER = "+441632960001"


@pytest.fixture
def twilio(app: Flask) -> None:
    app.extensions["providers"].register(
        TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=FakeTwilioHttp(json_response(500, {})))
    )


class TwilioCall:
    """One caller on the phone: posts what Twilio posts, signed as Twilio signs."""

    def __init__(self, app: Flask, client: FlaskClient, caller: str = CALLER, sid: str = CALL_SID) -> None:
        self.app, self.client, self.caller, self.sid = app, client, caller, sid
        self.base = app.extensions["settings"].public_base_url
        self.last: ET.Element | None = None

    def post(self, url: str, form: dict[str, str], token: str = AUTH_TOKEN) -> Any:
        signature = RequestValidator(token).compute_signature(url, form)
        return self.client.post(url[len(self.base) :], data=form, headers={"X-Twilio-Signature": signature})

    def fields(self) -> dict[str, str]:
        return {"CallSid": self.sid, "AccountSid": ACCOUNT_SID, "From": self.caller, "To": QUEUE_NUMBER}

    def dial(self, to: str = QUEUE_NUMBER) -> ET.Element:
        form = {**self.fields(), "To": to, "CallStatus": "ringing", "Direction": "inbound"}
        return self._twiml(self.post(f"{self.base}/webhooks/twilio/voice/inbound", form))

    def press(self, digits: str, *, action: str | None = None) -> ET.Element:
        url = action or self.action()
        return self._twiml(self.post(url, {**self.fields(), "Digits": digits, "FinishedOnKey": "#"}))

    def action(self) -> str:
        assert self.last is not None
        gather = self.last.find("Gather")
        assert gather is not None, ET.tostring(self.last)
        return gather.get("action", "")

    def _twiml(self, response: Any) -> ET.Element:
        assert response.status_code == 200, response.get_data(as_text=True)
        assert response.mimetype == "application/xml"
        self.last = ET.fromstring(response.get_data())
        return self.last


def said(twiml: ET.Element) -> str:
    return " ".join(say.text or "" for say in twiml.iter("Say"))


def callbacks(db: Database) -> list[Callback]:
    with db.read() as session:
        return list(session.scalars(select(Callback).order_by(Callback.id)))


def test_offered_a_callback_the_caller_chooses_one_of_three_real_times(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    greeting = call.dial()
    assert "Thank you for calling Support." in said(greeting)
    assert "An agent should be with you in about 8 minutes." in said(greeting)  # 4 callers × 240 s ÷ 2 agents
    gather = greeting.find("Gather")
    assert gather is not None and gather.get("numDigits") == "1" and gather.get("method") == "POST"
    assert all(say.get("language") == "en-GB" for say in greeting.iter("Say"))

    assert "the number you are calling from, press 1" in said(call.press("2"))
    times = said(call.press("1"))
    # Monday 10:00 in London; 30 minutes' lead: the next three quarter hours with seats.
    assert "Press 1 for today at half past ten." in times
    assert "Press 2 for today at quarter to eleven." in times
    assert "Press 3 for today at eleven o'clock." in times

    pick = call.action()
    done = call.press("1")
    assert said(done) == (
        "Thank you. We will call you back today at half past ten, on 0 7 4 0 0, 1 2 3 4 5 6."
        " To get a text confirming this, press 1."
    )

    (callback,) = callbacks(db)
    shown = client.get(f"/api/v1/callbacks/{callback.ref}").get_json()
    assert (shown["source"], shown["kind"], shown["phone"]) == ("ivr", "scheduled", CALLER)
    assert shown["slot_start"] == "2027-01-04T10:30:00+00:00"

    # Twilio retries the same request (a timeout on its side): the same confirmation, one booking.
    again = call.press("1", action=pick)
    assert said(again) == said(done)
    assert len(callbacks(db)) == 1

    texted = call.press("1")
    assert said(texted) == "We have sent you a text. Goodbye." and texted.find("Hangup") is not None
    with db.read() as session:
        (text,) = session.scalars(select(SmsMessage).where(SmsMessage.status == "pending")).all()
        planned = session.scalars(select(SmsMessage.kind).where(SmsMessage.status == "scheduled")).all()
    assert (text.to, text.body) == (
        CALLER,
        "Your callback from Support is booked for Monday 4 January 10:30."
        " Reply CANCEL CALL to cancel or CHANGE for another time.",
    )
    assert callbacks(db)[0].sms_consent is True
    assert planned == ["reminder_15m"]  # consent given: its reminder is planned (24 h before is past)


def test_asap_keeps_the_callers_place(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    call.press("1")
    done = call.press("1")
    assert "You keep your place: we will call you back between 8 and 10 minutes from now" in said(done)
    (callback,) = callbacks(db)
    assert (callback.kind, callback.source) == ("asap", "ivr")


def test_star_keeps_holding_and_puts_the_caller_through(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    held = call.press("*")
    dial = held.find("Dial")
    assert dial is not None and dial.findtext("Number") == "+442079460000"
    assert callbacks(db) == []


def test_a_short_wait_puts_the_caller_straight_through(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000", callers_waiting=0)
    greeting = TwilioCall(app, client).dial()
    assert greeting.find("Gather") is None and greeting.find("Dial") is not None


def test_bad_signatures_are_refused_and_nothing_is_booked(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    url = f"{call.base}/webhooks/twilio/voice/inbound"
    assert call.post(url, call.fields(), token="not-the-token").status_code == 403
    assert client.post("/webhooks/twilio/voice/inbound", data=call.fields()).status_code == 403
    call.dial()
    call.press("2")
    call.press("1")
    pick = call.action()
    assert call.post(pick, {**call.fields(), "Digits": "1"}, token="not-the-token").status_code == 403
    # A state we did not sign: refused before anything is read.
    forged = pick.rsplit("/", 1)[0] + "/eyJxIjoic3VwcG9ydCJ9.forged"
    assert call.post(forged, {**call.fields(), "Digits": "1"}).status_code == 404
    # Our state, but another call's: refused too.
    other = TwilioCall(app, client, sid="CA" + "c" * 32)
    assert other.post(pick, {**other.fields(), "Digits": "1"}).status_code == 404
    assert callbacks(db) == []


def test_an_unknown_number_hears_an_apology(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    answer = TwilioCall(app, client).dial(to="+441632960999")
    assert "this number is not in service" in said(answer) and answer.find("Hangup") is not None
    assert "no queue answers this number" in caplog.text


def test_key_entry_an_invalid_number_then_a_valid_one(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    call.press("2")
    entry = call.press("2")
    assert "enter your phone number, then press the hash key" in said(entry)
    gather = entry.find("Gather")
    assert gather is not None and gather.get("numDigits") == "15"
    assert "that number is not valid" in said(call.press("12345"))
    confirm = call.press("07400999888")
    assert "You entered 0 7 4 0 0, 9 9 9 8 8 8." in said(confirm)
    call.press("1")
    call.press("2")  # the second time read
    (callback,) = callbacks(db)
    assert (callback.phone, callback.kind) == ("+447400999888", "scheduled")


def test_a_withheld_number_goes_straight_to_key_entry_and_three_bad_tries_end_politely(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client, caller="anonymous")
    call.dial()
    assert "enter your phone number" in said(call.press("2"))
    call.press("1")
    call.press("99")
    last = call.press("0")
    assert "that number is not valid" in said(last)
    assert last.find("Dial") is not None and last.find("Gather") is None  # put through: the fallback while open
    assert callbacks(db) == []


def test_no_input_is_asked_once_more_then_put_through(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    again = call.press("")
    assert "Sorry, I did not get that." in said(again) and again.find("Gather") is not None
    fallback = call.press("")
    assert fallback.find("Dial") is not None


def test_a_count_of_callbacks_is_one_after_retries(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    call.press("1")
    ask = call.action()
    for _ in range(3):
        call.press("1", action=ask)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Callback)) == 1


def test_a_seat_taken_meanwhile_is_said_and_the_next_times_are_read(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    call.press("2")
    assert "Press 1 for today at half past ten." in said(call.press("1"))
    for n in (1, 2):  # both seats of 10:30 go to web bookings while the caller listens
        assert book(client, n, "2027-01-04T10:30:00+00:00").status_code == 201
    taken = call.press("1")
    assert "Sorry, that time has just been taken by another caller." in said(taken)
    assert "Press 1 for today at quarter to eleven." in said(taken)
    done = call.press("1")
    assert "today at quarter to eleven" in said(done)
    mine = [c for c in callbacks(db) if c.phone == CALLER]
    assert len(mine) == 1 and mine[0].source == "ivr"


def test_a_caller_with_a_callback_keeps_it(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    assert book(client, 0, "2027-01-04T14:15:00+00:00", phone=CALLER).status_code == 201
    call = TwilioCall(app, client)
    greeting = call.dial()
    assert (
        "You have a callback booked for today at quarter past two. Press 1 to keep it, 2 to change it,"
        " 3 to cancel it and hold now." in said(greeting)
    )
    kept = call.press("1")
    assert "Your callback stays booked." in said(kept) and kept.find("Hangup") is not None
    (callback,) = callbacks(db)
    assert callback.state == "scheduled"


def test_a_caller_with_a_callback_changes_its_time(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    ref = book(client, 0, "2027-01-04T14:15:00+00:00", phone=CALLER).get_json()["ref"]
    call = TwilioCall(app, client)
    call.dial()
    times = call.press("2")
    assert "Press 3 for today at eleven o'clock." in said(times)
    done = call.press("3")
    assert "We will call you back today at eleven o'clock" in said(done)
    shown = client.get(f"/api/v1/callbacks/{ref}").get_json()
    assert (shown["state"], shown["slot_start"]) == ("scheduled", "2027-01-04T11:00:00+00:00")
    assert len(callbacks(db)) == 1


def test_a_caller_with_a_callback_cancels_it_and_holds(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    ref = book(client, 0, "2027-01-04T14:15:00+00:00", phone=CALLER).get_json()["ref"]
    call = TwilioCall(app, client)
    call.dial()
    held = call.press("3")
    assert "Your callback is cancelled." in said(held) and held.find("Dial") is not None
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    seats = {s["start"]: s["seats_left"] for s in slots(client)}
    assert seats["2027-01-04T14:15:00+00:00"] == 2  # the seat is given back


def test_text_me_a_link_queues_one_text(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    call.dial()
    call.press("3")
    ask = call.action()
    for _ in range(2):  # and a retry of the same request
        done = call.press("1", action=ask)
        assert "We have sent you a text with a link to choose a time." in said(done)
    with db.read() as session:
        texts = session.scalars(select(SmsMessage)).all()
    assert len(texts) == 1 and texts[0].to == CALLER and follow_link(client, texts[0].body)[0] == "/book/support"
    assert callbacks(db) == []


def test_when_closed_only_times_and_a_link_are_offered(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000", callers_waiting=0)
    clock.set(datetime(2027, 1, 4, 19, 0, tzinfo=UTC))  # Monday evening, closed
    call = TwilioCall(app, client)
    greeting = call.dial()
    assert "We are closed now." in said(greeting) and "press 1" not in said(greeting).lower()
    assert "Sorry, I did not get that." in said(call.press("1"))  # no ASAP while closed
    call.press("2")
    times = said(call.press("1"))
    assert "Press 1 for tomorrow at nine o'clock." in times


def test_times_on_the_day_the_clocks_go_forward_are_read_in_local_time(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    hours = [{"weekday": "sunday", "opens": "00:00", "closes": "04:00", "slot_minutes": 60, "capacity": 1}]
    make_queue(agent_target="+442079460000", weekly_hours=hours)
    clock.set(datetime(2027, 3, 28, 0, 10, tzinfo=UTC))  # Sunday 28 March 2027, 00:10 GMT; at 01:00 it is 02:00 BST
    call = TwilioCall(app, client)
    call.dial()
    call.press("2")
    times = said(call.press("1"))
    # 01:00 does not exist that night: the first times are 02:00 and 03:00 BST (01:00 and 02:00 UTC).
    assert "Press 1 for today at two o'clock" in times and "Press 2 for today at three o'clock" in times
    assert "Press 3 for Saturday at midnight." in times  # next Sunday 00:00: the midnight that ends Saturday
    call.press("1")
    (callback,) = callbacks(db)
    shown = client.get(f"/api/v1/callbacks/{callback.ref}").get_json()
    assert shown["slot_start"] == "2027-03-28T02:00:00+01:00"


def test_menus_can_be_answered_aloud(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    call = TwilioCall(app, client)
    gather = call.dial().find("Gather")
    assert gather is not None and gather.get("input") == "dtmf speech" and gather.get("language") == "en-GB"
    spoken = {**call.fields(), "SpeechResult": "Two, please.", "Confidence": "0.91"}
    answer = call._twiml(call.post(call.action(), spoken))
    assert "the number you are calling from, press 1" in said(answer)
    entry = call._twiml(call.post(call.action(), {**call.fields(), "SpeechResult": "Another number: two."}))
    entry_gather = entry.find("Gather")
    assert entry_gather is not None and entry_gather.get("input") == "dtmf speech"  # keyed in, or said
    assert entry_gather.get("numDigits") == "15"

    def say(words: str) -> ET.Element:
        return call._twiml(call.post(call.action(), {**call.fields(), "SpeechResult": words, "Confidence": "0.7"}))

    confirm = say("Oh seven four double oh, one two three, four five six.")
    assert "You entered 0 7 4 0 0, 1 2 3 4 5 6." in said(confirm)
    times = say("One.")
    assert "Press 3 for today at eleven o'clock." in said(times)
    later = say("four")
    assert "Press 1 for today at quarter past eleven." in said(later)
    assert said(say("Nine, please")) == said(later)  # 9: these again
    done = say("Number three")
    assert "We will call you back today at quarter to twelve, on 0 7 4 0 0, 1 2 3 4 5 6." in said(done)
    (callback,) = callbacks(db)
    assert callback.phone == "+447400123456"


def test_a_hold_nobody_answers_is_offered_the_callback_again(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000", offer_repeat_seconds=45)
    call = TwilioCall(app, client)
    call.dial()
    held = call.press("*")
    dial = held.find("Dial")
    assert dial is not None and dial.get("timeout") == "45" and dial.get("method") == "POST"
    missed = call._twiml(call.post(dial.get("action", ""), {**call.fields(), "DialCallStatus": "no-answer"}))
    assert "Sorry to keep you waiting: all our agents are still busy." in said(missed)
    assert "To keep holding, press star." in said(missed)
    call.press("1")
    assert "we will call you back between 8 and 10 minutes from now" in said(call.press("1"))


def test_a_short_wait_that_grows_past_the_threshold_is_offered_a_callback(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000", callers_waiting=0, offer_threshold_seconds=90)
    call = TwilioCall(app, client)
    dial = call.dial().find("Dial")
    assert dial is not None and dial.get("timeout") == "90"  # ring the agents for as long as the threshold
    with db.read() as session:
        assert session.scalars(select(IvrOffer)).all() == []  # not offered on arrival
    busy = call._twiml(call.post(dial.get("action", ""), {**call.fields(), "DialCallStatus": "busy"}))
    assert "To choose a time for a callback, press 2." in said(busy)
    with db.read() as session:  # the reports' take rate by offer point: offered while holding
        [offer] = session.scalars(select(IvrOffer)).all()
    assert (offer.offer_point, offer.accepted_at) == ("holding", None)


def test_a_caller_who_reaches_an_agent_has_their_waiting_callback_closed(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000")
    ref = book(client, 0, "2027-01-04T14:15:00+00:00", phone=CALLER).get_json()["ref"]
    call = TwilioCall(app, client)
    call.dial()
    call.press("")
    held = call.press("")  # silence twice at "you have a callback": put through
    dial = held.find("Dial")
    assert dial is not None
    ended = call.post(
        dial.get("action", ""), {**call.fields(), "DialCallStatus": "completed", "DialCallDuration": "95"}
    )
    assert ended.status_code == 200
    shown = client.get(f"/api/v1/callbacks/{ref}").get_json()
    assert shown["state"] == "cancelled"
    with db.read() as session:
        (callback,) = session.scalars(select(Callback)).all()
        assert "reached an agent by calling in" in (callback.events[-1].reason or "")


def test_the_wait_and_the_offer_follow_twilios_queue_figures_when_they_come(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    # Our own figures say no wait at all (0 callers): Twilio's average wait says 20 minutes.
    make_queue(agent_target="+442079460000", callers_waiting=0)
    call = TwilioCall(app, client)
    queued = {"QueuePosition": "4", "QueueTime": "12", "AvgQueueTime": "1200", "CurrentQueueSize": "6"}
    form = {**call.fields(), "CallStatus": "ringing", "Direction": "inbound", **queued}
    greeting = call._twiml(call.post(f"{call.base}/webhooks/twilio/voice/inbound", form))
    assert "An agent should be with you in about 20 minutes." in said(greeting)
    assert greeting.find("Gather") is not None and greeting.find("Dial") is None
    # Signed like every webhook: the same figures with a wrong signature change nothing.
    forged = call.post(f"{call.base}/webhooks/twilio/voice/inbound", form, token="not-the-token")
    assert forged.status_code == 403

    call.press("1")  # ASAP
    done = call._twiml(call.post(call.action(), {**call.fields(), "Digits": "1", **queued}))
    assert "we will call you back between 20 and 25 minutes from now" in said(done)
    (callback,) = callbacks(db)
    assert callback.kind == "asap"


def test_a_caller_who_waited_in_twilios_queue_rings_only_what_is_left_of_the_threshold(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(agent_target="+442079460000", callers_waiting=0, offer_threshold_seconds=90)
    call = TwilioCall(app, client)
    form = {**call.fields(), "CallStatus": "ringing", "QueuePosition": "0", "QueueTime": "60"}
    dial = call._twiml(call.post(f"{call.base}/webhooks/twilio/voice/inbound", form)).find("Dial")
    assert dial is not None and dial.get("timeout") == "30"
    busy = {**call.fields(), "DialCallStatus": "busy", "AvgQueueTime": "600"}
    again = call._twiml(call.post(dial.get("action", ""), busy))
    assert "An agent should be with you in about 10 minutes." in said(again) and again.find("Gather") is not None


def test_a_queues_recorded_prompts_are_played_and_the_rest_spoken(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]
) -> None:
    welcome, goodbye = "https://cdn.example.com/support/welcome.mp3", "https://cdn.example.com/support/bye.mp3"
    make_queue(agent_target="+442079460000", prompt_audio={"welcome": welcome, "goodbye": goodbye})
    call = TwilioCall(app, client)
    greeting = call.dial()
    gather = greeting.find("Gather")
    assert gather is not None
    assert [child.tag for child in gather] == ["Play", "Say", "Say"]
    assert gather.findtext("Play") == welcome
    assert "Thank you for calling" not in said(greeting)  # the recording says it
    assert "An agent should be with you in about 8 minutes." in said(greeting)

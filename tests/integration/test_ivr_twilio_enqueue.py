"""Holding inbound callers in a Twilio <Enqueue> queue (hold_mode enqueue), through the real
Twilio adapter: form posts signed with X-Twilio-Signature, TwiML answers parsed as XML."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.clock import FixedClock
from infra.db import Database
from infra.inbound_models import InboundCall
from tests.integration.helpers import book
from tests.integration.test_ivr_twilio import CALLER, TwilioCall, callbacks, said, twilio  # noqa: F401

AGENTS = "+442079460000"


def enqueue_of(twiml: ET.Element) -> ET.Element:
    enqueue = twiml.find("Enqueue")
    assert enqueue is not None, ET.tostring(twiml)
    return enqueue


def poll(call: TwilioCall, wait_url: str, position: int, waited: int) -> ET.Element:
    """Twilio asking the wait URL, with the caller's place in the queue."""
    # No AvgQueueTime (a new queue has no average yet): the place counts our handle time.
    figures = {"QueuePosition": str(position), "QueueTime": str(waited), "CurrentQueueSize": "4"}
    figures.update(QueueSid="QU" + "f" * 32, CallStatus="in-progress")
    return call._twiml(call.post(wait_url, {**call.fields(), **figures}))


def left(call: TwilioCall, action_url: str, result: str) -> ET.Element:
    """Twilio asking the Enqueue's action URL once the caller is out of the queue."""
    form = {**call.fields(), "QueueResult": result, "QueueSid": "QU" + "f" * 32, "QueueTime": "70"}
    return call._twiml(call.post(action_url, form))


def holding_in_the_queue(call: TwilioCall) -> ET.Element:
    call.dial()
    return enqueue_of(call.press("*"))


def presence(db: Database) -> InboundCall:
    with db.read() as session:
        (row,) = session.scalars(select(InboundCall)).all()
        return row


def test_a_caller_who_holds_is_enqueued_in_the_twilio_queue(
    app: Flask,
    client: FlaskClient,
    db: Database,
    clock: FixedClock,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue", twilio_queue="Support line")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    assert enqueue.text == "Support line" and call.last is not None and call.last.find("Dial") is None
    assert (enqueue.get("method"), enqueue.get("waitUrlMethod")) == ("POST", "POST")
    assert enqueue.get("waitUrl", "").startswith(f"{call.base}/webhooks/twilio/voice/ivr/")
    assert enqueue.get("action", "").startswith(f"{call.base}/webhooks/twilio/voice/ivr/")
    assert "Please hold, we are putting you through." in said(call.last)
    # On the line with us while queued, for as long as an agent may be talking to them unannounced.
    row = presence(db)
    assert row.stage == "queued" and row.presumed_until - clock.now() == timedelta(hours=2)


def test_the_queue_name_defaults_to_the_queues_key(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    assert holding_in_the_queue(TwilioCall(app, client)).text == "support"


def test_the_wait_url_holds_then_says_the_place_and_offers_once_the_threshold_is_reached(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue", offer_repeat_seconds=60)
    call = TwilioCall(app, client)
    wait_url = holding_in_the_queue(call).get("waitUrl", "")
    early = poll(call, wait_url, position=3, waited=5)
    assert [child.tag for child in early] == ["Pause"] and early[0].get("length") == "30"
    assert presence(db).stage == "queued"
    offer = poll(call, wait_url, position=3, waited=61)
    gather = offer.find("Gather")
    assert gather is not None and offer.find("Enqueue") is None and offer.find("Dial") is None
    assert "There are 2 callers ahead of you." in said(offer)
    assert "An agent should be with you in about 6 minutes." in said(offer)  # 3rd in line × 240 s ÷ 2 agents
    assert "To keep holding, press star." in said(offer)
    # * keeps the caller's place: no Enqueue, no Dial; a pause and Twilio asks the wait URL again.
    kept = call.press("*")
    assert [child.tag for child in kept] == ["Pause"]
    assert presence(db).stage == "queued"


def test_pressing_1_in_the_queue_books_asap_leaves_and_the_action_url_says_the_booking(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    poll(call, enqueue.get("waitUrl", ""), position=3, waited=60)
    assert "the number you are calling from, press 1" in said(call.press("1"))
    booked = call.press("1")
    assert [child.tag for child in booked] == ["Leave"]
    (callback,) = callbacks(db)
    assert (callback.kind, callback.source, callback.phone) == ("asap", "ivr", CALLER)

    after = left(call, enqueue.get("action", ""), "leave")
    # The keypresses' requests carry no queue figures: the place the offer told counts (3rd × 240 s ÷ 2).
    assert "You keep your place: we will call you back between 6 and 8 minutes from now" in said(after)
    assert "To get a text confirming this, press 1." in said(after) and after.find("Gather") is not None
    assert presence(db).stage == "ivr"
    texted = call.press("1")
    assert said(texted) == "We have sent you a text. Goodbye." and texted.find("Hangup") is not None
    assert callbacks(db)[0].sms_consent is True
    # Twilio retrying the action URL books nothing more and says the same.
    assert said(left(call, enqueue.get("action", ""), "leave")) == said(after)
    assert len(callbacks(db)) == 1


def test_a_time_booked_on_another_number_in_the_queue_is_said_after_leaving(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    poll(call, enqueue.get("waitUrl", ""), position=2, waited=60)
    call.press("2")  # choose a time
    call.press("2")  # another number
    call.press("07400999888#")
    assert "Press 1 for today at half past ten." in said(call.press("1"))
    assert [child.tag for child in call.press("1")] == ["Leave"]
    after = left(call, enqueue.get("action", ""), "leave")
    assert "We will call you back today at half past ten, on 0 7 4 0 0, 9 9 9 8 8 8." in said(after)


def test_a_text_link_in_the_queue_leaves_it_and_the_action_url_says_it_was_sent(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    poll(call, enqueue.get("waitUrl", ""), position=2, waited=60)
    call.press("3")
    assert [child.tag for child in call.press("1")] == ["Leave"]
    after = left(call, enqueue.get("action", ""), "leave")
    assert "We have sent you a text with a link to choose a time." in said(after) and after.find("Hangup") is not None


def test_an_agent_conversation_out_of_the_queue_closes_the_callers_waiting_callback(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    ref = book(client, 0, "2027-01-04T14:15:00+00:00", phone=CALLER).get_json()["ref"]
    call = TwilioCall(app, client)
    call.dial()  # "you have a callback": 3 cancels it and holds; silence twice puts the caller in line
    call.press("")
    enqueue = enqueue_of(call.press(""))
    assert presence(db).stage == "queued"  # the dialer does not ring them meanwhile (never_ring_on_the_line)
    ended = left(call, enqueue.get("action", ""), "bridged")
    assert [child.tag for child in ended] == ["Hangup"]
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "cancelled"
    with db.read() as session:
        (callback,) = callbacks(db)
        events = session.merge(callback).events
        assert "reached an agent by calling in" in (events[-1].reason or "")
    assert presence(db).ended_at is not None


def test_a_caller_who_hangs_up_in_the_queue_hears_nothing_more(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    assert [child.tag for child in left(call, enqueue.get("action", ""), "hangup")] == ["Hangup"]
    assert presence(db).ended_at is not None and callbacks(db) == []


def test_a_full_or_failed_queue_rings_the_agents_instead(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    for result in ("queue-full", "error", "system-error", "redirected"):
        dial = left(call, enqueue.get("action", ""), result).find("Dial")
        assert dial is not None and dial.findtext("Number") == AGENTS and call.last is not None
        assert call.last.find("Enqueue") is None


def test_a_failed_queue_without_agents_to_ring_apologises(
    app: Flask,
    client: FlaskClient,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=None, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    sorry = left(call, enqueue.get("action", ""), "queue-full")
    assert "nobody can take your call right now" in said(sorry) and sorry.find("Hangup") is not None


def test_the_wait_and_action_urls_are_signed_and_bound_to_the_call(
    app: Flask,
    client: FlaskClient,
    db: Database,
    make_queue,
    twilio: None,  # type: ignore[no-untyped-def]  # noqa: F811
) -> None:
    make_queue(agent_target=AGENTS, hold_mode="enqueue")
    call = TwilioCall(app, client)
    enqueue = holding_in_the_queue(call)
    form = {**call.fields(), "QueuePosition": "1", "QueueTime": "60"}
    assert call.post(enqueue.get("waitUrl", ""), form, token="not-the-token").status_code == 403
    other = TwilioCall(app, client, sid="CA" + "c" * 32)
    assert other.post(enqueue.get("action", ""), {**other.fields(), "QueueResult": "bridged"}).status_code == 404

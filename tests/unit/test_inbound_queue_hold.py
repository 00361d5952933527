"""The inbound flow holding callers in the provider's own queue (Twilio <Enqueue>): pure
steps, time passed in, the queue figures as the wait URL brings them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from ivr_flows import inbound
from scheduler.errors import DomainError
from scheduler.presence import ENDED, in_ivr
from scheduler.presence import in_queue as in_queue_presence
from services.inbound_presence import after_script
from telephony.base import QueueData, QueueExit
from telephony.script import Connect, Enqueue, Gather, Hangup, Leave, Pause, VoiceScript, script
from tests.unit.test_inbound_flow import NOW, facts, heard, url_for

CALLER = "+447400123456"


def in_queue(taken: inbound.Booked | None = None, texted_link: bool = False, **changes: object) -> inbound.Facts:
    return replace(facts(enqueue_as="support-line", **changes), taken=taken, texted_link=texted_link)


def enqueued(short_wait: bool = False) -> tuple[inbound.Reply, Enqueue]:
    """A caller who pressed * at the offer (or, ``short_wait``, was put in line at entry)."""
    if short_wait:
        reply = inbound.answer("CALL1", CALLER, in_queue(estimated_wait_seconds=20), NOW, url_for)
    else:
        offer = inbound.answer("CALL1", CALLER, in_queue(), NOW, url_for)
        assert offer.state is not None
        reply = inbound.advance(offer.state, "*", in_queue(), NOW, url_for)
    (enqueue,) = [a for a in reply.script.actions if isinstance(a, Enqueue)]
    return reply, enqueue


def queued_state(first_offer: int = 60) -> inbound.IvrState:
    return inbound.IvrState(
        queue="support", call_id="CALL1", step="queued", caller=CALLER, queued=True, first_offer=first_offer
    )


def poll(waited: int, position: int | None = 3, state: inbound.IvrState | None = None, **changes: object):  # type: ignore[no-untyped-def]
    data = QueueData(position=position, waited_seconds=waited, size=5)
    return inbound.waiting(state or queued_state(), in_queue(queue_data=data, **changes), NOW, url_for)


def only_a_pause(reply: inbound.Reply) -> int:
    (pause,) = reply.script.actions
    assert isinstance(pause, Pause)
    return pause.seconds


def test_holding_puts_the_caller_in_the_providers_queue_with_a_wait_and_an_action_url() -> None:
    reply, enqueue = enqueued()
    assert enqueue.name == "support-line"
    assert enqueue.wait_url == url_for(replace(reply.state, step="queued")) == "https://example.test/ivr/queued"  # type: ignore[arg-type]
    assert enqueue.action_url == "https://example.test/ivr/dequeued"
    assert "Please hold, we are putting you through." in heard(reply)
    assert not any(isinstance(a, Connect) for a in reply.script.actions)
    assert reply.state is not None and reply.state.queued and reply.state.first_offer == 60  # declined: the interval


def test_a_short_wait_at_entry_is_enqueued_and_offered_once_the_threshold_is_reached() -> None:
    reply, _ = enqueued(short_wait=True)
    assert reply.state is not None and reply.state.first_offer == 60


def test_without_a_provider_queue_holding_still_rings_the_agents() -> None:
    offer = inbound.answer("CALL1", CALLER, facts(), NOW, url_for)
    assert offer.state is not None
    held = inbound.advance(offer.state, "*", facts(), NOW, url_for)
    assert any(isinstance(a, Connect) for a in held.script.actions)
    assert not any(isinstance(a, Enqueue) for a in held.script.actions)


def test_the_state_in_the_queue_survives_its_json_form() -> None:
    state = replace(queued_state(45), queue_data=QueueData(position=3, waited_seconds=61, size=5))
    assert inbound.IvrState.from_json(state.to_json()) == state
    with pytest.raises(ValueError):
        inbound.IvrState.from_json({**state.to_json(), "d": [1, "two", None, None]})
    assert inbound.IvrState.from_json(replace(state, queued=False, first_offer=0).to_json()).queued is False


@pytest.mark.parametrize(("waited", "hold"), [(0, 30), (30, 30), (45, 15), (59, 1)])
def test_before_the_first_offer_the_wait_url_holds_up_to_it(waited: int, hold: int) -> None:
    assert only_a_pause(poll(waited)) == hold


def test_at_the_threshold_the_wait_url_says_the_place_and_offers_the_menu() -> None:
    reply = poll(61, position=3)
    (gather,) = reply.script.actions
    assert isinstance(gather, Gather) and gather.action_url == "https://example.test/ivr/offer"
    said = heard(reply)
    assert "There are 2 callers ahead of you." in said
    assert "An agent should be with you in about 15 minutes." in said  # 3rd in line × 300 s ÷ 1 agent
    assert "To keep holding, press star." in said
    assert reply.state is not None and reply.state.queued and reply.state.step == "offer"


def test_the_next_caller_hears_so() -> None:
    assert "Your call is next in line." in heard(poll(60, position=1))
    assert "There is 1 caller ahead of you." in heard(poll(60, position=2))


def test_the_offer_repeats_every_interval_and_not_in_between() -> None:
    assert isinstance(poll(120).script.actions[0], Gather)
    assert only_a_pause(poll(75)) == 30
    assert only_a_pause(poll(100)) == 20
    assert isinstance(poll(181, offer_repeat_seconds=60).script.actions[0], Gather)


def test_keep_holding_in_the_queue_neither_enqueues_nor_connects_it_holds_to_the_next_offer() -> None:
    offer = poll(60)
    assert offer.state is not None
    held = inbound.advance(offer.state, "*", in_queue(queue_data=QueueData(waited_seconds=64)), NOW, url_for)
    assert only_a_pause(held) == 30  # at most 30 s at a time: then the wait URL is asked again
    assert held.state is None
    later = inbound.advance(offer.state, "*", in_queue(queue_data=QueueData(waited_seconds=105)), NOW, url_for)
    assert only_a_pause(later) == 15  # up to the next offer, at 120 s


def test_withheld_callbacks_in_the_queue_say_why_and_hold_on() -> None:
    reply = poll(60, callbacks_withheld="paused")
    assert "We are not taking callback requests at the moment." in heard(reply)
    assert isinstance(reply.script.actions[-1], Pause)
    assert not any(isinstance(a, Gather | Enqueue | Connect) for a in reply.script.actions)


def asap_in_queue() -> inbound.Reply:
    offer = poll(60)
    assert offer.state is not None
    number = inbound.advance(offer.state, "1", in_queue(), NOW, url_for)
    assert number.state is not None and number.state.queued
    return inbound.advance(number.state, "1", in_queue(), NOW, url_for)


def test_the_asap_callback_keeps_the_place_the_offer_told_though_the_keypress_brings_no_figures() -> None:
    booking = asap_in_queue()  # the offer at position 3: 3 × 300 s ÷ 1 agent
    assert isinstance(booking.effect, inbound.Book) and booking.effect.estimated_wait_seconds == 900


def test_booking_in_the_queue_leaves_it_at_once() -> None:
    booking = asap_in_queue()
    assert isinstance(booking.effect, inbound.Book) and booking.effect.kind == "asap"
    assert booking.state is not None
    booked = inbound.Booked("asap", NOW + timedelta(minutes=8), CALLER, NOW + timedelta(minutes=10), "ABC")
    after = inbound.resolve(booking.state, booking.effect, booked, in_queue(), NOW, url_for)
    assert after.script == VoiceScript((Leave(),)) and after.state is None


def test_a_text_link_in_the_queue_leaves_it_too() -> None:
    state = replace(queued_state(), step="number", choice="link")
    asked = inbound.advance(state, "1", in_queue(), NOW, url_for)
    assert isinstance(asked.effect, inbound.TextLink) and asked.state is not None
    after = inbound.resolve(asked.state, asked.effect, None, in_queue(), NOW, url_for)
    assert after.script == VoiceScript((Leave(),))


def test_a_failed_booking_in_the_queue_keeps_the_caller_there() -> None:
    booking = asap_in_queue()
    assert booking.state is not None and booking.effect is not None
    failed = inbound.Failed(DomainError("nope"))
    after = inbound.resolve(booking.state, booking.effect, failed, in_queue(), NOW, url_for)
    assert "Sorry, we could not book that callback." in heard(after)
    assert isinstance(after.script.actions[-1], Pause)


def dequeued_state() -> inbound.IvrState:
    return inbound.IvrState(queue="support", call_id="CALL1", step="dequeued", caller=CALLER)


def test_having_left_the_queue_the_caller_hears_the_booking_and_is_offered_the_text() -> None:
    taken = inbound.Booked("asap", NOW + timedelta(minutes=8), CALLER, NOW + timedelta(minutes=10), "ABC")
    reply = inbound.dequeued(dequeued_state(), QueueExit.LEFT, in_queue(taken=taken), NOW, url_for)
    said = heard(reply)
    assert "You keep your place: we will call you back between 8 and 10 minutes from now" in said
    assert "To get a text confirming this, press 1." in said
    assert reply.state is not None and reply.state.step == "text_offer" and not reply.state.queued
    texted = inbound.advance(reply.state, "1", in_queue(), NOW, url_for)
    assert isinstance(texted.effect, inbound.TextConfirmation) and texted.effect.phone == CALLER


def test_having_left_the_queue_after_a_link_the_caller_hears_it_was_sent() -> None:
    reply = inbound.dequeued(dequeued_state(), QueueExit.LEFT, in_queue(texted_link=True), NOW, url_for)
    assert "We have sent you a text with a link" in heard(reply)
    assert isinstance(reply.script.actions[-1], Hangup)


def test_an_agent_conversation_from_the_queue_closes_a_waiting_callback_and_hangs_up() -> None:
    existing = inbound.ExistingCallback("ABC", "asap", NOW + timedelta(minutes=5))
    reply = inbound.dequeued(dequeued_state(), QueueExit.BRIDGED, in_queue(existing=existing), NOW, url_for)
    assert reply.script == VoiceScript((Hangup(),)) and reply.effect == inbound.Resolve("ABC")
    assert inbound.dequeued(dequeued_state(), QueueExit.BRIDGED, in_queue(), NOW, url_for).effect is None


def test_a_caller_who_hung_up_in_the_queue_hears_nothing() -> None:
    reply = inbound.dequeued(dequeued_state(), QueueExit.HUNG_UP, in_queue(), NOW, url_for)
    assert reply.script == VoiceScript((Hangup(),)) and reply.effect is None


def test_a_failed_queue_rings_the_agents_instead_or_apologises_without_any() -> None:
    reply = inbound.dequeued(dequeued_state(), QueueExit.FAILED, in_queue(), NOW, url_for)
    (connect,) = [a for a in reply.script.actions if isinstance(a, Connect)]
    assert connect.target == "+442079460000" and not any(isinstance(a, Enqueue) for a in reply.script.actions)
    alone = inbound.dequeued(dequeued_state(), QueueExit.FAILED, in_queue(agent_target=None), NOW, url_for)
    assert "nobody can take your call right now" in heard(alone)


def test_where_the_caller_is_after_a_script_in_or_out_of_the_queue() -> None:
    wait = Enqueue("support", "https://example.test/w", "https://example.test/a")
    assert after_script(script(wait), NOW) == in_queue_presence(NOW)
    assert after_script(script(Pause(30)), NOW, queued=True).stage == "queued"
    assert after_script(script(Gather((), "https://example.test/g")), NOW, queued=True).stage == "queued"
    assert after_script(script(Leave()), NOW, queued=True) == in_ivr(NOW)  # the action URL comes next
    assert after_script(script(Hangup()), NOW, queued=True) == ENDED
    assert after_script(script(Pause(30)), NOW) == in_ivr(NOW)

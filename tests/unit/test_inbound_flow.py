"""The inbound flow as pure steps: state in, keys in, script and effect out."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ivr_flows import inbound
from ivr_flows.speech import spoken_key
from scheduler.errors import PhoneInvalid, SlotFull
from telephony.base import QueueData
from telephony.script import Connect, Gather, Hangup, Play, Say

NOW = datetime(2027, 1, 4, 10, 0, tzinfo=UTC)
SLOTS = tuple(NOW + timedelta(minutes=30 + 15 * i) for i in range(7))


def facts(**changes: object) -> inbound.Facts:
    queue = dict(
        key="support",
        name="Support",
        timezone="Europe/London",
        language="en",
        region="GB",
        allowed_countries=(),
        agent_target="+442079460000",
        open_now=True,
        estimated_wait_seconds=480,
        offer_threshold_seconds=60,
        offer_at_entry=False,
    )
    existing = changes.pop("existing", None)
    slots = changes.pop("slots", SLOTS)
    queue_data = changes.pop("queue_data", None)
    queue.update(changes)
    return inbound.Facts(inbound.QueueFacts(**queue), existing, slots, queue_data)  # type: ignore[arg-type]


def url_for(state: inbound.IvrState) -> str:
    return "https://example.test/ivr/" + state.step


def heard(reply: inbound.Reply) -> str:
    texts = []
    for action in reply.script.actions:
        if isinstance(action, Say):
            texts.append(action.text)
        if isinstance(action, Gather):
            texts.extend(p.text for p in action.prompt if isinstance(p, Say))
    return " ".join(texts)


def start(caller: str | None = "+447400123456", **changes: object) -> inbound.Reply:
    return inbound.answer("CALL1", caller, facts(**changes), NOW, url_for)


def press(reply: inbound.Reply, digits: str | None, **changes: object) -> inbound.Reply:
    assert reply.state is not None
    return inbound.advance(reply.state, digits, facts(**changes), NOW, url_for)


def test_the_state_survives_its_json_form() -> None:
    state = inbound.IvrState(
        queue="support",
        call_id="CA1",
        step="slots",
        language="fr",
        caller="+447400123456",
        chosen="+447400123456",
        choice="time",
        offered=(1, 2, 3),
        page=2,
        tries=1,
        existing_ref="ABCDEFGHJK",
    )
    assert inbound.IvrState.from_json(state.to_json()) == state
    with pytest.raises(ValueError):
        inbound.IvrState.from_json({"q": "support", "c": "CA1", "s": "slots", "o": "nope"})


def test_a_long_wait_is_announced_and_the_offer_made() -> None:
    reply = start()
    assert "An agent should be with you in about 8 minutes." in heard(reply)
    assert reply.state is not None and reply.state.step == "offer"
    gather = reply.script.actions[-1]
    assert isinstance(gather, Gather) and gather.action_url == "https://example.test/ivr/offer"


def test_a_short_wait_is_put_through_unless_the_queue_offers_at_entry() -> None:
    through = start(estimated_wait_seconds=30)
    ring = through.script.actions[-1]
    assert isinstance(ring, Connect) and through.state is not None and through.state.step == "holding"
    assert ring.timeout_seconds == 60 and ring.status_url == "https://example.test/ivr/holding"  # the threshold
    assert start(estimated_wait_seconds=30, offer_at_entry=True).state is not None


def test_the_times_are_read_three_at_a_time_and_4_reads_later_ones() -> None:
    times = press(press(start(), "2"), "1")
    assert "Press 1 for today at half past ten. Press 2 for today at quarter to eleven." in heard(times)
    later = press(times, "4")
    assert "Press 1 for today at quarter past eleven." in heard(later)
    last = press(later, "4")
    assert "Press 1 for today at noon." in heard(last) and "Press 2" not in heard(last)
    wrapped = press(last, "4")
    assert "There are no later times." in heard(wrapped) and "Press 1 for today at half past ten." in heard(wrapped)
    assert heard(press(times, "9")) == heard(times)


def test_picking_a_time_asks_for_the_booking_and_resolve_confirms_it() -> None:
    times = press(press(start(), "2"), "1")
    picked = press(times, "2")
    assert picked.effect == inbound.Book("+447400123456", "scheduled", slot_start=SLOTS[1])
    assert picked.state is not None
    booked = inbound.Booked("scheduled", SLOTS[1], "+447400123456")
    done = inbound.resolve(picked.state, picked.effect, booked, facts(), NOW, url_for)
    assert "We will call you back today at quarter to eleven" in heard(done)
    assert "To get a text confirming this, press 1." in heard(done)  # a mobile number
    texted = press(done, "1")
    assert texted.effect == inbound.TextConfirmation(
        "+447400123456",
        "Your callback from Support is booked for Monday 4 January 10:45."
        " Reply CANCEL CALL to cancel or CHANGE for another time.",
    )
    assert isinstance(press(done, "2").script.actions[-1], Hangup)
    assert isinstance(press(done, None).script.actions[-1], Hangup)  # silence: booked, so just goodbye


def test_a_landline_hears_the_confirmation_and_goodbye() -> None:
    state = inbound.IvrState(queue="support", call_id="C", step="slots", chosen="+442079460123", offered=(1,))
    booked = inbound.Booked("scheduled", SLOTS[0], "+442079460123")
    done = inbound.resolve(state, inbound.Book("+442079460123", "scheduled"), booked, facts(), NOW, url_for)
    assert heard(done).endswith("on 0 2 0, 7 9 4 6, 0 1 2 3. Goodbye.") and isinstance(done.script.actions[-1], Hangup)


def test_a_full_seat_reads_the_next_times() -> None:
    picked = press(press(press(start(), "2"), "1"), "1")
    assert picked.state is not None and picked.effect is not None
    after = inbound.resolve(
        picked.state, picked.effect, inbound.Failed(SlotFull("full", {})), facts(slots=SLOTS[1:]), NOW, url_for
    )
    assert "has just been taken" in heard(after) and "Press 1 for today at quarter to eleven." in heard(after)


def test_a_number_refused_at_booking_is_asked_for_again() -> None:
    picked = press(press(start(), "1"), "1")
    assert picked.state is not None and picked.effect is not None
    after = inbound.resolve(picked.state, picked.effect, inbound.Failed(PhoneInvalid("no", {})), facts(), NOW, url_for)
    assert after.state is not None and after.state.step == "key_entry"


def test_no_times_at_all_puts_the_caller_through_while_open() -> None:
    reply = press(press(start(), "2"), "1", slots=())
    assert "no free times" in heard(reply) and isinstance(reply.script.actions[-1], Connect)


def test_without_an_agent_target_holding_ends_with_an_apology() -> None:
    reply = press(start(agent_target=None), "*", agent_target=None)
    assert "nobody can take your call" in heard(reply) and isinstance(reply.script.actions[-1], Hangup)


def test_an_existing_asap_callback_is_read_as_a_wait() -> None:
    existing = inbound.ExistingCallback("ABCDEFGHJK", "asap", NOW + timedelta(minutes=5))
    reply = start(existing=existing)
    assert "You have asked us to call you back in about 5 minutes." in heard(reply)
    assert press(reply, "3", existing=existing).effect == inbound.Cancel("ABCDEFGHJK")


def test_closed_queue_speaks_russian_and_french() -> None:
    ru = start(language="ru", open_now=False)
    assert "Сейчас мы не работаем." in heard(ru) and "Спасибо, что позвонили в Support." in heard(ru)
    assert all(a.language == "ru-RU" for a in ru.script.actions if isinstance(a, Say))
    fr = press(press(start(language="fr"), "2"), "1", language="fr")
    assert "Pour aujourd'hui à 10 h 30, tapez 1." in heard(fr)


def test_unknown_number() -> None:
    assert "not in service" in " ".join(a.text for a in inbound.unknown_number().actions if isinstance(a, Say))


@pytest.mark.parametrize(
    ("speech", "language", "key"),
    [("Two, please.", "en", "2"), ("deux", "fr", "2"), ("Звёздочка", "ru", "*"), ("3", "en", "3"), ("hmm", "en", "")],
)
def test_spoken_answers_name_keys(speech: str, language: str, key: str) -> None:
    assert spoken_key(speech, language) == key


def test_a_spoken_answer_moves_the_flow_like_a_key() -> None:
    reply = start()
    assert reply.state is not None
    spoken = inbound.advance(reply.state, None, facts(), NOW, url_for, speech="star")
    assert isinstance(spoken.script.actions[-1], Connect)


def holding() -> inbound.IvrState:
    reply = press(start(), "*")
    assert reply.state is not None and reply.state.step == "holding"
    return reply.state


def test_a_hold_nobody_answers_offers_the_callback_again() -> None:
    state = holding()
    again = inbound.dialled(state, "missed", facts(), NOW, url_for)
    assert "Sorry to keep you waiting" in heard(again) and "To keep holding, press star." in heard(again)
    assert again.state is not None and again.state.step == "offer" and again.state.held == 60
    held_twice = press(again, "*")
    assert held_twice.state is not None and held_twice.state.held == 120


def test_a_hold_missed_after_closing_time_ends_politely() -> None:
    ended = inbound.dialled(holding(), "missed", facts(open_now=False), NOW, url_for)
    assert isinstance(ended.script.actions[-1], Hangup)


def test_reaching_an_agent_closes_a_waiting_callback() -> None:
    existing = inbound.ExistingCallback("ABCDEFGHJK", "scheduled", NOW + timedelta(hours=2))
    answered = inbound.dialled(holding(), "answered", facts(existing=existing), NOW, url_for)
    assert answered.effect == inbound.Resolve("ABCDEFGHJK") and answered.script.actions == ()
    assert inbound.dialled(holding(), "answered", facts(), NOW, url_for).effect is None
    assert inbound.dialled(holding(), "ringing", facts(existing=existing), NOW, url_for).effect is None


def test_the_providers_average_wait_replaces_our_estimate_in_the_offer_and_the_asap_booking() -> None:
    data = QueueData(position=3, waited_seconds=5, average_wait_seconds=1200, size=7)
    reply = start(estimated_wait_seconds=30, queue_data=data)  # ours alone would put them through
    assert reply.state is not None and reply.state.step == "offer"
    assert "An agent should be with you in about 20 minutes." in heard(reply)
    asap = press(press(reply, "1", queue_data=data), "1", queue_data=data)
    assert asap.effect == inbound.Book("+447400123456", "asap", estimated_wait_seconds=1200)


def test_a_provider_position_counts_our_handle_time_shared_among_agents() -> None:
    data = QueueData(position=5)
    reply = start(estimated_wait_seconds=30, average_handle_seconds=240, agents=2, queue_data=data)
    assert "An agent should be with you in about 10 minutes." in heard(reply)  # 5 × 240 s ÷ 2
    short = start(estimated_wait_seconds=900, average_handle_seconds=10, agents=1, queue_data=QueueData(position=1))
    assert isinstance(short.script.actions[-1], Connect)  # the provider says it is short: put through


def test_time_already_waited_in_the_providers_queue_counts_towards_the_threshold() -> None:
    partly = start(estimated_wait_seconds=0, queue_data=QueueData(position=0, waited_seconds=40))
    ring = partly.script.actions[-1]
    assert isinstance(ring, Connect) and ring.timeout_seconds == 20  # 60 s threshold less 40 s waited
    waited = start(estimated_wait_seconds=0, queue_data=QueueData(position=0, waited_seconds=60))
    assert waited.state is not None and waited.state.step == "offer"


def test_a_missed_hold_reoffers_with_the_providers_wait() -> None:
    again = inbound.dialled(holding(), "missed", facts(queue_data=QueueData(average_wait_seconds=300)), NOW, url_for)
    assert "An agent should be with you in about 5 minutes." in heard(again)


def test_a_number_may_be_said_instead_of_keyed_and_keys_still_work() -> None:
    entry = press(start(caller=None), "1")  # withheld: straight to number entry
    assert entry.state is not None and entry.state.step == "key_entry"
    gather = entry.script.actions[-1]
    assert isinstance(gather, Gather) and gather.speech and gather.num_digits == inbound.PHONE_DIGITS
    said = inbound.advance(entry.state, None, facts(), NOW, url_for, speech="oh seven four double oh, one two three")
    assert said.state is not None and said.state.step == "key_entry" and "not valid" in heard(said)
    spoken = "oh seven four double oh, one two three, four five six"
    confirm = inbound.advance(entry.state, None, facts(), NOW, url_for, speech=spoken)
    assert confirm.state is not None and confirm.state.entered == "+447400123456"
    keyed = press(entry, "07400123456#")
    assert keyed.state is not None and keyed.state.entered == "+447400123456"
    yes = inbound.advance(confirm.state, None, facts(), NOW, url_for, speech="Yes, one.")
    assert yes.effect == inbound.Book("+447400123456", "asap", estimated_wait_seconds=480)
    nothing = inbound.advance(entry.state, None, facts(), NOW, url_for, speech="I don't know it")
    assert "did not get that" in heard(nothing)


WELCOME = "https://cdn.example.com/support/welcome.mp3"
OFFER = "https://cdn.example.com/support/offer.mp3"


def test_a_recorded_prompt_is_played_and_the_rest_is_spoken() -> None:
    # A recording under a prompt key that changes per call is never played, even if stored.
    audio = {"welcome": WELCOME, "offer": OFFER, "wait": "https://cdn.example.com/wait.mp3"}
    reply = start(prompt_audio=audio)
    (gather,) = reply.script.actions
    assert isinstance(gather, Gather)
    welcome, wait, offer = gather.prompt
    assert welcome == Play(WELCOME, text="Thank you for calling Support.")
    assert wait == Say("An agent should be with you in about 8 minutes.", "en-GB")
    assert isinstance(offer, Play) and offer.url == OFFER
    assert offer.text.startswith("To be called back as soon as possible")
    times = press(press(reply, "2", prompt_audio=audio), "1", prompt_audio=audio)
    assert not any(isinstance(p, Play) for a in times.script.actions if isinstance(a, Gather) for p in a.prompt)


def test_every_recordable_prompt_is_said_the_same_on_every_call() -> None:
    assert {"welcome", "offer", "which_number", "enter_number", "goodbye"} <= inbound.RECORDABLE_PROMPTS
    assert not {"wait", "slot_choice", "booked", "confirm_number", "existing", "link_sms", "unknown_number"} & (
        inbound.RECORDABLE_PROMPTS
    )


@pytest.mark.parametrize(
    ("seconds", "said"),
    [
        (40, "An agent should be with you in about 1 minute."),  # not "1 minutes"
        (60, "An agent should be with you in about 1 minute."),
        (61, "An agent should be with you in about 2 minutes."),
    ],
)
def test_the_wait_is_said_with_the_right_plural(seconds: int, said: str) -> None:
    reply = inbound.answer(
        "CA1", "+447400123456", facts(estimated_wait_seconds=seconds, offer_threshold_seconds=0), NOW, url_for
    )
    assert said in heard(reply)

"""The inbound call: a caller dials a queue's number and may ask for a callback.

A small state machine, pure: each webhook brings the signed ``IvrState`` of the call
(in the gather's action URL), what the caller pressed, ``now`` and the ``Facts`` the
shell loaded (the queue, the caller's live callback, the times with seats left), and
gets back a ``Reply``: the next ``VoiceScript``, and possibly one ``Effect`` (book,
reschedule, cancel, text a link) for the shell to carry out. The shell then calls
``resolve`` with how the effect went, which says what the caller hears. No clock, no
database, no provider here.

Steps::

    answer ─▶ existing (1 keep · 2 change · 3 cancel and hold)
           └▶ offer (1 ASAP · 2 choose a time · 3 text a link · * hold) ─▶ number (1 this one · 2 another)
                                                                           └▶ key_entry ─▶ confirm_number
              ─▶ slots (1–3 pick · 4 later · 9 repeat) ─▶ booked, goodbye
"""

from __future__ import annotations

import math
import string
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time

from infra.i18n import N_
from ivr_flows.callback_script import voice
from ivr_flows.i18n import language_code, translations
from ivr_flows.inbound_types import (
    Book,
    Booked,
    Cancel,
    Effect,
    ExistingCallback,
    Facts,
    Failed,
    IvrState,
    Outcome,
    QueueFacts,
    Reply,
    Reschedule,
    Resolve,
    TextConfirmation,
    TextLink,
    UrlFor,
)
from ivr_flows.speech import spoken_key, spoken_phone_digits
from ivr_flows.spoken_time import spoken_digits, spoken_minutes, spoken_range, spoken_slot
from scheduler.ecbt import minutes_left
from scheduler.errors import DomainError
from scheduler.phone import is_mobile, parse_phone
from scheduler.wait import ring_seconds_before_offer, should_offer, wait_estimate
from telephony.base import QueueData
from telephony.script import Action, Connect, Gather, Hangup, Play, Say, VoiceScript, script

SLOTS_PER_PAGE = 3
MAX_NUMBER_TRIES = 3
MAX_SILENT_TRIES = 2  # the first prompt and one repeat
PHONE_DIGITS = 15  # E.164's longest; the caller ends with #
SAY_THE_TIME_FROM_MINUTES = 60  # an ASAP callback an hour or more away is told by its time
# How long one hold rings the agents: Twilio's <Dial timeout> takes 5-600 s.
MIN_RING_SECONDS = 5
MAX_RING_SECONDS = 600

PROMPTS: dict[str, str] = {
    # TRANSLATORS: the first thing a caller to a queue's number hears.
    "welcome": N_("Thank you for calling {queue}."),
    "unknown_number": N_("Sorry, this number is not in service. Please check the number and call again. Goodbye."),
    # TRANSLATORS: {time} is a spoken slot time such as "tomorrow at half past ten".
    "existing": N_(
        "You have a callback booked for {time}. Press 1 to keep it, 2 to change it, 3 to cancel it and hold now."
    ),
    "existing_asap": N_(
        "You have asked us to call you back {wait}. Press 1 to keep it, 2 to choose a time instead,"
        " 3 to cancel it and hold now."
    ),
    "kept": N_("Your callback stays booked. Thank you, goodbye."),
    "cancelled_hold": N_("Your callback is cancelled."),
    # TRANSLATORS: {wait} completes the sentence, e.g. "in about 5 minutes".
    "wait": N_("An agent should be with you {wait}."),
    "offer": N_(
        "To be called back as soon as possible, keeping your place, press 1. To choose a time for a callback,"
        " press 2. To get a text with a link to choose a time, press 3. To keep holding, press star."
    ),
    "offer_closed": N_(
        "We are closed now. To choose a time for a callback, press 2. To get a text with a link to choose a time,"
        " press 3."
    ),
    "which_number": N_(
        "To be called back on the number you are calling from, press 1. To enter another number, press 2."
    ),
    "enter_number": N_("Please enter your phone number, then press the hash key."),
    "number_invalid": N_("Sorry, that number is not valid."),
    # TRANSLATORS: {number} is the phone number read digit by digit.
    "confirm_number": N_("You entered {number}. If that is right, press 1. To enter it again, press 2."),
    "slots_intro": N_("The next available times are:"),
    # TRANSLATORS: one choice in a list of times: "Press 1 for tomorrow at half past ten."
    "slot_choice": N_("Press {key} for {time}."),
    "slots_more": N_("For later times, press 4. To hear these again, press 9."),
    "no_more_slots": N_("There are no later times. Here are the first ones again."),
    "no_slots": N_("Sorry, there are no free times for a callback in the coming days."),
    "slot_taken": N_("Sorry, that time has just been taken by another caller."),
    # TRANSLATORS: {time} is a spoken slot time; {number} the number read digit by digit.
    "booked": N_("Thank you. We will call you back {time}, on {number}."),
    # TRANSLATORS: {wait} completes the sentence, e.g. "between 8 and 10 minutes from now".
    "booked_asap": N_("Thank you. You keep your place: we will call you back {wait}, on {number}."),
    "text_offer": N_("To get a text confirming this, press 1."),
    "texted_confirmation": N_("We have sent you a text. Goodbye."),
    # TRANSLATORS: a text message; {time} is written like "Monday 4 January 10:30".
    "confirmation_sms": N_(
        "Your callback from {queue} is booked for {time}. Reply CANCEL CALL to cancel or CHANGE for another time."
    ),
    # TRANSLATORS: a text message; {start} and {end} are clock times like "10:38".
    "confirmation_sms_asap": N_("{queue} will call you back between {start} and {end}. Reply CANCEL CALL to cancel."),
    "bye": N_("Goodbye."),
    "texted_link": N_("We have sent you a text with a link to choose a time. Goodbye."),
    "link_sms": N_("Choose a time for your callback from {queue}: {link}"),
    "connecting": N_("Please hold, we are putting you through."),
    "still_busy": N_("Sorry to keep you waiting: all our agents are still busy."),
    "callbacks_paused": N_("We are not taking callback requests at the moment."),
    "callbacks_busy": N_("We cannot offer a callback at the moment: too many callers are waiting for one."),
    "no_agents": N_("Sorry, nobody can take your call right now. Please call again later. Goodbye."),
    "not_understood": N_("Sorry, I did not get that."),
    "cannot_book": N_("Sorry, we could not book that callback."),
    "goodbye": N_("Thank you for calling. Goodbye."),
}


# Texts we send rather than say: never played from a recording.
TEXT_MESSAGES = frozenset({"confirmation_sms", "confirmation_sms_asap", "link_sms"})


def _placeholders(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


# The prompts a queue may have pre-recorded (``prompt_audio`` in its document): those said
# the same way on every call of the queue. The queue's own name is fixed, so "welcome" may
# be recorded; times, waits, numbers and keys change from call to call, so prompts that say
# them are always text-to-speech. "unknown_number" is said when no queue answers.
RECORDABLE_PROMPTS = frozenset(
    name
    for name, template in PROMPTS.items()
    if name not in TEXT_MESSAGES and name != "unknown_number" and _placeholders(template) <= {"queue"}
)


class PromptText(str):
    """A prompt as said, remembering which prompt it is (so that a queue's recording of it
    can be played instead)."""

    key: str

    def __new__(cls, value: str, key: str) -> PromptText:
        made = super().__new__(cls, value)
        made.key = key
        return made


def text(name: str, language: str, **values: str) -> PromptText:
    """A prompt in ``language`` (English when it has no translation), placeholders filled."""
    return PromptText(translations(language).gettext(PROMPTS[name]).format(**values), name)


# --- the steps --------------------------------------------------------------------------


class _Flow:
    def __init__(self, facts: Facts, now: datetime, url_for: UrlFor) -> None:
        self.facts = facts
        self.queue = facts.queue
        self.now = now
        self.url_for = url_for

    @property
    def wait_seconds(self) -> int:
        """The EWT to say and to decide on: the provider's figures where this webhook
        brought them (scheduler/wait.py), else our own."""
        data = self.facts.queue_data or QueueData()
        return wait_estimate(
            self.queue.estimated_wait_seconds,
            average_handle_seconds=self.queue.average_handle_seconds,
            agents=self.queue.agents,
            provider_average_wait_seconds=data.average_wait_seconds,
            provider_position=data.position,
            provider_queue_size=data.size,
        )

    @property
    def waited_seconds(self) -> int:
        """How long the provider says this caller has waited in its queue (QueueTime)."""
        data = self.facts.queue_data
        return (data.waited_seconds or 0) if data is not None else 0

    def t(self, state: IvrState, name: str, **values: str) -> PromptText:
        return text(name, state.language, **values)

    def say(self, state: IvrState, *texts: str) -> tuple[Say | Play, ...]:
        """Each text as text-to-speech, or as the queue's recording of that prompt."""
        lines: list[Say | Play] = []
        for spoken in texts:
            key = spoken.key if isinstance(spoken, PromptText) else None
            url = self.queue.prompt_audio.get(key) if key in RECORDABLE_PROMPTS else None
            lines.append(Play(url, text=str(spoken)) if url else Say(str(spoken), voice(state.language)))
        return tuple(lines)

    def gather(self, state: IvrState, lead: tuple[Say | Play, ...], *prompt: str, digits: int = 1) -> Reply:
        action = Gather(
            prompt=lead + self.say(state, *prompt),
            action_url=self.url_for(state),
            num_digits=digits,
            timeout_seconds=6,
            # A menu may be answered aloud ("two"), and a phone number said digit by digit.
            speech=True,
            speech_language=voice(state.language),
        )
        return Reply(script(action), state)

    def end(self, state: IvrState, *texts: str, lead: tuple[Say | Play, ...] = ()) -> Reply:
        return Reply(script(*lead, *self.say(state, *texts), Hangup()))

    def hold(self, state: IvrState, lead: tuple[Say | Play, ...] = (), seconds: int | None = None) -> Reply:
        """Hold: ring the queue's agents for ``seconds`` (the offer interval unless said).
        An agent who answers takes the call; when none does, the provider reports it to
        the Connect's status URL and the caller is offered a callback again (``dialled``)."""
        if self.queue.agent_target is None:
            return self.end(state, self.t(state, "no_agents"), lead=lead)
        ring = min(max(seconds or self.queue.offer_repeat_seconds, MIN_RING_SECONDS), MAX_RING_SECONDS)
        holding = replace(state, step="holding", tries=0, held=state.held + ring)
        actions: tuple[Action, ...] = (
            *lead,
            *self.say(state, self.t(state, "connecting")),
            Connect(self.queue.agent_target, timeout_seconds=ring, status_url=self.url_for(holding)),
        )
        return Reply(VoiceScript(actions), holding)

    def spoken_time(self, state: IvrState, at: datetime) -> str:
        return spoken_slot(at, self.now, self.queue.timezone, state.language)

    def spoken_wait(self, state: IvrState, seconds: int) -> str:
        return spoken_minutes(math.ceil(max(seconds, 0) / 60), state.language)

    def spoken_callback(self, state: IvrState, at: datetime, until: datetime | None) -> str:
        """When an ASAP callback rings: the range told at booking (scheduler/ecbt.py), in
        minutes from now; the time itself when that is an hour or more away (booked while
        closed); "in about n minutes" for a callback booked without a range."""
        if until is None:
            return self.spoken_wait(state, int((at - self.now).total_seconds()))
        low, high = minutes_left(at, until, self.now)
        if low >= SAY_THE_TIME_FROM_MINUTES:
            return self.spoken_time(state, at)
        return spoken_range(low, high, state.language)

    def confirmation_text(self, state: IvrState) -> str:
        assert state.booked is not None
        local = datetime.fromtimestamp(state.booked, UTC).astimezone(ZoneInfo(self.queue.timezone))
        code = language_code(state.language)
        if state.choice == "asap":
            until = datetime.fromtimestamp(state.booked_until or state.booked, UTC).astimezone(local.tzinfo)
            start, end = (format_time(t, "HH:mm", locale=code) for t in (local, until))
            return str(self.t(state, "confirmation_sms_asap", queue=self.queue.name, start=start, end=end))
        written = format_datetime(local, "EEEE d MMMM HH:mm", locale=code)
        return str(self.t(state, "confirmation_sms", queue=self.queue.name, time=written))

    def booked(self, state: IvrState, outcome: Booked) -> Reply:
        """Say what is booked; offer a text confirming it when the number takes texts."""
        number = self.spoken_number(state, outcome.phone)
        if outcome.kind == "asap":
            wait = self.spoken_callback(state, outcome.at, outcome.until)
            said = self.t(state, "booked_asap", wait=wait, number=number)
        else:
            said = self.t(state, "booked", time=self.spoken_time(state, outcome.at), number=number)
        if not is_mobile(outcome.phone):
            return self.end(state, said, self.t(state, "bye"))
        state = replace(
            state,
            step="text_offer",
            chosen=outcome.phone,
            choice="asap" if outcome.kind == "asap" else "time",
            booked=int(outcome.at.timestamp()),
            booked_until=int(outcome.until.timestamp()) if outcome.until is not None else None,
            offered=(),
            tries=0,
        )
        return self.prompt(state, self.say(state, said))

    def spoken_number(self, state: IvrState, phone: str) -> str:
        return spoken_digits(phone, state.language, home_region=self.queue.region)

    # --- prompts of each step ---

    def prompt(self, state: IvrState, lead: tuple[Say | Play, ...] = ()) -> Reply:
        step = state.step
        if step == "existing":
            existing = self.facts.existing
            if existing is None:  # cancelled meanwhile (by text, by an agent): offer afresh
                return self.offer(replace(state, existing_ref=None), lead)
            if existing.kind == "asap":
                wait = self.spoken_callback(state, existing.at, existing.until)
                return self.gather(state, lead, self.t(state, "existing_asap", wait=wait))
            return self.gather(state, lead, self.t(state, "existing", time=self.spoken_time(state, existing.at)))
        if step == "offer":
            if self.queue.callbacks_withheld is not None:
                reason = "callbacks_paused" if self.queue.callbacks_withheld == "paused" else "callbacks_busy"
                if not self.queue.open_now:
                    return self.end(state, self.t(state, reason), self.t(state, "goodbye"), lead=lead)
                return self.hold(state, lead + self.say(state, self.t(state, reason)))
            if not self.queue.open_now:
                return self.gather(state, lead, self.t(state, "offer_closed"))
            wait = self.spoken_wait(state, self.wait_seconds)
            return self.gather(state, lead, self.t(state, "wait", wait=wait), self.t(state, "offer"))
        if step == "number":
            return self.gather(state, lead, self.t(state, "which_number"))
        if step == "key_entry":
            return self.gather(state, lead, self.t(state, "enter_number"), digits=PHONE_DIGITS)
        if step == "confirm_number":
            assert state.entered is not None
            number = self.spoken_number(state, state.entered)
            return self.gather(state, lead, self.t(state, "confirm_number", number=number))
        if step == "slots":
            return self.slots(state, lead)
        if step == "text_offer":
            return self.gather(state, lead, self.t(state, "text_offer"))
        raise ValueError(f"unknown IVR step {step!r}")

    def offer(self, state: IvrState, lead: tuple[Say | Play, ...] = ()) -> Reply:
        return self.prompt(replace(state, step="offer", tries=0), lead)

    def slots(self, state: IvrState, lead: tuple[Say | Play, ...] = ()) -> Reply:
        available = self.facts.slots
        if not available:
            return self.fallback(state, lead + self.say(state, self.t(state, "no_slots")))
        page = state.page
        start = page * SLOTS_PER_PAGE
        if start >= len(available):
            lead = lead + self.say(state, self.t(state, "no_more_slots"))
            page, start = 0, 0
        shown = available[start : start + SLOTS_PER_PAGE]
        state = replace(state, step="slots", page=page, offered=tuple(int(s.timestamp()) for s in shown))
        choices = [
            self.t(state, "slot_choice", key=str(i), time=self.spoken_time(state, s)) for i, s in enumerate(shown, 1)
        ]
        return self.gather(state, lead, self.t(state, "slots_intro"), *choices, self.t(state, "slots_more"))

    def fallback(self, state: IvrState, lead: tuple[Say | Play, ...] = ()) -> Reply:
        """What a caller we could not help gets: put through while open, else a goodbye."""
        if self.queue.open_now:
            return self.hold(state, lead)
        return self.end(state, self.t(state, "goodbye"), lead=lead)

    def again(self, state: IvrState) -> Reply:
        """No or a wrong key: say it once more, then the fallback."""
        if state.step == "text_offer":  # booked already: no text is a fine answer
            return self.end(state, self.t(state, "bye"))
        if state.tries + 1 >= MAX_SILENT_TRIES:
            return self.fallback(state, self.say(state, self.t(state, "not_understood")))
        return self.prompt(replace(state, tries=state.tries + 1), self.say(state, self.t(state, "not_understood")))

    # --- after a choice ---

    def proceed(self, state: IvrState) -> Reply:
        """The number is known: do what the caller chose."""
        phone = state.chosen
        assert phone is not None
        state = replace(state, tries=0, entered=None)
        if state.choice == "asap":
            wait = self.wait_seconds
            return Reply(VoiceScript(()), state, Book(phone, "asap", estimated_wait_seconds=wait))
        if state.choice == "link":
            template = str(self.t(state, "link_sms", queue=self.queue.name, link="{link}"))
            return Reply(VoiceScript(()), state, TextLink(phone, template))
        return self.slots(replace(state, step="slots", page=0))

    def ask_number(self, state: IvrState, choice: str) -> Reply:
        state = replace(state, choice=choice, tries=0)
        if state.existing_ref is not None and state.chosen is not None:
            return self.proceed(state)
        if state.caller is None:  # withheld or not a number we may call: type it in
            return self.prompt(replace(state, step="key_entry"))
        return self.prompt(replace(state, step="number"))

    def key(self, state: IvrState, pressed: str) -> Reply:
        step = state.step
        if step == "existing":
            existing = self.facts.existing
            if existing is None:
                return self.offer(replace(state, existing_ref=None))
            if pressed == "1":
                return self.end(state, self.t(state, "kept"))
            if pressed == "2":
                return self.ask_number(replace(state, existing_ref=existing.ref, chosen=state.caller), "time")
            if pressed == "3":
                return Reply(VoiceScript(()), state, Cancel(existing.ref))
            return self.again(state)
        if step == "offer":
            if pressed == "1" and self.queue.open_now:
                return self.ask_number(state, "asap")
            if pressed == "2":
                return self.ask_number(state, "time")
            if pressed == "3":
                return self.ask_number(state, "link")
            if pressed == "*" and self.queue.open_now:
                return self.hold(state)
            return self.again(state)
        if step == "number":
            if pressed == "1":
                return self.proceed(replace(state, chosen=state.caller))
            if pressed == "2":
                return self.prompt(replace(state, step="key_entry", tries=0))
            return self.again(state)
        if step == "key_entry":
            return self.keyed_number(state, pressed)
        if step == "confirm_number":
            if pressed == "1" and state.entered is not None:
                return self.proceed(replace(state, chosen=state.entered))
            if pressed == "2":
                return self.prompt(replace(state, step="key_entry", entered=None))
            return self.again(state)
        if step == "text_offer":
            if pressed == "1" and state.chosen is not None and state.booked is not None:
                return Reply(VoiceScript(()), state, TextConfirmation(state.chosen, self.confirmation_text(state)))
            return self.end(state, self.t(state, "bye"))
        if step == "slots":
            if pressed in ("1", "2", "3") and int(pressed) <= len(state.offered):
                start = datetime.fromtimestamp(state.offered[int(pressed) - 1], UTC)
                assert state.chosen is not None
                if state.existing_ref is not None:
                    return Reply(VoiceScript(()), state, Reschedule(state.existing_ref, start))
                return Reply(VoiceScript(()), state, Book(state.chosen, "scheduled", slot_start=start))
            if pressed == "4":
                return self.slots(replace(state, page=state.page + 1, tries=0))
            if pressed == "9":
                return self.slots(replace(state, tries=0))
            return self.again(state)
        raise ValueError(f"unknown IVR step {step!r}")

    def keyed_number(self, state: IvrState, pressed: str) -> Reply:
        digits = pressed.rstrip("#")
        if not digits:
            return self.again(state)
        try:
            number = parse_phone(digits, self.queue.region, self.queue.allowed_countries)
        except DomainError:
            tries = state.tries + 1
            sorry = self.say(state, self.t(state, "number_invalid"))
            if tries >= MAX_NUMBER_TRIES:
                return self.fallback(state, sorry)
            return self.prompt(replace(state, tries=tries), sorry)
        return self.prompt(replace(state, step="confirm_number", entered=number, tries=0))


def answer(call_id: str, caller: str | None, facts: Facts, now: datetime, url_for: UrlFor) -> Reply:
    """The first webhook of a call to one of the queue's numbers. ``caller`` is the
    caller id already parsed into E.164, or None (withheld, or not a number we may call)."""
    queue = facts.queue
    flow = _Flow(facts, now, url_for)
    state = IvrState(queue=queue.key, call_id=call_id, step="offer", language=queue.language, caller=caller)
    welcome = flow.say(state, flow.t(state, "welcome", queue=queue.name))
    if facts.existing is not None and caller is not None:
        return flow.prompt(replace(state, step="existing"), welcome)
    offered = should_offer(
        flow.wait_seconds,
        queue.offer_threshold_seconds,
        offer_at_entry=queue.offer_at_entry,
        open_now=queue.open_now,
        waited_seconds=flow.waited_seconds,
    )
    if offered:
        return flow.prompt(state, welcome)
    # A short wait: ring the agents until it would no longer be short, then offer.
    seconds = ring_seconds_before_offer(queue.offer_threshold_seconds, flow.waited_seconds)
    return flow.hold(state, welcome, seconds=seconds)


def dialled(state: IvrState, agent: str, facts: Facts, now: datetime, url_for: UrlFor) -> Reply:
    """How ringing the agents went (the hold's status URL). ``agent``: "answered" (the
    bridge is up), "talked" (it ended after a conversation), "ringing" (news, no end
    yet) or "missed" (busy, no answer, failed). A caller who talked to an agent while
    their callback waits gets it closed; one nobody answered is offered a callback again."""
    flow = _Flow(facts, now, url_for)
    resolve_existing = Resolve(facts.existing.ref) if facts.existing is not None else None
    if agent == "answered":
        return Reply(VoiceScript(()), None, resolve_existing)
    if agent == "talked":
        return Reply(script(Hangup()), None, resolve_existing)
    if agent == "ringing":
        return Reply(VoiceScript(()))
    sorry = flow.say(state, flow.t(state, "still_busy"))
    if not facts.queue.open_now:
        return flow.end(state, flow.t(state, "goodbye"), lead=sorry)
    return flow.offer(replace(state, existing_ref=None, choice=None), sorry)


def unknown_number(language: str = "en") -> VoiceScript:
    return script(Say(str(text("unknown_number", language)), voice(language)), Hangup())


def advance(
    state: IvrState, digits: str | None, facts: Facts, now: datetime, url_for: UrlFor, speech: str | None = None
) -> Reply:
    """The caller's answer to the state's gather: a key (or keys, for a number), a
    spoken answer naming a key (or saying the number), or nothing (the gather timed out)."""
    flow = _Flow(facts, now, url_for)
    pressed = (digits or "").strip()
    if not pressed and state.step == "key_entry":
        pressed = spoken_phone_digits(speech, state.language)  # "oh seven seven…", "zéro six, douze…"
    elif not pressed:
        pressed = spoken_key(speech, state.language)
    if not pressed:
        return flow.again(state)
    if state.step != "key_entry":
        pressed = pressed[:1]
    return flow.key(state, pressed)


def resolve(state: IvrState, effect: Effect, outcome: Outcome, facts: Facts, now: datetime, url_for: UrlFor) -> Reply:
    """What the caller hears once the shell has carried out ``effect``."""
    flow = _Flow(facts, now, url_for)
    if isinstance(effect, Cancel):
        return flow.hold(state, flow.say(state, flow.t(state, "cancelled_hold")))
    if isinstance(effect, TextLink):
        return flow.end(state, flow.t(state, "texted_link"))
    if isinstance(effect, TextConfirmation):
        return flow.end(state, flow.t(state, "texted_confirmation"))
    if isinstance(effect, Resolve):
        return Reply(VoiceScript(()))
    if isinstance(outcome, Booked):
        return flow.booked(state, outcome)
    if isinstance(outcome, Failed):
        kind = outcome.error.type
        if kind in ("slot_full", "slot_not_found", "outside_hours", "too_soon", "too_far"):
            # Someone took the seat meanwhile (or the time passed): read the next ones.
            sorry = flow.say(state, flow.t(state, "slot_taken"))
            return flow.slots(replace(state, step="slots", page=0, tries=0, choice="time"), sorry)
        if kind in ("phone_invalid", "phone_country_not_allowed"):
            sorry = flow.say(state, flow.t(state, "number_invalid"))
            return flow.prompt(replace(state, step="key_entry", chosen=None, tries=state.tries + 1), sorry)
        return flow.fallback(state, flow.say(state, flow.t(state, "cannot_book")))
    return flow.fallback(state)


__all__ = [
    "Book",
    "Booked",
    "Cancel",
    "Effect",
    "ExistingCallback",
    "Facts",
    "Failed",
    "IvrState",
    "Outcome",
    "QueueFacts",
    "Reply",
    "Reschedule",
    "Resolve",
    "TextConfirmation",
    "TextLink",
    "UrlFor",
    "advance",
    "answer",
    "dialled",
    "resolve",
    "unknown_number",
]

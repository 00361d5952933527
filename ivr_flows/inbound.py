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

Holding (``*``, a short wait, a fallback) rings the agents (``holding``, then ``dialled``),
or, where the queue holds callers in the provider's own queue (Twilio ``<Enqueue>``), waits
there: its wait URL (``queued``, ``waiting``) holds them and, when due, offers the same menu,
whose steps then run in the queue (``IvrState.queued``); taking a callback there leaves the
queue, and its action URL (``dequeued``) says what was booked and offers the text::

    queued ─▶ offer … ─▶ Leave ─▶ dequeued ─▶ booked, text_offer
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from babel.dates import format_datetime, format_time

from ivr_flows.callback_script import voice
from ivr_flows.i18n import language_code, translations
from ivr_flows.inbound_prompts import PROMPTS, RECORDABLE_PROMPTS, TEXT_MESSAGES, PromptText, text
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
from scheduler.wait import (
    queue_hold_seconds,
    queue_offer_due,
    ring_seconds_before_offer,
    should_offer,
    wait_estimate,
)
from telephony.base import QueueData, QueueExit
from telephony.script import Action, Connect, Enqueue, Gather, Hangup, Leave, Pause, Play, Say, VoiceScript, script

SLOTS_PER_PAGE = 3
MAX_NUMBER_TRIES = 3
MAX_SILENT_TRIES = 2  # the first prompt and one repeat
PHONE_DIGITS = 15  # E.164's longest; the caller ends with #
SAY_THE_TIME_FROM_MINUTES = 60  # an ASAP callback an hour or more away is told by its time
# How long one hold rings the agents: Twilio's <Dial timeout> takes 5-600 s.
MIN_RING_SECONDS = 5
MAX_RING_SECONDS = 600

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
        return self._estimate(self.queue.estimated_wait_seconds)

    @property
    def line_wait_seconds(self) -> int:
        """The caller's own wait in the line (without the callbacks due ahead of them), the
        same way: what an ASAP booking counts the callbacks ahead from."""
        line = self.queue.line_wait_seconds
        return self._estimate(self.queue.estimated_wait_seconds if line is None else line)

    def _estimate(self, own_seconds: int) -> int:
        data = self.facts.queue_data or QueueData()
        return wait_estimate(
            own_seconds,
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
        """Hold, for ``seconds`` before the next offer (the offer interval unless said): in the
        provider's queue where the queue holds callers there, else ringing its agents. A caller
        already in the provider's queue keeps their place there."""
        if state.queued:
            return self.hold_in_queue(state, lead)
        if self.queue.enqueue_as is not None:
            return self.enqueue(state, self.queue.enqueue_as, lead, seconds)
        return self.ring_agents(state, lead, seconds)

    def enqueue(
        self, state: IvrState, name: str, lead: tuple[Say | Play, ...] = (), seconds: int | None = None
    ) -> Reply:
        """Put the caller in the provider's queue ``name``: its wait URL (``waiting``) holds
        them and offers a callback at ``seconds`` of waiting, then every offer interval; its
        action URL (``dequeued``) hears how they got out of it."""
        first = max(seconds or self.queue.offer_repeat_seconds, 1)
        waiting = replace(state, step="queued", queued=True, first_offer=first, tries=0, existing_ref=None)
        after = replace(state, step="dequeued", queued=False, first_offer=0, tries=0, existing_ref=None)
        actions: tuple[Action, ...] = (
            *lead,
            *self.say(state, self.t(state, "connecting")),
            Enqueue(name, wait_url=self.url_for(waiting), action_url=self.url_for(after)),
        )
        return Reply(VoiceScript(actions), waiting)

    def hold_in_queue(self, state: IvrState, lead: tuple[Say | Play, ...] = ()) -> Reply:
        """Answer the provider queue's wait URL with a pause up to the next offer: once it has
        played, the provider asks the wait URL again and the caller keeps their place."""
        seconds = queue_hold_seconds(self.waited_seconds, state.first_offer, self.queue.offer_repeat_seconds)
        return Reply(script(*lead, Pause(seconds)))

    def offer_in_queue(self, state: IvrState) -> Reply:
        """The offer to a caller waiting in the provider's queue: their place and wait, then
        the menu; all of it plays in the wait URL's context (no Connect, no Enqueue there)."""
        data = self.facts.queue_data
        lead = self.say(state, self.place(state, data.position)) if data is not None and data.position else ()
        return self.offer(replace(state, queue_data=data), lead)

    def place(self, state: IvrState, position: int) -> str:
        """The caller's place in line (QueuePosition: 1 is next)."""
        if position <= 1:
            return self.t(state, "next_in_line")
        ahead = position - 1
        # TRANSLATORS: said to a caller waiting in line; {n} is how many callers are before them.
        said = translations(state.language).ngettext(
            "There is {n} caller ahead of you.", "There are {n} callers ahead of you.", ahead
        )
        return said.format(n=ahead)

    def leave_queue(self) -> Reply:
        """The caller took a callback while waiting in the provider's queue: out of it at
        once, so that no agent takes them from it meanwhile. The provider then asks the
        Enqueue's action URL, whose answer (``dequeued``) says what was booked."""
        return Reply(script(Leave()))

    def ring_agents(self, state: IvrState, lead: tuple[Say | Play, ...] = (), seconds: int | None = None) -> Reply:
        """Ring the queue's agents for ``seconds`` (the offer interval unless said). An agent
        who answers takes the call; when none does, the provider reports it to the Connect's
        status URL and the caller is offered a callback again (``dialled``)."""
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
            wait = self.line_wait_seconds
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


def caller_line_wait(facts: Facts, now: datetime) -> int:
    """The caller's own wait in the line now, as the flow estimates it: the hold a callback
    spares them (reports' minutes saved, services/ivr_offers.py)."""
    return _Flow(facts, now, lambda _state: "").line_wait_seconds


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


def _with_figures_told(facts: Facts, state: IvrState) -> Facts:
    """In the provider's queue, a keypress's request may carry no queue figures: the ones
    the offer was made with (kept in the state) count, so the ASAP callback keeps the
    place the caller was told."""
    if facts.queue_data is None and state.queue_data is not None:
        return replace(facts, queue_data=state.queue_data)
    return facts


def waiting(state: IvrState, facts: Facts, now: datetime, url_for: UrlFor) -> Reply:
    """The provider queue's wait URL, asked again and again while the caller waits there with
    their place (``facts.queue_data``): the offer when it is due, else a hold to the next."""
    flow = _Flow(facts, now, url_for)
    if queue_offer_due(flow.waited_seconds, state.first_offer, facts.queue.offer_repeat_seconds):
        return flow.offer_in_queue(state)
    return flow.hold_in_queue(state)


def dequeued(state: IvrState, exit: QueueExit, facts: Facts, now: datetime, url_for: UrlFor) -> Reply:
    """The caller is out of the provider's queue (its Enqueue's action URL). LEFT: they took
    a callback there (``facts.taken``, or a text with a link): say it, and offer the text
    confirming it. BRIDGED: an agent took them from the queue and that conversation has
    ended; a callback of theirs still waiting is closed. HUNG_UP: nobody to talk to. FAILED
    (the queue was full, or failed): ring the agents instead."""
    flow = _Flow(facts, now, url_for)
    if exit is QueueExit.LEFT:
        if facts.taken is not None:
            return flow.booked(state, facts.taken)
        if facts.texted_link:
            return flow.end(state, flow.t(state, "texted_link"))
        return flow.fallback(state)
    if exit is QueueExit.BRIDGED:
        return Reply(script(Hangup()), None, Resolve(facts.existing.ref) if facts.existing is not None else None)
    if exit is QueueExit.HUNG_UP:
        return Reply(script(Hangup()))
    return flow.ring_agents(state)


def unknown_number(language: str = "en") -> VoiceScript:
    return script(Say(str(text("unknown_number", language)), voice(language)), Hangup())


def advance(
    state: IvrState, digits: str | None, facts: Facts, now: datetime, url_for: UrlFor, speech: str | None = None
) -> Reply:
    """The caller's answer to the state's gather: a key (or keys, for a number), a
    spoken answer naming a key (or saying the number), or nothing (the gather timed out)."""
    flow = _Flow(_with_figures_told(facts, state), now, url_for)
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
    flow = _Flow(_with_figures_told(facts, state), now, url_for)
    if state.queued and (isinstance(outcome, Booked) or isinstance(effect, TextLink)):
        return flow.leave_queue()
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
    "PROMPTS",
    "RECORDABLE_PROMPTS",
    "TEXT_MESSAGES",
    "Book",
    "Booked",
    "Cancel",
    "Effect",
    "ExistingCallback",
    "Facts",
    "Failed",
    "IvrState",
    "Outcome",
    "PromptText",
    "QueueFacts",
    "Reply",
    "Reschedule",
    "Resolve",
    "TextConfirmation",
    "TextLink",
    "UrlFor",
    "advance",
    "answer",
    "dequeued",
    "dialled",
    "resolve",
    "text",
    "unknown_number",
    "waiting",
]

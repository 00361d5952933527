"""The shell around ivr_flows/inbound.py: load what the flow needs, sign its state into
the gather URLs, and carry out what it asks (book, reschedule, cancel, text a link)
through the one way each is done (services/booking_service.py, the SMS outbox).

Everything runs in the webhook's write transaction: a caller who hangs up mid-flow
leaves nothing half-done, because each webhook either completes its one effect or
changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from urllib.parse import urlencode

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.models import Callback, IvrOffer, Queue
from infra.settings import Settings
from infra.text_models import SmsMessage
from ivr_flows import inbound
from scheduler.agents import line_wait_seconds
from scheduler.calendar import is_open
from scheduler.consent import consent_wording
from scheduler.errors import DomainError
from scheduler.phone import mask_phone, parse_phone
from scheduler.presence import with_agent
from services import inbound_presence as presence
from services.agent_figures import queue_staffing
from services.asap_promise import asap_promise_with
from services.availability import next_bookable_starts
from services.booking_service import BookingRequest, book, cancel, find_live_callback, prepare_booking, reschedule
from services.callback_limits import withheld_now
from services.ivr_offers import note_acceptance, note_offer
from services.links import short_booking_url
from services.queues import get_queue, queue_calendar, queue_key_for_number
from sms.outbox import queue_text
from sms.reminders import sync_reminders
from telephony.base import (
    CALLER_CALL_ID_PARAM,
    TERMINAL_CALL_STATES,
    CallEvent,
    CallState,
    DialResult,
    GatherResult,
    InboundCall,
    QueueData,
    QueueExit,
    Telephony,
)
from telephony.script import VoiceScript

log = logging.getLogger(__name__)

SLOTS_LOADED = 30  # ten pages of three: "4 for later times" rarely goes further
LINK_TEXT_KIND = "ivr_booking_link"
CONFIRMATION_TEXT_KIND = "ivr_confirmation"
TEXT_DEDUPE = timedelta(minutes=10)  # a provider's retry of the same keypress sends no second text
ACTOR = "ivr"


class IvrUrls:
    """The inbound webhook URLs; a gather's carries the call's state, signed (never
    trusted unsigned: Vonage's signature does not cover the URL)."""

    def __init__(self, base_url: str, secret: str) -> None:
        self.base = base_url
        self.serializer = URLSafeSerializer(secret, salt="ivr-state")

    def answer_url(self, provider: str) -> str:
        return f"{self.base}/webhooks/{provider}/voice/inbound"

    def gather(self, provider: str, state: inbound.IvrState) -> str:
        url = f"{self.base}/webhooks/{provider}/voice/ivr/{self.serializer.dumps(state.to_json())}"
        if state.step == "holding":
            # The hold's status URL: Vonage's connect events name the agent's leg only,
            # so the caller's call id rides along (the adapter reads it from here).
            url += f"?{urlencode({CALLER_CALL_ID_PARAM: state.call_id})}"
        return url

    def state(self, token: str) -> inbound.IvrState:
        try:
            return inbound.IvrState.from_json(self.serializer.loads(token))
        except (BadSignature, KeyError, TypeError, ValueError):
            raise LookupError("not a state we signed") from None


def caller_number(raw: str, queue: Queue) -> str | None:
    """The caller id as a number we may call back, or None (withheld, a client name, a
    number of a country the queue does not call)."""
    try:
        return parse_phone(raw, queue.region, queue.allowed_countries)
    except DomainError:
        return None


def load_facts(
    session: Session,
    queue: Queue,
    phone: str | None,
    now: datetime,
    adapter: Telephony,
    queue_data: QueueData | None,
    agent_figures_max_age: timedelta,
) -> inbound.Facts:
    staff = queue_staffing(session, queue, now, agent_figures_max_age)
    line = line_wait_seconds(queue.callers_waiting, staff)
    # A caller who holds reaches an agent when an ASAP callback booked now would ring: after
    # the callers ahead and the callbacks due before then (with live figures; else the line's
    # wait alone, the static estimate of the whole wait).
    wait = int((asap_promise_with(session, queue, now, line, staff).due - now).total_seconds())
    queue_facts = inbound.QueueFacts(
        key=queue.key,
        name=queue.name,
        timezone=queue.timezone,
        language=queue.language,
        region=queue.region,
        allowed_countries=tuple(queue.allowed_countries or ()),
        # The provider's stand-in agent (the simulator's) when the queue names none.
        agent_target=queue.agent_target or adapter.default_agent_target,
        open_now=is_open(queue_calendar(queue), now),
        # The live agent figures when fresh (PUT /api/v1/queues/{key}/agents), else the
        # queue's static staffing: callers a free agent takes at once wait for nobody.
        estimated_wait_seconds=wait,
        line_wait_seconds=line,
        offer_threshold_seconds=queue.offer_threshold_seconds,
        offer_at_entry=queue.offer_at_entry,
        offer_repeat_seconds=queue.offer_repeat_seconds,
        average_handle_seconds=staff.average_handle_seconds,
        agents=staff.agents,
        prompt_audio=dict(queue.prompt_audio or {}),
        callbacks_withheld=_withheld(session, queue, now, wait),
        enqueue_as=_provider_queue(queue, adapter),
    )
    existing = None
    if phone is not None:
        callback = find_live_callback(session, queue.id, phone)
        if callback is not None:
            existing = inbound.ExistingCallback(callback.ref, callback.kind, *_when(callback, now))
    slots = tuple(next_bookable_starts(session, queue, now, SLOTS_LOADED))
    return inbound.Facts(queue_facts, existing, slots, queue_data)


def _provider_queue(queue: Queue, adapter: Telephony) -> str | None:
    """The provider's queue holding callers wait in (hold_mode "enqueue"), named
    ``twilio_queue`` or else like the queue's key; None where the provider has no queue
    of its own (Vonage, the simulator): there they hold ringing agent_target."""
    if queue.hold_mode != "enqueue" or not adapter.supports_enqueue:
        return None
    return queue.twilio_queue or queue.key


def _withheld(session: Session, queue: Queue, now: datetime, ecbt_seconds: int) -> str | None:
    """Why the queue offers no callback now (its limits: services/callback_limits.py), or None."""
    return withheld_now(session, queue, ecbt_seconds if queue.max_ecbt_seconds is not None else None)


def _when(callback: Callback, now: datetime) -> tuple[datetime, datetime | None]:
    """When the callback rings as the caller was told it: a scheduled one's slot start; an
    ASAP one's range (its due time alone once the range no longer holds)."""
    window = callback.promised_window
    if callback.kind == "asap" and window is not None:
        return window
    return callback.promised_at or now, None


def answer_call(
    session: Session, adapter: Telephony, call: InboundCall, now: datetime, settings: Settings
) -> VoiceScript:
    """The first webhook of an inbound call: find the queue by the number dialled."""
    urls = IvrUrls(settings.public_base_url, settings.secret_key)
    provider = adapter.name
    key = queue_key_for_number(session, call.to)
    if key is None:
        log.warning("inbound %s call %s to %s: no queue answers this number", provider, call.call_id, call.to)
        return inbound.unknown_number()
    queue = get_queue(session, key)
    caller = caller_number(call.from_, queue)
    facts = load_facts(session, queue, caller, now, adapter, call.queue_data, settings.agent_figures_max_age)
    log.info("inbound %s call %s from %s to queue %s", provider, call.call_id, mask_phone(caller or "-"), key)
    reply = inbound.answer(call.call_id, caller, facts, now, lambda state: urls.gather(provider, state))
    note_offer(session, queue.id, provider, reply, now, "arrival")
    presence.note(session, provider, call.call_id, caller, queue.id, presence.after_script(reply.script, now), now)
    return reply.script


@dataclass(frozen=True)
class _Turn:
    """What each webhook of a call's state loads first: its queue, the facts the flow
    decides on, and how the flow's next states become our URLs."""

    provider: str
    queue: Queue
    facts: inbound.Facts
    url_for: Callable[[inbound.IvrState], str]


def _turn(
    session: Session,
    adapter: Telephony,
    state: inbound.IvrState,
    queue_data: QueueData | None,
    now: datetime,
    settings: Settings,
) -> _Turn:
    urls = IvrUrls(settings.public_base_url, settings.secret_key)
    provider = adapter.name
    queue = get_queue(session, state.queue)
    facts = load_facts(session, queue, state.caller, now, adapter, queue_data, settings.agent_figures_max_age)
    return _Turn(provider, queue, facts, lambda next_state: urls.gather(provider, next_state))


def gather(
    session: Session,
    adapter: Telephony,
    state: inbound.IvrState,
    result: GatherResult,
    now: datetime,
    settings: Settings,
) -> VoiceScript:
    """The caller's answer to a gather: the next prompt, or an effect and what follows it."""
    turn = _turn(session, adapter, state, result.queue_data, now, settings)
    queue, provider, url_for = turn.queue, turn.provider, turn.url_for
    reply = inbound.advance(state, result.digits, turn.facts, now, url_for, speech=result.speech)
    if reply.effect is None:
        note_offer(session, queue.id, provider, reply, now, "holding" if state.held or state.queued else "menu")
        _note_presence(session, provider, state, queue, reply.script, now)
        return reply.script
    after = reply.state or state
    outcome = _carry_out(session, queue, after, reply.effect, now, settings)
    if not isinstance(outcome, inbound.Failed):
        ref = outcome.ref if isinstance(outcome, inbound.Booked) else None
        spared = inbound.caller_line_wait(turn.facts, now)
        note_acceptance(session, provider, after, reply.effect, now, callback_ref=ref, wait_avoided_seconds=spared)
    facts = load_facts(
        session, queue, after.caller, now, adapter, result.queue_data, settings.agent_figures_max_age
    )  # seats and callbacks now
    answer = inbound.resolve(after, reply.effect, outcome, facts, now, url_for).script
    _note_presence(session, provider, state, queue, answer, now)
    return answer


def waiting(
    session: Session,
    adapter: Telephony,
    state: inbound.IvrState,
    result: GatherResult,
    now: datetime,
    settings: Settings,
) -> VoiceScript:
    """The provider queue's wait URL (asked again and again while the caller waits there,
    with their place in it): a hold, or the offer when it is due."""
    turn = _turn(session, adapter, state, result.queue_data, now, settings)
    reply = inbound.waiting(state, turn.facts, now, turn.url_for)
    note_offer(session, turn.queue.id, turn.provider, reply, now, "holding")
    _note_presence(session, turn.provider, state, turn.queue, reply.script, now)
    return reply.script


def dequeued(
    session: Session,
    adapter: Telephony,
    state: inbound.IvrState,
    result: GatherResult,
    now: datetime,
    settings: Settings,
) -> VoiceScript:
    """The caller is out of the provider's queue (the Enqueue's action URL): what they took
    there is said, a callback of theirs closed when an agent took them, or they ring the
    agents when the queue failed. No result at all counts as a failed queue."""
    turn = _turn(session, adapter, state, result.queue_data, now, settings)
    queue, provider, facts = turn.queue, turn.provider, turn.facts
    exit = result.queue_exit or QueueExit.FAILED
    if exit is QueueExit.LEFT:
        facts = _with_what_was_taken(session, queue, provider, state.call_id, facts, now)
    reply = inbound.dequeued(state, exit, facts, now, turn.url_for)
    note_offer(session, queue.id, provider, reply, now, "holding")
    _note_presence(session, provider, state, queue, reply.script, now)
    if isinstance(reply.effect, inbound.Resolve):
        _close_resolved(session, state, reply.effect, now)
    return reply.script


def _with_what_was_taken(
    session: Session, queue: Queue, provider: str, call_id: str, facts: inbound.Facts, now: datetime
) -> inbound.Facts:
    """The facts with what the caller took in the provider's queue, read from the call's
    offer (services/ivr_offers.py): the callback booked, while it is still live, or the
    text with a link. The phone may be another than the caller's own (keyed in)."""
    offer = session.scalar(select(IvrOffer).where(IvrOffer.provider == provider, IvrOffer.call_id == call_id[:64]))
    if offer is None or offer.accepted_at is None:
        return facts
    if offer.choice == "link":
        return replace(facts, texted_link=True)
    booked = session.scalar(select(Callback).where(Callback.ref == offer.callback_ref, Callback.queue_id == queue.id))
    if booked is None or find_live_callback(session, queue.id, booked.phone) is not booked:
        return facts
    at, until = _when(booked, now)
    return replace(facts, taken=inbound.Booked(booked.kind, at, booked.phone, until, booked.ref))


def _note_presence(
    session: Session, provider: str, state: inbound.IvrState, queue: Queue, script: VoiceScript, now: datetime
) -> None:
    on_line = presence.after_script(script, now, queued=state.queued)
    presence.note(session, provider, state.call_id, state.caller, queue.id, on_line, now)


def _close_resolved(session: Session, state: inbound.IvrState, effect: inbound.Resolve, now: datetime) -> None:
    """The caller reached an agent while their callback waited: close it."""
    try:
        cancel(session, effect.ref, now, ACTOR, reason="resolved: the customer reached an agent by calling in")
    except DomainError as error:  # being dialled right now, say: leave it to the dialer
        log.info("inbound call %s: callback %s not closed: %s", state.call_id, effect.ref, error.type)


def dialled(
    session: Session, adapter: Telephony, state: inbound.IvrState, result: DialResult, now: datetime, settings: Settings
) -> VoiceScript:
    """How ringing the agents for a holding caller went."""
    talked = result.state is CallState.COMPLETED and (result.duration_seconds or 0) > 0
    if result.state is CallState.ANSWERED:
        agent = "answered"
    elif talked:
        agent = "talked"
    elif result.state in (CallState.QUEUED, CallState.RINGING):
        agent = "ringing"
    else:
        agent = "missed"
    turn = _turn(session, adapter, state, result.queue_data, now, settings)
    reply = inbound.dialled(state, agent, turn.facts, now, turn.url_for)
    note_offer(session, turn.queue.id, turn.provider, reply, now, "holding")
    on_line = with_agent(now) if agent == "answered" else presence.after_script(reply.script, now)
    presence.note(session, turn.provider, state.call_id, state.caller, turn.queue.id, on_line, now)
    if isinstance(reply.effect, inbound.Resolve):
        _close_resolved(session, state, reply.effect, now)
    return reply.script


def call_ended(session: Session, adapter: Telephony, event: CallEvent, now: datetime) -> None:
    """The provider's report on an inbound call (its status URL): once it ended, the
    caller is no longer on the line with us and their callback may be rung."""
    if event.state in TERMINAL_CALL_STATES:
        presence.end(session, adapter.name, event.call_id, now)


def _carry_out(
    session: Session, queue: Queue, state: inbound.IvrState, effect: inbound.Effect, now: datetime, settings: Settings
) -> inbound.Outcome:
    """Each effect is idempotent, so a provider retrying the same webhook changes nothing
    the second time: booking returns the live callback the number already has,
    rescheduling to the slot it holds and cancelling a cancelled callback do nothing, and
    each text is sent once per number in TEXT_DEDUPE."""
    try:
        if isinstance(effect, inbound.Book):
            request = BookingRequest(
                queue=queue.key,
                phone=effect.phone,
                kind=effect.kind,
                source="ivr",
                slot_start=effect.slot_start,
                locale=state.language,
                estimated_wait_seconds=effect.estimated_wait_seconds,
            )
            result = book(
                session, request, now, ACTOR, prepare_booking(session, request, now, settings.agent_figures_max_age)
            )
            at, until = _when(result.callback, now)
            return inbound.Booked(result.callback.kind, at, result.callback.phone, until, result.callback.ref)
        if isinstance(effect, inbound.Reschedule):
            callback = reschedule(session, effect.ref, effect.slot_start, now, ACTOR)
            at, until = _when(callback, now)
            return inbound.Booked(callback.kind, at, callback.phone, until, callback.ref)
        if isinstance(effect, inbound.Cancel):
            cancel(session, effect.ref, now, ACTOR, reason="cancelled by the caller on an inbound call")
            return None
        if isinstance(effect, inbound.TextConfirmation):
            _text_confirmation(session, queue, effect, now)
            return None
        if isinstance(effect, inbound.Resolve):
            return None  # only ``dialled`` asks for it
        _text_link(session, queue, effect, now, settings)
        return None
    except DomainError as error:
        log.info("inbound call %s: %s (%s)", state.call_id, error.type, error)
        return inbound.Failed(error)


def _sent_lately(session: Session, kind: str, to: str, now: datetime) -> bool:
    recent = session.scalar(
        select(SmsMessage.id).where(
            SmsMessage.kind == kind, SmsMessage.to == to, SmsMessage.created_at >= now - TEXT_DEDUPE
        )
    )
    return recent is not None


def _text_confirmation(session: Session, queue: Queue, effect: inbound.TextConfirmation, now: datetime) -> None:
    """The caller consented by pressing 1: note it on their callback, and text them once."""
    callback = find_live_callback(session, queue.id, effect.phone)
    if callback is not None:
        if not callback.sms_consent:
            callback.sms_consent = True
            callback.sms_consent_channel, callback.sms_consent_at = "ivr", now
            callback.sms_consent_wording = consent_wording("ivr")
        sync_reminders(session, callback, now)  # consent given: its reminders are planned now
    if not _sent_lately(session, CONFIRMATION_TEXT_KIND, effect.phone, now):
        queue_text(
            session,
            effect.phone,
            CONFIRMATION_TEXT_KIND,
            now,
            effect.body,
            callback_id=callback.id if callback else None,
        )


def _text_link(session: Session, queue: Queue, effect: inbound.TextLink, now: datetime, settings: Settings) -> None:
    if _sent_lately(session, LINK_TEXT_KIND, effect.phone, now):
        return
    link = short_booking_url(session, settings, now, queue.key, effect.phone)
    queue_text(session, effect.phone, LINK_TEXT_KIND, now, effect.body_template.replace("{link}", link))

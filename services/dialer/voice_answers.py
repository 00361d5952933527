"""What the called party hears: the answers to the voice webhooks of a callback call (the
customer picks up, presses a key or says it, the bridge to the agent ends). The words are
ivr_flows/callback_script.py's; this records what happened and moves the callback."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session

from infra.models import Attempt, Callback
from infra.settings import Settings
from ivr_flows import callback_script
from ivr_flows.speech import spoken_key
from scheduler.dialing import CALL_STATE_RANK
from scheduler.lifecycle import ON_CALL_STATES, State
from scheduler.machine import MachineAction, machine_action
from scheduler.outcomes import CANCEL, CONNECT, RESCHEDULE, SILENT
from services.dialer.call_reports import adopt_call_id, callback_language, clear_lease, queue_callback_text
from services.dialer.urls import WebhookUrls
from services.links import short_booking_url
from services.seats import release_seat
from services.transitions import apply_step
from sms import texts
from telephony.base import AnsweredBy, CallState, DialResult, GatherResult, Telephony
from telephony.script import VoiceScript

CtxFactory = Callable[[Attempt], callback_script.CallContext]


def call_context(
    settings: Settings, urls: WebhookUrls, adapter: Telephony, attempt: Attempt
) -> callback_script.CallContext:
    callback = attempt.callback
    queue = callback.queue
    provider = adapter.name
    return callback_script.CallContext(
        company=settings.company_name if settings.company_name != "our team" else queue.name,
        language=callback.locale or queue.language,
        menu_url=urls.menu(provider, attempt.id),
        dial_url=urls.dial(provider, attempt.id),
        agent_target=queue.agent_target or adapter.default_agent_target,
        caller_id=queue.caller_id or settings.caller_id,
        voicemail_text=queue.voicemail_text,
    )


def answer_script(
    session: Session,
    attempt_id: int,
    answered_by: AnsweredBy | None,
    now: datetime,
    ctx_for: CtxFactory,
    call_id: str | None = None,
) -> VoiceScript:
    """What the called party hears when they pick up. ``call_id``: the provider's id of the
    call, kept when the attempt has none yet (Twilio placed it for a TaskRouter reservation)."""
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    if attempt.call_id is None and call_id:
        adopt_call_id(session, attempt, call_id)
    ctx = ctx_for(attempt)
    attempt.answered_at = attempt.answered_at or now
    if CALL_STATE_RANK.get(attempt.call_state, 0) < CALL_STATE_RANK["answered"] and attempt.outcome is None:
        attempt.call_state = CallState.ANSWERED.value
    callback = attempt.callback
    if callback.state not in ON_CALL_STATES or attempt.outcome is not None:
        return callback_script.goodbye(ctx)
    if attempt.agent_first:
        return callback_script.agent_offer(ctx, step=1)  # the agent takes it by pressing 1
    if answered_by is AnsweredBy.MACHINE:
        # Synchronous detection: the provider asks for the script once it knows (Twilio's
        # DetectMessageEnd: after the greeting). The machine never hears the menu.
        attempt.answered_by = AnsweredBy.MACHINE.value
        action = machine_action(callback.queue.machine_action, callback.queue.voicemail_text)
        if attempt.machine_handled_at is None:
            attempt.machine_handled_at, attempt.machine_handling = now, action.value
        leave = attempt.machine_handling == MachineAction.LEAVE_MESSAGE.value
        return callback_script.for_machine(ctx.language, ctx.voicemail_text, leave)
    return callback_script.menu(ctx, step=1)


def menu_choice(
    session: Session,
    attempt_id: int,
    step: int,
    result: GatherResult,
    now: datetime,
    settings: Settings,
    ctx_for: CtxFactory,
) -> VoiceScript:
    """The customer's answer to the callback menu (or their silence)."""
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    callback = session.get_one(Callback, attempt.callback_id, with_for_update=True)
    ctx = ctx_for(attempt)
    key = (result.digits or "").strip()[:1] or spoken_key(result.speech, ctx.language)
    if attempt.outcome is not None or callback.state not in ON_CALL_STATES:
        return callback_script.goodbye(ctx)
    if attempt.agent_first:
        return _agent_choice(attempt, callback, key, step, now, ctx)
    if attempt.menu_choice == CONNECT or key == "1":
        attempt.menu_choice = CONNECT
        if callback.state == State.DIALING.value:
            apply_step(session, callback, "connect", now, "customer", reason="pressed 1: connect me")
        return callback_script.connect(ctx)
    if key in ("2", "3"):
        attempt.menu_choice = RESCHEDULE if key == "2" else CANCEL
        reason = "asked for another time" if key == "2" else "cancelled on the callback call"
        apply_step(session, callback, "decline", now, "customer", reason=reason)
        clear_lease(callback)
        callback.next_attempt_at = None
        release_seat(session, callback.slot_id)
        if key == "2":
            link = short_booking_url(session, settings, now, callback.queue.key, callback.phone)
            language = callback_language(callback)
            body = texts.render(texts.CHOOSE_ANOTHER_TIME, language, name=callback.queue.name, link=link)
            queue_callback_text(session, callback, "reschedule_link", now, body)
            return callback_script.texted_link(ctx)
        return callback_script.cancelled(ctx)
    if step < 2:
        return callback_script.menu(ctx, step=step + 1)  # no or wrong key: say it once more
    attempt.menu_choice = SILENT
    return callback_script.voicemail(ctx)


def _agent_choice(
    attempt: Attempt, callback: Callback, key: str, step: int, now: datetime, ctx: callback_script.CallContext
) -> VoiceScript:
    """Agent-first: the agent's answer to the callback offered them. 1 takes it (the agent
    is reserved: ``agent_answered_at``) and the customer is rung; silence or another key
    asks once more, then the call ends and the callback is retried soon (agent unavailable)."""
    if attempt.agent_answered_at is not None or key == "1":
        attempt.agent_answered_at = attempt.agent_answered_at or now
        return callback_script.agent_intro(ctx, callback.phone)
    if step < 2:
        return callback_script.agent_offer(ctx, step=step + 1)
    return callback_script.goodbye(ctx)


def dial_result(
    session: Session, attempt_id: int, result: DialResult, now: datetime, ctx_for: CtxFactory
) -> VoiceScript:
    """How the bridge went: customer-first, whether an agent took the call; agent-first,
    whether the customer answered the agent's call to them."""
    attempt = session.get_one(Attempt, attempt_id, with_for_update=True)
    ctx = ctx_for(attempt)
    talked = result.state is CallState.ANSWERED or (
        result.state is CallState.COMPLETED and (result.duration_seconds or 0) > 0
    )
    if attempt.agent_first:
        attempt.customer_leg_state = result.state.value
        if talked:
            attempt.menu_choice = CONNECT
            if attempt.callback.state == State.DIALING.value:
                apply_step(session, attempt.callback, "connect", now, "customer", reason="answered the agent's call")
        return VoiceScript(()) if result.state is CallState.ANSWERED else callback_script.goodbye(ctx)
    if talked:
        attempt.agent_answered_at = attempt.agent_answered_at or now
        return VoiceScript(()) if result.state is CallState.ANSWERED else callback_script.goodbye(ctx)
    return callback_script.no_agent(ctx)

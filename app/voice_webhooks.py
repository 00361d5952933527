"""Provider webhooks: /webhooks/<provider>/voice/… — verify first, then parse, then act.

Nothing is read before the signature is checked (403 otherwise), handlers answer fast
and never call a provider inline (texts go to the outbox the worker sends). Call-progress
reports are stored in an inbox with one statement and applied by the worker within about
a second (services/call_inbox.py); the answer, menu and dial webhooks act at once, because the
provider waits for the script they return.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager, suppress

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy.exc import NoResultFound

from app.webhook_verification import WebhookRejected, rejected, verified
from infra import context, metrics
from infra.models import Attempt
from ivr_flows.callback_script import CallContext
from ivr_flows.inbound import IvrState
from services import inbound_calls
from services.call_inbox import store_call_event
from services.dialer import reservations
from services.dialer.urls import WebhookUrls
from services.dialer.voice_answers import answer_script, call_context, dial_result, menu_choice
from telephony.base import AnsweredBy, Telephony, WebhookRequest
from telephony.script import VoiceScript

log = logging.getLogger(__name__)

webhooks = Blueprint("webhooks", __name__, url_prefix="/webhooks")
webhooks.after_request(metrics.count_webhook)


webhooks.register_error_handler(WebhookRejected, rejected)


def _urls() -> WebhookUrls:
    settings = context.settings()
    return WebhookUrls(settings.public_base_url, settings.secret_key)


# Beyond any row id, and beyond what the database's integers hold (an overflow is a 500).
MAX_ATTEMPT_ID = 2**62


def _attempt_id(token: str) -> int:
    try:
        attempt_id = _urls().attempt_id(token)
    except LookupError:
        attempt_id = 0
    if not 0 < attempt_id <= MAX_ATTEMPT_ID:
        raise WebhookRejected(404, "attempt_not_found", "this webhook URL names no attempt")
    return attempt_id


@contextmanager
def _attempt_still_stored() -> Iterator[None]:
    """Around a handler that reads the attempt its signed URL names: an attempt no longer
    stored (handed back undialled, say) is a 404 like an unknown token, not a 500."""
    try:
        yield
    except NoResultFound:
        raise WebhookRejected(404, "attempt_not_found", "this webhook URL names no attempt") from None


def _context_for(adapter: Telephony):  # type: ignore[no-untyped-def]
    settings, urls = context.settings(), _urls()

    def make(attempt: Attempt) -> CallContext:
        return call_context(settings, urls, adapter, attempt)

    return make


def _render(adapter: Telephony, script: VoiceScript) -> Response:
    rendered = adapter.render(script)
    return Response(rendered.body, content_type=rendered.content_type)


def _malformed(error: ValueError) -> WebhookRejected:
    return WebhookRejected(400, "malformed_webhook", str(error))


@webhooks.route("/<provider>/voice/answer/<token>", methods=["GET", "POST"])
def voice_answer(provider: str, token: str) -> Response:
    adapter, incoming = verified(provider)
    attempt_id = _attempt_id(token)
    answered_by: AnsweredBy | None = None
    call_id: str | None = None
    with suppress(ValueError):  # Twilio's synchronous AMD puts AnsweredBy on the answer request itself
        answering = adapter.parse_call_event(incoming)
        answered_by, call_id = answering.answered_by, answering.call_id
    with _attempt_still_stored(), context.db().write() as session:
        script = answer_script(session, attempt_id, answered_by, context.now(), _context_for(adapter), call_id)
    return _render(adapter, script)


@webhooks.post("/<provider>/voice/event/<token>")
def voice_event(provider: str, token: str) -> Response:
    adapter, incoming = verified(provider)
    attempt_id = _attempt_id(token)
    try:
        event = adapter.parse_call_event(incoming)
    except ValueError as error:
        # Signed by the provider, but not a call-progress report we act on (Vonage also
        # sends transfer, record and error events here). Acknowledge it, or the provider
        # retries it for hours; log it so that nothing disappears unseen.
        log.warning("%s event for attempt %s not acted on: %s", provider, attempt_id, error)
        return Response(status=204)
    # Into the inbox, nothing read: the worker applies it (a redelivery finds its key and does nothing).
    store_call_event(context.db(), attempt_id, event, incoming.body, context.now())
    return Response(status=204)


@webhooks.post("/<provider>/voice/menu/<token>/<int:step>")
def voice_menu(provider: str, token: str, step: int) -> Response:
    adapter, incoming = verified(provider)
    attempt_id = _attempt_id(token)
    try:
        result = adapter.parse_gather(incoming)
    except ValueError as error:
        raise _malformed(error) from None
    with _attempt_still_stored(), context.db().write() as session:
        script = menu_choice(
            session, attempt_id, step, result, context.now(), context.settings(), _context_for(adapter)
        )
    return _render(adapter, script)


@webhooks.post("/<provider>/voice/dial/<token>")
def voice_dial(provider: str, token: str) -> Response:
    adapter, incoming = verified(provider)
    attempt_id = _attempt_id(token)
    try:
        result = adapter.parse_dial_result(incoming)
    except ValueError as error:
        raise _malformed(error) from None
    with _attempt_still_stored(), context.db().write() as session:
        script = dial_result(session, attempt_id, result, context.now(), _context_for(adapter))
    return _render(adapter, script)


# --- inbound calls: a caller dials a queue's number (services/inbound_calls.py) ---------------


@webhooks.route("/<provider>/voice/inbound", methods=["GET", "POST"])
def voice_inbound(provider: str) -> Response:
    """The answer URL set on the provider's number (Twilio's voice URL, Vonage's answer URL)."""
    adapter, incoming = verified(provider)
    try:
        call = adapter.parse_inbound_call(incoming)
    except ValueError as error:
        raise _malformed(error) from None
    with context.db().write() as session:
        script = inbound_calls.answer_call(session, adapter, call, context.now(), context.settings())
    return _render(adapter, script)


@webhooks.post("/<provider>/voice/inbound/status")
def voice_inbound_status(provider: str) -> Response:
    """The status URL set on the provider's number (Twilio's call status changes, Vonage's
    event URL): an inbound call's end, so that the dialer may ring the caller again."""
    adapter, incoming = verified(provider)
    try:
        event = adapter.parse_call_event(incoming)
    except ValueError as error:
        log.warning("%s inbound call event not acted on: %s", provider, error)  # acknowledged: no retries
        return Response(status=204)
    with context.db().write() as session:
        inbound_calls.call_ended(session, adapter, event, context.now())
    return Response(status=204)


def _ivr_state(token: str) -> IvrState:
    settings = context.settings()
    try:
        state: IvrState = inbound_calls.IvrUrls(settings.public_base_url, settings.secret_key).state(token)
    except LookupError:
        raise WebhookRejected(404, "state_not_found", "this webhook URL carries no state we signed") from None
    return state


@webhooks.post("/<provider>/voice/ivr/<token>")
def voice_ivr(provider: str, token: str) -> Response:
    """The action of an inbound call's gather: the signed state of the call in the URL. The
    same URL, by the state's step, is a hold's status URL ("holding"), and a provider queue's
    wait URL ("queued") and action URL ("dequeued")."""
    adapter, incoming = verified(provider)
    state = _ivr_state(token)
    if state.step == "holding":
        return _ivr_dialled(provider, adapter, incoming, state)
    try:
        result = adapter.parse_gather(incoming)
    except ValueError as error:
        raise _malformed(error) from None
    if result.call_id != state.call_id:  # a state is good for the call it was made for only
        raise WebhookRejected(404, "state_not_found", "this state belongs to another call")
    handle = _IVR_STEPS.get(state.step, inbound_calls.gather)
    with context.db().write() as session:
        script = handle(session, adapter, state, result, context.now(), context.settings())
    return _render(adapter, script)


_IVR_STEPS = {"queued": inbound_calls.waiting, "dequeued": inbound_calls.dequeued}


def _ivr_dialled(provider: str, adapter: Telephony, incoming: WebhookRequest, state: IvrState) -> Response:
    """A holding caller's ring to the agents ended (or made progress): the Connect's status URL."""
    try:
        result = adapter.parse_dial_result(incoming)
    except ValueError as error:
        raise _malformed(error) from None
    if result.call_id != state.call_id:
        raise WebhookRejected(404, "state_not_found", "this state belongs to another call")
    with context.db().write() as session:
        script = inbound_calls.dialled(session, adapter, state, result, context.now(), context.settings())
    return _render(adapter, script)


@webhooks.post("/<provider>/taskrouter/assignment")
def taskrouter_assignment(provider: str) -> Response:
    """TaskRouter reserved a worker for one of our tasks (a Twilio workflow's assignment
    callback URL): ring them, or reject a task that is no longer ours to ring
    (services/dialer/reservations.py). Twilio only."""
    _, incoming = verified(provider)
    acd = current_app.extensions["providers"].reservations(provider)
    if acd is None:
        raise WebhookRejected(404, "provider_not_configured", "TaskRouter assignments come from Twilio only")
    try:
        assignment = acd.parse_assignment(incoming.form)
    except ValueError as error:
        raise _malformed(error) from None
    with context.db().write() as session:
        answer = reservations.answer_assignment(session, acd, assignment, _urls(), context.settings(), context.now())
    return jsonify(answer)

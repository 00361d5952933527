"""Twilio behind the provider-neutral interface, through the official ``twilio`` SDK.

Thin on purpose: build the SDK call, translate its answer into ``telephony.base``
types and its failures into ``ProviderError``. No SDK exception or SDK object leaves
this module.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qs, urlsplit

import requests
from twilio.base.exceptions import TwilioException, TwilioRestException, TwilioServiceException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client
from twilio.twiml.voice_response import VoiceResponse

from scheduler.phone import mask_phone
from telephony.base import (
    CallEvent,
    CallState,
    DialResult,
    GatherResult,
    InboundCall,
    InboundSms,
    OutboundCall,
    PlacedCall,
    ProviderError,
    RenderedScript,
    SentSms,
    SignatureError,
    SmsStatus,
    WebhookRequest,
)
from telephony.provider_setup import ProviderSetup
from telephony.script import Connect, Enqueue, Gather, Hangup, Leave, Pause, Play, Say, VoiceScript
from telephony.twilio_fields import (
    _answered_by,
    _aware_utc,
    _field,
    _header,
    _int_or_none,
    _required,
    _rfc2822,
    _sid,
    parse_queue_data,
    parse_queue_exit,
)
from telephony.twilio_twiml import _add_dial, _add_enqueue, _add_gather, _add_prompt

if TYPE_CHECKING:
    from telephony.base import Telephony

PROVIDER: Final = "twilio"

# The SDK's default HTTP client has no timeout at all: a stalled connection would hang
# a dialer worker (and its lease) forever.
REQUEST_TIMEOUT_SECONDS: Final = 10.0

# Twilio's default opt-out keywords (PROVIDERS.md): Twilio blocks all later texts to a
# sender whose whole message is one of these, whatever our webhook then does.
OPT_OUT_KEYWORDS: Final = frozenset({"stop", "stopall", "unsubscribe", "end", "quit", "revoke", "optout", "cancel"})

EMPTY_TWIML: Final = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'

STATUS_CALLBACK_EVENTS: Final = ("initiated", "ringing", "answered", "completed")

# Twilio error codes after which retrying the same number cannot help. Meanings from
# twilio.com/docs/api/errors/<code> and Twilio's support articles on geo permissions.
# Several are account settings rather than a bad number (21215, 21216, 21219, 21408,
# 32205): retrying still cannot help until someone changes the setting, and the code
# travels on the ProviderError so an operator can tell them apart.
PERMANENT_ERROR_CODES: Final[Mapping[int, str]] = {
    # REST API, placing a call
    21211: "invalid 'To' phone number",
    21214: "'To' phone number cannot be reached",
    21215: "voice geo permissions do not allow calling this destination",
    21216: "call blocked by Twilio (high-risk or regulated destination; +1 without a Primary Customer Profile)",
    21217: "phone number does not appear to be valid",
    21219: "'To' number not verified (trial accounts may only call verified numbers)",
    # REST API, sending an SMS
    21401: "invalid phone number (not an SMS-capable number or sender id)",
    21408: "SMS geo permissions do not allow sending to this region",
    21610: "recipient opted out of texts from this sender (STOP, CANCEL, ... replies)",
    21612: "'To' number cannot be reached by SMS from this sender",
    21614: "'To' number is not a valid mobile number (a landline or invalid)",
    # Call failures, reported as ErrorCode on the call (status callbacks, fetched call)
    13223: "Dial: invalid phone number format (not E.164)",
    13224: "Dial: Twilio does not support calling this number, or it is invalid",
    13225: "Dial: forbidden (restricted or blocked) number",
    13226: "Dial: invalid country code",
    32205: "call blocked by voice geo permissions",
}

AUTH_ERROR_CODE: Final = 20003  # "Authenticate": wrong account SID or auth token (HTTP 401)

_CALL_STATES: Final[Mapping[str, CallState]] = {
    "queued": CallState.QUEUED,
    "initiated": CallState.QUEUED,
    "ringing": CallState.RINGING,
    "in-progress": CallState.ANSWERED,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
    "failed": CallState.FAILED,
    "canceled": CallState.CANCELED,
}

# <Dial action> reports DialCallStatus once, when the bridge ends; "answered" is what
# a Dial to a conference reports, "completed" an ordinary bridge that took place.
_DIAL_STATES: Final[Mapping[str, CallState]] = {
    "answered": CallState.ANSWERED,
    "completed": CallState.COMPLETED,
    "busy": CallState.BUSY,
    "no-answer": CallState.NO_ANSWER,
    "failed": CallState.FAILED,
    "canceled": CallState.CANCELED,
}

_TERMINAL: Final = frozenset(
    {CallState.COMPLETED, CallState.BUSY, CallState.NO_ANSWER, CallState.FAILED, CallState.CANCELED}
)

_PHONE_IN_TEXT: Final = re.compile(r"\+?\d{7,15}")


def is_permanent_error_code(code: str | int | None) -> bool:
    """Whether a Twilio error code (a REST error, or a call's ``ErrorCode``) means
    retrying the same destination cannot help."""
    if code is None:
        return False
    try:
        return int(code) in PERMANENT_ERROR_CODES
    except ValueError:
        return False


class _NoEnvironment(dict[str, str]):
    """An empty environment that is still truthy.

    ``twilio.rest.Client`` reads TWILIO_EDGE/TWILIO_REGION (and credentials) from
    ``environment or os.environ``: an empty dict is falsy and would fall back to the
    process environment, which only the settings module may read.
    """

    def __bool__(self) -> bool:
        return True


class TwilioTelephony:
    name = PROVIDER
    default_agent_target: str | None = None
    supports_enqueue = True  # <Enqueue>: callers may hold in a Twilio queue (hold_mode enqueue)
    verifies_webhooks = True  # the auth token, without which Twilio is not configured
    confirms_opt_out = True  # Twilio answers STOP itself; ours would be refused (21610)

    def __init__(self, account_sid: str, auth_token: str, *, http_client: Any = None) -> None:
        self._validator = RequestValidator(auth_token)
        self._client = Client(
            account_sid,
            auth_token,
            http_client=http_client if http_client is not None else TwilioHttpClient(timeout=REQUEST_TIMEOUT_SECONDS),
            environment=_NoEnvironment(),
        )

    @property
    def rest_client(self) -> Client:
        """The SDK client (credentials, timeout, ``http_client``), for the family's other
        Twilio APIs: TaskRouter's statistics (telephony/twilio_taskrouter.py)."""
        return self._client

    # --- REST -------------------------------------------------------------------

    def place_call(self, call: OutboundCall) -> PlacedCall:
        options: dict[str, Any] = {
            "to": call.to,
            "from_": call.from_,
            "url": call.answer_url,
            "method": "POST",
            "status_callback": call.status_url,
            "status_callback_method": "POST",
            "status_callback_event": list(STATUS_CALLBACK_EVENTS),
            "timeout": call.ring_timeout_seconds,
        }
        if call.machine_detection:
            # Asynchronous AMD: the answer URL is fetched at once (the customer hears the
            # script without AMD's silence) and the verdict arrives later as its own
            # callback (CallSid + AnsweredBy, no CallStatus) on the status URL. With
            # DetectMessageEnd a machine's verdict (machine_end_beep|silence|other) comes
            # once its greeting ended, when a message said is recorded (redirect_call).
            options.update(
                machine_detection="DetectMessageEnd",
                async_amd="true",  # a string in the API, not a boolean
                async_amd_status_callback=call.status_url,
                async_amd_status_callback_method="POST",
            )
        try:
            created = self._client.calls.create(**options)
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        return PlacedCall(PROVIDER, _sid(created.sid))

    def fetch_call(self, call_id: str) -> CallEvent:
        try:
            fetched = self._client.calls(call_id).fetch()
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        return _event_from_call(fetched, call_id)

    def redirect_call(self, call_id: str, script: VoiceScript) -> None:
        """``POST /Calls/{sid}`` with new TwiML: Twilio stops what the call plays and runs it."""
        twiml = self.render(script).body
        try:
            self._client.calls(call_id).update(twiml=twiml)
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)

    def find_call(self, to: str, placed_after: datetime) -> CallEvent | None:
        # The API filters by day only (and a queued call has no start time yet): list the
        # number's recent calls and keep those created after the instant.
        try:
            recent = self._client.calls.list(to=to, limit=20)
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        found = [c for c in recent if (_aware_utc(c.date_created) or placed_after) >= placed_after]
        if not found:
            return None
        newest = max(found, key=lambda c: _aware_utc(c.date_created) or placed_after)
        return _event_from_call(newest, _sid(newest.sid))

    def send_sms(self, to: str, from_: str, text: str, status_url: str | None = None) -> SentSms:
        options: dict[str, Any] = {"to": to, "from_": from_, "body": text}
        if status_url:
            options["status_callback"] = status_url
        try:
            message = self._client.messages.create(**options)
        except Exception as exc:
            raise _provider_error(exc) from _cause(exc)
        return SentSms(PROVIDER, _sid(message.sid))

    # --- TwiML ------------------------------------------------------------------

    def render(self, script: VoiceScript) -> RenderedScript:
        response = VoiceResponse()
        for action in script.actions:
            if isinstance(action, Say | Play | Pause):
                _add_prompt(response, action)
            elif isinstance(action, Gather):
                _add_gather(response, action)
            elif isinstance(action, Connect):
                _add_dial(response, action)
            elif isinstance(action, Enqueue):
                _add_enqueue(response, action)
            elif isinstance(action, Leave):
                response.leave()
            elif isinstance(action, Hangup):
                response.hangup()
            else:  # pragma: no cover - the Action union is closed
                raise TypeError(f"cannot render {action!r}")
        return RenderedScript(str(response.to_xml()), "application/xml")

    # --- Webhooks -----------------------------------------------------------------

    # --- quirks -----------------------------------------------------------------

    def opted_out_by_provider(self, text: str) -> bool:
        """Twilio's default opt-out handling takes the whole body, trimmed and in any case,
        as an opt-out when it is one of its keywords (a bare CANCEL included) and blocks
        later texts to the sender whatever our webhook answers (PROVIDERS.md)."""
        return text.strip().casefold() in OPT_OUT_KEYWORDS

    def sms_webhook_answer(self) -> RenderedScript:
        return RenderedScript(EMPTY_TWIML, "application/xml")  # TwiML, or Twilio logs error 12300

    def verify(self, request: WebhookRequest) -> None:
        signature = _header(request.headers, "X-Twilio-Signature")
        if not signature:
            raise SignatureError("missing X-Twilio-Signature")
        params: Mapping[str, str] | str
        if "bodySHA256" in parse_qs(urlsplit(request.url).query):
            # JSON webhooks: the signature covers the URL, whose bodySHA256 parameter
            # is the SHA-256 of the raw body; the SDK checks both when given a string.
            try:
                params = request.body.decode("utf-8")
            except UnicodeDecodeError:
                raise SignatureError("webhook body is not UTF-8") from None
        elif "json" in (_header(request.headers, "Content-Type") or "").lower():
            raise SignatureError("JSON webhook without bodySHA256: its body would be unauthenticated")
        else:
            # Passed through as given: a MultiDict keeps repeated keys, which the SDK
            # reads with getlist() and which are all signed.
            params = request.form
        if not self._validator.validate(request.url, params, signature):
            raise SignatureError("X-Twilio-Signature does not match")

    def parse_call_event(self, request: WebhookRequest) -> CallEvent:
        form = request.form
        sid = _required(form, "CallSid")
        raw_status = _field(form, "CallStatus")
        raw_answered_by = _field(form, "AnsweredBy")
        if raw_status is None:
            if raw_answered_by is None:
                raise ValueError("Twilio call event has neither CallStatus nor AnsweredBy")
            # The asynchronous AMD verdict: the call is up, and now we know who took it.
            return CallEvent(
                provider=PROVIDER,
                call_id=sid,
                state=CallState.ANSWERED,
                answered_by=_answered_by(raw_answered_by),
                dedupe_key=f"{sid}:amd:{raw_answered_by}",
                greeting_ended=raw_answered_by.strip().lower().startswith("machine_end"),
            )
        state = _CALL_STATES.get(raw_status)
        if state is None:
            raise ValueError(f"unknown Twilio CallStatus {raw_status!r}")
        sequence = _int_or_none(_field(form, "SequenceNumber"), "SequenceNumber")
        # CallDuration is the talk time in seconds. ``Duration`` is not read: it is not
        # the same figure (it appears to count billed minutes), so it must not stand in.
        duration = _int_or_none(_field(form, "CallDuration"), "CallDuration")
        at = _rfc2822(_field(form, "Timestamp"))
        return CallEvent(
            provider=PROVIDER,
            call_id=sid,
            state=state,
            answered_by=_answered_by(raw_answered_by),
            sequence=sequence,
            duration_seconds=duration,
            billable_seconds=duration,
            started_at=at if state is CallState.QUEUED else None,
            answered_at=at if state is CallState.ANSWERED else None,
            ended_at=at if state in _TERMINAL else None,
            recording_url=_field(form, "RecordingUrl"),
            error_code=_field(form, "ErrorCode"),
            dedupe_key=f"{sid}:{raw_status}:{sequence}" if sequence is not None else f"{sid}:{raw_status}",
        )

    def parse_gather(self, request: WebhookRequest) -> GatherResult:
        form = request.form
        raw_confidence = _field(form, "Confidence")
        try:
            confidence = float(raw_confidence) if raw_confidence is not None else None
        except ValueError:
            raise ValueError(f"Twilio Confidence {raw_confidence!r} is not a number") from None
        return GatherResult(
            call_id=_required(form, "CallSid"),
            digits=_field(form, "Digits"),
            speech=_field(form, "SpeechResult"),
            confidence=confidence,
            queue_data=parse_queue_data(form),
            queue_exit=parse_queue_exit(form),
        )

    def parse_dial_result(self, request: WebhookRequest) -> DialResult:
        """The Connect's status_url is the <Dial action>: CallSid is the customer's call,
        DialCallStatus/DialCallDuration describe the leg to the agent. Twilio requests it
        once, when the bridge ends, and runs the TwiML it answers. The same URL is the
        agent's leg's status callback for its answer (CallSid the leg, ParentCallSid ours)."""
        form = request.form
        sid = _required(form, "CallSid")
        parent = _field(form, "ParentCallSid")
        if _field(form, "DialCallStatus") is None and parent is not None:
            # The agent's leg reporting its answer (<Number statusCallbackEvent="answered">):
            # the bridge is up. Twilio runs no TwiML answered to a status callback.
            if _field(form, "CallStatus") != "in-progress":
                raise ValueError(f"Twilio agent leg status {_field(form, 'CallStatus')!r} is not an answer")
            return DialResult(call_id=parent, state=CallState.ANSWERED, queue_data=parse_queue_data(form))
        raw_status = _required(form, "DialCallStatus")
        state = _DIAL_STATES.get(raw_status)
        if state is None:
            raise ValueError(f"unknown Twilio DialCallStatus {raw_status!r}")
        return DialResult(
            call_id=sid,
            state=state,
            duration_seconds=_int_or_none(_field(form, "DialCallDuration"), "DialCallDuration"),
            queue_data=parse_queue_data(form),
        )

    def parse_inbound_call(self, request: WebhookRequest) -> InboundCall:
        """The voice URL of our number: form fields on POST (the default), query on GET.
        A withheld caller id comes as ``anonymous``, ``Anonymous`` or ``+266696687``."""
        fields = request.form or request.query
        return InboundCall(
            provider=PROVIDER,
            call_id=_required(fields, "CallSid"),
            from_=_field(fields, "From") or "",
            to=_required(fields, "To"),
            queue_data=parse_queue_data(fields),
        )

    def parse_inbound_sms(self, request: WebhookRequest) -> InboundSms:
        form = request.form
        message_id = _field(form, "MessageSid") or _field(form, "SmsSid")
        if message_id is None:
            raise ValueError("Twilio inbound SMS without MessageSid")
        return InboundSms(
            provider=PROVIDER,
            message_id=message_id,
            from_=_required(form, "From"),
            to=_required(form, "To"),
            text=form.get("Body", ""),
        )

    def parse_sms_status(self, request: WebhookRequest) -> SmsStatus:
        """A status callback for a text we sent: MessageSid, MessageStatus, ErrorCode."""
        form = request.form
        message_id = _field(form, "MessageSid") or _field(form, "SmsSid")
        if message_id is None:
            raise ValueError("Twilio SMS status without MessageSid")
        raw = _field(form, "MessageStatus") or _field(form, "SmsStatus")
        if raw is None:
            raise ValueError("Twilio SMS status without MessageStatus")
        status = _SMS_STATUSES.get(raw.lower())
        if status is None:
            raise ValueError(f"unknown Twilio MessageStatus {raw!r}")
        return SmsStatus(PROVIDER, message_id, status, _field(form, "ErrorCode"), raw)


# Twilio MessageStatus -> our status. "receiving"/"received"/"read" never come for a
# text we send, except "read" (WhatsApp/RCS): it was delivered.
_SMS_STATUSES: Final[dict[str, str]] = {
    "accepted": "queued",
    "scheduled": "queued",
    "queued": "queued",
    "sending": "queued",
    "sent": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undelivered": "undelivered",
    "failed": "failed",
    "canceled": "failed",
}


if TYPE_CHECKING:

    def _conforms(adapter: TwilioTelephony) -> Telephony:
        """Lets mypy check the adapter against the Protocol, signature by signature."""
        return adapter


# --- Errors -----------------------------------------------------------------------


def _event_from_call(fetched: Any, call_id: str) -> CallEvent:
    raw_status = str(fetched.status or "")
    state = _CALL_STATES.get(raw_status)
    if state is None:
        raise ProviderError(f"Twilio reported an unknown call status {raw_status!r}", code="unexpected_response")
    try:
        duration = _int_or_none(fetched.duration, "duration")
    except ValueError as exc:
        raise ProviderError(f"Twilio reported a malformed duration: {exc}", code="unexpected_response") from exc
    return CallEvent(
        provider=PROVIDER,
        call_id=_sid(fetched.sid) if fetched.sid else call_id,
        state=state,
        answered_by=_answered_by(fetched.answered_by),
        duration_seconds=duration,
        # Twilio's duration is talk time (empty for unanswered calls): the billable part.
        billable_seconds=duration,
        started_at=_aware_utc(fetched.start_time),
        ended_at=_aware_utc(fetched.end_time),
        dedupe_key=f"{call_id}:fetched:{raw_status}",
    )


def _provider_error(exc: Exception) -> ProviderError:
    """One ProviderError for whatever the SDK or its transport raised."""
    if isinstance(exc, TwilioRestException | TwilioServiceException):
        status = _as_int(exc.status, 0)
        # TwilioRestException falls back to the HTTP status when the body has no code.
        code = _as_int(exc.code, status)
        text = exc.msg if isinstance(exc, TwilioRestException) else f"{exc.title}: {exc.detail or ''}"
        message = f"Twilio HTTP {status} (error {code}): {_mask_numbers(str(text))}"
        if code in PERMANENT_ERROR_CODES:
            return ProviderError(message, permanent=True, code=str(code))
        if status == 401 or code == AUTH_ERROR_CODE:
            # Wrong credentials say nothing about the number; failover may act on "auth".
            return ProviderError(message, permanent=False, code="auth")
        # 429 (20429), 5xx, and any other refusal: not known to be the number's fault.
        return ProviderError(message, permanent=False, code=str(code))
    if isinstance(exc, requests.exceptions.ConnectTimeout | requests.exceptions.ConnectionError):
        # Nothing reached Twilio (ConnectTimeout is also a ConnectionError).
        return ProviderError(f"cannot reach Twilio: {type(exc).__name__}", code="connection")
    if isinstance(exc, requests.exceptions.Timeout):
        # The request may have been carried out (a call placed) before the answer was lost.
        return ProviderError(f"Twilio did not answer in time: {type(exc).__name__}", uncertain=True, code="timeout")
    if isinstance(exc, requests.exceptions.RequestException | OSError):
        return ProviderError(f"transport failure talking to Twilio: {type(exc).__name__}", code="transport")
    if isinstance(exc, TwilioException):
        return ProviderError(f"Twilio SDK failure: {_mask_numbers(str(exc))}", code="sdk")
    if isinstance(exc, ValueError):  # json.JSONDecodeError: a 2xx whose body is not JSON
        return ProviderError(f"unreadable answer from Twilio: {type(exc).__name__}", code="unexpected_response")
    return ProviderError(f"unexpected failure talking to Twilio: {type(exc).__name__}", code="unexpected")


def _cause(exc: Exception) -> Exception | None:
    """What to chain: not Twilio's REST errors, whose text quotes the unmasked number."""
    return None if isinstance(exc, TwilioRestException | TwilioServiceException) else exc


def _as_int(value: object, default: int) -> int:
    try:
        return int(str(value))
    except ValueError:
        return default


def _mask_numbers(text: str) -> str:
    """SDK messages quote the number ("The 'To' number +4474... is not valid"); logs mask them."""
    return _PHONE_IN_TEXT.sub(lambda match: mask_phone(match.group(0)), text)


# --- set-up (telephony/registry.py) -------------------------------------------------------

CALLS_PER_SECOND = 1.0  # Twilio's default for a long-code number; TWILIO_CPS overrides it


def configure(setup: ProviderSetup) -> TwilioTelephony | None:
    """TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN (or their _FILE), else not configured."""
    account_sid, auth_token = setup.secret("TWILIO_ACCOUNT_SID"), setup.secret("TWILIO_AUTH_TOKEN")
    if not (account_sid and auth_token):
        return None
    return TwilioTelephony(account_sid, auth_token)

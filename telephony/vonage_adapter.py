"""Vonage adapter: the Voice API (calls, NCCO), the SMS API (texts) and Vonage's two
webhook signatures, behind the provider-neutral ``Telephony`` interface.

Vonage habits this module absorbs so nothing else has to know them:

- Numbers travel without the leading ``+`` (``447700900000``); we speak E.164.
- Two separate SDK clients: voice authenticates with the application's JWT, SMS with
  Basic auth. One shared client would keep sending ``Content-Type: application/json``
  after its first JSON request (vonage-python-sdk issue 323), so SMS form posts would
  be mislabelled. SMS is never sent "signed": the SDK signs fields it never sends.
- Voice and Messages webhooks carry ``Authorization: Bearer <HS256 JWT>`` whose
  ``payload_hash`` claim is the only thing tying the JWT to the body; SMS API
  webhooks carry a ``sig`` parameter (HMAC methods only: the dashboard's "MD5 hash"
  cannot be verified, choose "SHA-256 HMAC"). Both carry when they were signed (the
  JWT's ``iat``, the ``timestamp`` parameter): a signature older than five minutes is a
  replay and is refused, as is one more than five minutes ahead of this machine's clock
  (the allowance for clocks that disagree). Measured on the machine's clock, as PyJWT
  measures ``iat`` and ``exp``: it is about the request in transit, not about business time.
- Every SDK, pydantic and ``requests`` failure becomes ``ProviderError``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Final

import jwt  # PyJWT: installed with vonage (vonage-jwt depends on it)
import requests
from pydantic import ValidationError
from vonage import Auth, HttpClientOptions, Vonage
from vonage_http_client.errors import (
    AuthenticationError,
    ForbiddenError,
    HttpRequestError,
    InvalidAuthError,
    JWTGenerationError,
)
from vonage_jwt.errors import VonageJwtError
from vonage_sms import PartialFailureError, SmsError, SmsMessage
from vonage_utils.errors import VonageError

# The model classes come from vonage_voice.models.* (not vonage_utils.types, whose Dtmf
# is a plain string type that shadows the NCCO input model of the same name).
from vonage_voice.models.common import AdvancedMachineDetection, Phone
from vonage_voice.models.requests import CreateCallRequest, ListCallsFilter, ToPhone

from infra.json_input import loads
from telephony.base import (
    AnsweredBy,
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
from telephony.script import Connect, Gather, Hangup, Pause, Play, Say, VoiceScript

# Without a timeout requests waits forever, and a hung socket would stall the dialer.
DEFAULT_TIMEOUT_SECONDS: Final = 10
# The query parameter the application adds to a Connect's status_url to name the
# customer's call: Vonage reports the agent leg there, with the agent leg's own uuid.
DIAL_CALL_ID_PARAM: Final = "call_id"

_E164 = re.compile(r"\+[1-9]\d{6,14}")
_ALPHANUMERIC_SENDER = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}")
_CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_SMS_ERROR_CODE = re.compile(r"error code (\d+)")
_LONG_DIGITS = re.compile(r"\+?\d{7,15}")

# Vonage's text-to-speech breaks last at most 10 s; longer pauses are several breaks.
_MAX_BREAK_SECONDS: Final = 10
# input.dtmf.timeOut is 0-10 s at Vonage; speech.startTimeout starts at 1 s.
_MAX_INPUT_TIMEOUT_SECONDS: Final = 10
_MAX_DTMF_DIGITS: Final = 20
# Signatures: accepted from _MAX_SIGNATURE_AGE_SECONDS ago to _CLOCK_SKEW_SECONDS ahead.
_MAX_SIGNATURE_AGE_SECONDS: Final = 300
_CLOCK_SKEW_SECONDS: Final = 300
# find_call reads at most this many pages of the newest calls (Vonage's maximum page).
_FIND_CALL_PAGES: Final = 3
_PAGE_SIZE: Final = 100

# A near-silent action that ends an NCCO which would otherwise be empty: an empty
# answer to an input webhook may mean "carry on with the old NCCO" rather than "hang up".
_END_OF_CALL: Final[dict[str, Any]] = {"action": "talk", "text": '<speak><break time="100ms"/></speak>'}

_CALL_STATES: Final[dict[str, tuple[CallState, AnsweredBy | None]]] = {
    "started": (CallState.QUEUED, None),
    "ringing": (CallState.RINGING, None),
    "answered": (CallState.ANSWERED, None),
    "machine": (CallState.ANSWERED, AnsweredBy.MACHINE),
    "human": (CallState.ANSWERED, AnsweredBy.HUMAN),
    "completed": (CallState.COMPLETED, None),
    "busy": (CallState.BUSY, None),
    "timeout": (CallState.NO_ANSWER, None),  # rang longer than ringing_timer
    "unanswered": (CallState.NO_ANSWER, None),  # unreachable, or declined
    "failed": (CallState.FAILED, None),
    "rejected": (CallState.REJECTED, None),
    "cancelled": (CallState.CANCELED, None),
}

# SMS API response status -> (permanent, code). Meanings from
# https://developer.vonage.com/api-errors/sms and x-errors in vonage_sms.yml.
_SMS_STATUS: Final[dict[int, tuple[bool, str]]] = {
    1: (False, "rate_limited"),  # Throttled: faster than the account's limit
    2: (False, "bad_request"),  # Missing parameters: our request is incomplete, not the customer's fault
    3: (True, "invalid_params"),  # Invalid parameters: in practice a `to` Vonage cannot use (ours are checked first)
    4: (False, "auth"),  # Invalid credentials: key/secret wrong or disabled
    5: (False, "server_error"),  # Internal error in Vonage's platform
    6: (True, "invalid_number"),  # Invalid message: unroutable, e.g. an unrecognised number prefix
    7: (True, "number_barred"),  # Number barred: the destination is blacklisted
    8: (False, "auth"),  # Partner account barred: our account is suspended (another provider may work)
    9: (False, "quota"),  # Partner quota violation: out of credit; top up and retry
    10: (False, "rate_limited"),  # Too many existing binds (simultaneous connections)
    11: (False, "auth"),  # Account not enabled for the HTTP SMS API
    12: (True, "message_too_long"),  # Message too long: the same text will never fit
    14: (False, "auth"),  # Invalid signature: we send with Basic auth, so the client is misconfigured
    15: (True, "invalid_sender"),  # Invalid sender address: a non-authorised sender ID in `from`
    22: (False, "bad_request"),  # Invalid network code (we send none)
    23: (False, "bad_request"),  # Invalid callback URL: too long or illegal characters (configuration)
    29: (True, "destination_not_whitelisted"),  # Non-whitelisted destination: demo-mode account
    32: (False, "auth"),  # Signature and API secret disallowed
    33: (True, "number_deactivated"),  # Number de-activated
}

# GSM 03.38: the default alphabet (less ESC) and its extension table. Anything else
# (Cyrillic, ç, ê, emoji) must go as type=unicode or Vonage replaces it with "?".
_GSM7: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
    "^{}\\[~]|€\f"
)


class VonageTelephony:
    """The ``Telephony`` interface over the ``vonage`` 4.x SDK."""

    name = "vonage"

    def __init__(
        self,
        *,
        application_id: str,
        private_key: str,
        api_key: str,
        api_secret: str,
        signature_secret: str,
        http_client_options: HttpClientOptions | None = None,
        voice_client: Vonage | None = None,
        sms_client: Vonage | None = None,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        """``http_client_options`` moves the hosts (tests); ``voice_client`` and
        ``sms_client`` replace the clients built here and must be two distinct objects;
        ``wall_clock`` (epoch seconds) is what signatures' freshness is measured against."""
        if voice_client is not None and voice_client is sms_client:
            raise ValueError("voice and SMS need separate Vonage clients (vonage-python-sdk issue 323)")
        self._signature_secret = signature_secret
        self._wall_clock = wall_clock
        options = _client_options(http_client_options)
        try:
            self._voice: Vonage = voice_client or Vonage(
                Auth(application_id=application_id, private_key=private_key), options
            )
            self._sms: Vonage = sms_client or Vonage(Auth(api_key=api_key, api_secret=api_secret), options)
            # Used only to check inbound `sig` parameters, never to send: given a
            # signature secret the SDK would sign outgoing SMS (PROVIDERS.md, bug 2).
            self._sig_checker = Auth(api_key=api_key, signature_secret=signature_secret, signature_method="sha256")
        except (VonageError, ValidationError) as exc:
            raise ProviderError(f"Vonage credentials are unusable: {exc}", code="auth") from exc

    @property
    def voice_client(self) -> Vonage:
        return self._voice

    @property
    def sms_client(self) -> Vonage:
        return self._sms

    # --- outbound ---------------------------------------------------------------------

    def place_call(self, call: OutboundCall) -> PlacedCall:
        to = _outbound_number(call.to)
        caller = _caller_id(call.from_)
        with _building("place call"):
            request = CreateCallRequest(
                to=[ToPhone(number=to)],
                from_=Phone(number=caller),
                answer_url=[call.answer_url],
                answer_method="POST",
                event_url=[call.status_url],
                event_method="POST",
                ringing_timer=call.ring_timeout_seconds,
                advanced_machine_detection=(
                    AdvancedMachineDetection(behavior="continue", mode="detect") if call.machine_detection else None
                ),
            )
        with _provider_call("place call"):
            response = self._voice.voice.create_call(request)
            call_id = str(response.uuid)
        return PlacedCall(self.name, call_id)

    def fetch_call(self, call_id: str) -> CallEvent:
        if not _CALL_ID.fullmatch(call_id):
            raise ProviderError(f"{call_id!r} is not a Vonage call uuid", permanent=True, code="not_found")
        with _provider_call("fetch call"):
            info = self._voice.voice.get_call(call_id)
        return self._record_event(info)

    def find_call(self, to: str, placed_after: datetime) -> CallEvent | None:
        """Vonage filters calls by start date but not by number: read the newest calls
        since ``placed_after`` (a few pages at most) and keep the first one to ``to``."""
        number = _outbound_number(to)
        # Whole seconds, rounded down: a call placed in the same second is still seen.
        since = placed_after.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        offset = 0
        for _ in range(_FIND_CALL_PAGES):
            with _building("find call"):
                query = ListCallsFilter(date_start=since, order="desc", page_size=_PAGE_SIZE, record_index=offset)
            with _provider_call("find call"):
                calls, next_page = self._voice.voice.list_calls(query)
                matches = [c for c in calls if c.direction == "outbound" and getattr(c.to, "number", None) == number]
            if matches:
                return self._record_event(matches[0])
            if next_page is None or not calls:
                return None
            # The SDK's next index is record_index + 1, not the next page: count ourselves.
            offset += len(calls)
        return None

    def _record_event(self, info: Any) -> CallEvent:
        """A CallEvent from the SDK's CallInfo (GET /v1/calls)."""
        call_id, status = str(info.uuid), str(info.status)
        duration, start_time, end_time = info.duration, info.start_time, info.end_time
        if status not in _CALL_STATES:
            raise ProviderError(f"Vonage reported an unknown call status {status!r}", code="unexpected_response")
        state, answered_by = _CALL_STATES[status]
        try:
            seconds = _seconds(duration, "duration")
            started_at = _timestamp(start_time, "start_time")
            ended_at = _timestamp(end_time, "end_time")
        except ValueError as exc:
            raise ProviderError(f"Vonage call record is malformed: {exc}", code="unexpected_response") from exc
        return CallEvent(
            provider=self.name,
            call_id=call_id,
            state=state,
            answered_by=answered_by,
            duration_seconds=seconds,
            billable_seconds=seconds,
            started_at=started_at,
            ended_at=ended_at,
            dedupe_key=f"{call_id}:{status}:fetched",
        )

    def send_sms(self, to: str, from_: str, text: str, status_url: str | None = None) -> SentSms:
        """One text through the SMS API with Basic auth. A long text goes out as several
        parts, each with its own message id; the first one is returned."""
        destination = _outbound_number(to)
        sender = _sms_sender(from_)
        with _building("send SMS"):
            message = SmsMessage(
                to=destination,
                from_=sender,
                text=text,
                type=None if _is_gsm7(text) else "unicode",
                callback=status_url,
            )
        with _provider_call("send SMS"):
            response = self._sms.sms.send(message)
            message_id = response.messages[0].message_id if response.messages else None
        if not message_id:
            raise ProviderError("Vonage accepted the SMS but returned no message id", code="unexpected_response")
        return SentSms(self.name, str(message_id))

    # --- voice scripts ----------------------------------------------------------------

    def render(self, script: VoiceScript) -> RenderedScript:
        """NCCO for ``script``. Raises ValueError for what Vonage cannot do: a ``queue:``
        target, or actions after a Connect (Vonage runs those as soon as the agent
        answers, into the bridged call, where Twilio runs them after the bridge ends)."""
        return RenderedScript(json.dumps(render_ncco(script)), "application/json")

    # --- inbound ----------------------------------------------------------------------

    def verify(self, request: WebhookRequest) -> None:
        """Raise SignatureError unless Vonage signed ``request``: a Bearer JWT (Voice,
        Messages) or, without an Authorization header, an SMS API ``sig`` parameter."""
        authorization = _header(request, "Authorization")
        if authorization is not None:
            self._verify_jwt(request, authorization)
        else:
            self._verify_sig(request)

    def parse_call_event(self, request: WebhookRequest) -> CallEvent:
        """A call-progress event. ``sequence`` is the event's timestamp in epoch
        milliseconds (Vonage numbers nothing else); note that Vonage sends ``completed``
        after busy/timeout/unanswered/failed/cancelled too: only ``rejected`` ends
        without one, so the first terminal state must win."""
        document = _document(request, "call event")
        status = _status(document, "call event")
        # The human/machine event names the call `call_uuid` ("not uuid as in some other endpoints").
        call_id = _required(document, ("uuid", "call_uuid"), "call event")
        state, answered_by = _CALL_STATES[status]
        timestamp = _timestamp(document.get("timestamp"), "timestamp")
        sub_state = document.get("sub_state")  # beep_start / beep_timeout with mode=detect_beep
        duration = _seconds(document.get("duration"), "duration")
        detail = document.get("detail") or document.get("reason")
        recording_url = document.get("recording_url")
        kind = f"{status}/{sub_state}" if sub_state else status
        return CallEvent(
            provider=self.name,
            call_id=call_id,
            state=state,
            answered_by=answered_by,
            sequence=_epoch_ms(timestamp) if timestamp else None,
            duration_seconds=duration,
            billable_seconds=duration if status == "completed" else None,
            started_at=_timestamp(document.get("start_time"), "start_time"),
            answered_at=timestamp if status == "answered" else None,
            ended_at=_timestamp(document.get("end_time"), "end_time"),
            recording_url=str(recording_url) if recording_url else None,
            error_code=str(detail) if detail else None,
            dedupe_key=f"{call_id}:{kind}:{document.get('timestamp') or ''}",
        )

    def parse_gather(self, request: WebhookRequest) -> GatherResult:
        document = _document(request, "input event")
        call_id = _required(document, ("uuid",), "input event")
        dtmf = document.get("dtmf")
        # Current shape: {"dtmf": {"digits": "12", "timed_out": false}}; older: {"dtmf": "12"}.
        digits = dtmf.get("digits") if isinstance(dtmf, dict) else dtmf
        speech_text, confidence = _best_speech(document.get("speech"))
        return GatherResult(
            call_id=call_id,
            digits=str(digits) if digits else None,
            speech=speech_text,
            confidence=confidence,
        )

    def parse_dial_result(self, request: WebhookRequest) -> DialResult:
        """An event about the leg a Connect placed. Vonage names only that leg: the
        customer's call id comes from a ``call_id`` query parameter when the application
        put one on the Connect's ``status_url``, else the leg's own uuid stands in (our
        dial URLs identify the attempt themselves)."""
        document = _document(request, "connect event")
        status = _status(document, "connect event")
        call_id = request.query.get(DIAL_CALL_ID_PARAM) or str(document.get("uuid") or "")
        if not call_id:
            raise ValueError("connect event names no call")
        state, _ = _CALL_STATES[status]
        return DialResult(call_id=call_id, state=state, duration_seconds=_seconds(document.get("duration"), "duration"))

    def parse_inbound_call(self, request: WebhookRequest) -> InboundCall:
        """The answer URL of our number: GET with the query (the default) or POST JSON:
        ``uuid``, ``from`` and ``to`` in international form without the +. A withheld
        caller id has no ``from`` (or an ``Unknown`` one)."""
        document = _document(request, "answer request")
        call_id = _required(document, ("uuid",), "answer request")
        recipient = _required(document, ("to",), "answer request")
        sender = document.get("from")
        return InboundCall(
            self.name, call_id, _inbound_number(sender) if isinstance(sender, str) else "", _inbound_number(recipient)
        )

    def parse_inbound_sms(self, request: WebhookRequest) -> InboundSms:
        """An inbound text: SMS API (GET query, POST form or JSON) or Messages API JSON.

        A part of a concatenated message (``concat``, ``concat-ref``, ``concat-total``,
        ``concat-part``) is returned as it is: putting the parts back together is the
        SMS module's job, which sees them all."""
        params = _sms_params(request)
        if "message_uuid" in params:  # the account is set to the Messages API
            message_id = _required(params, ("message_uuid",), "inbound message")
            sender = _required(params, ("from",), "inbound message")
            recipient = _required(params, ("to",), "inbound message")
            text = params.get("text")
        else:
            message_id = _required(params, ("messageId",), "inbound SMS")
            sender = _required(params, ("msisdn",), "inbound SMS")
            recipient = _required(params, ("to",), "inbound SMS")
            text = params.get("text")
        if not isinstance(text, str):
            raise ValueError("inbound SMS has no text (binary messages are not supported)")
        concat = _concat(params)
        return InboundSms(
            self.name,
            message_id,
            _inbound_number(sender),
            _inbound_number(recipient),
            text,
            concat_ref=concat[0] if concat else None,
            concat_part=concat[1] if concat else None,
            concat_total=concat[2] if concat else None,
        )

    def parse_sms_status(self, request: WebhookRequest) -> SmsStatus:
        """A delivery report for a text we sent: an SMS API delivery receipt (GET query or
        POST form/JSON: messageId, status, err-code) or a Messages API status (JSON:
        message_uuid, status, error.code)."""
        params = _sms_params(request)
        if "message_uuid" in params:
            message_id = _required(params, ("message_uuid",), "message status")
            raw = _required(params, ("status",), "message status")
            status = _MESSAGES_STATUSES.get(raw.lower())
            error = params.get("error")
            code = error.get("code", error.get("title")) if isinstance(error, dict) else None
        else:
            message_id = _required(params, ("messageId",), "delivery receipt")
            raw = _required(params, ("status",), "delivery receipt")
            status = _DLR_STATUSES.get(raw.lower())
            code = params.get("err-code")
        if status is None:
            raise ValueError(f"unknown Vonage SMS status {raw!r}")
        error_code = str(code).strip() if code is not None and str(code).strip() not in ("", "0") else None
        return SmsStatus(self.name, message_id, status, error_code, raw)

    # --- signatures -------------------------------------------------------------------

    def _verify_jwt(self, request: WebhookRequest, authorization: str) -> None:
        scheme, _, token = authorization.strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise SignatureError("Vonage webhook Authorization is not a Bearer token")
        try:
            # algorithms pins HS256: a token saying alg=none or RS256 is refused. iat is
            # required and judged below, on this adapter's clock (too old, too far ahead);
            # leeway is for exp and nbf, should Vonage send them.
            claims = jwt.decode(
                token,
                self._signature_secret,
                algorithms=["HS256"],
                leeway=_CLOCK_SKEW_SECONDS,
                options={"require": ["iat"], "verify_iat": False},
            )
        except jwt.PyJWTError as exc:
            raise SignatureError(f"Vonage webhook JWT rejected: {exc}") from None
        issued = claims["iat"]
        if not isinstance(issued, int | float) or isinstance(issued, bool):
            raise SignatureError("Vonage webhook JWT iat is not a number")
        self._check_fresh(issued, "JWT iat")
        claimed = claims.get("payload_hash")
        if not isinstance(claimed, str) or not claimed:
            raise SignatureError("Vonage webhook JWT has no payload_hash")
        # The JWT covers the body only through payload_hash.
        if not any(hmac.compare_digest(claimed.lower(), digest) for digest in _payload_digests(request)):
            raise SignatureError("Vonage webhook body does not match the JWT's payload_hash")

    def _verify_sig(self, request: WebhookRequest) -> None:
        try:
            params = _sms_params(request)
        except ValueError:
            raise SignatureError("unsigned Vonage webhook: no Authorization header and an unreadable body") from None
        given = params.get("sig")
        if not isinstance(given, str) or not given:
            raise SignatureError("unsigned Vonage webhook: no Authorization header and no sig parameter")
        if not all(isinstance(value, str) for value in params.values()):
            raise SignatureError("Vonage sig parameters must be strings")
        try:
            # check_signature pops `sig` and may add `timestamp`: hand it a copy.
            valid = bool(self._sig_checker.check_signature(dict(params)))
        except (VonageError, ValidationError, TypeError, ValueError):
            valid = False
        if not valid:
            raise SignatureError("Vonage sig does not match (is the dashboard set to SHA-256 HMAC?)")
        try:
            signed_at = float(params.get("timestamp", ""))
        except ValueError:
            raise SignatureError("Vonage sig has no timestamp to tell when it was signed") from None
        self._check_fresh(signed_at, "sig timestamp")

    def _check_fresh(self, signed_at: float, what: str) -> None:
        """A replayed request carries an old, valid signature: refuse it past its age."""
        age = self._wall_clock() - signed_at
        if age > _MAX_SIGNATURE_AGE_SECONDS:
            raise SignatureError(
                f"Vonage {what} is {age:.0f} s old (at most {_MAX_SIGNATURE_AGE_SECONDS} s): a replay?"
            )
        if age < -_CLOCK_SKEW_SECONDS:
            raise SignatureError(
                f"Vonage {what} is {-age:.0f} s ahead of this machine's clock (at most {_CLOCK_SKEW_SECONDS} s)"
            )


# --- NCCO -----------------------------------------------------------------------------


def render_ncco(script: VoiceScript) -> list[dict[str, Any]]:
    """The NCCO for ``script`` as a list of action objects."""
    ncco: list[dict[str, Any]] = []
    connected = False
    for action in script.actions:
        if isinstance(action, Hangup):
            break  # an NCCO ends the call after its last action
        if connected:
            raise ValueError(f"Vonage cannot run {type(action).__name__} after Connect: end the script there")
        if isinstance(action, Say | Play | Pause):
            ncco.extend(_prompt(action))
        elif isinstance(action, Gather):
            ncco.extend(_gather(action))
        elif isinstance(action, Connect):
            ncco.append(_connect(action))
            connected = True
        else:  # pragma: no cover - the Action union is exhaustive
            raise ValueError(f"unknown script action {action!r}")
    return ncco or [dict(_END_OF_CALL)]


def _prompt(action: Say | Play | Pause) -> list[dict[str, Any]]:
    if isinstance(action, Say):
        return [{"action": "talk", "text": action.text, "language": action.language}]
    if isinstance(action, Play):
        return [{"action": "stream", "streamUrl": [action.url]}]
    if action.seconds <= 0:
        return []
    full, rest = divmod(action.seconds, _MAX_BREAK_SECONDS)
    breaks = [_MAX_BREAK_SECONDS] * full + ([rest] if rest else [])
    ssml = "".join(f'<break time="{seconds}s"/>' for seconds in breaks)
    return [{"action": "talk", "text": f"<speak>{ssml}</speak>"}]


def _gather(gather: Gather) -> list[dict[str, Any]]:
    if not 1 <= gather.num_digits <= _MAX_DTMF_DIGITS:
        raise ValueError(f"Vonage collects 1 to {_MAX_DTMF_DIGITS} digits, not {gather.num_digits}")
    prompts = [rendered for prompt in gather.prompt for rendered in _prompt(prompt)]
    if prompts:
        # Barge-in on the last prompt only: once set it stays on until an input, and
        # Vonage requires the next non-talk/stream action to be that input.
        prompts[-1]["bargeIn"] = True
    timeout = min(max(gather.timeout_seconds, 1), _MAX_INPUT_TIMEOUT_SECONDS)
    collect: dict[str, Any] = {
        "action": "input",
        "type": ["dtmf", "speech"] if gather.speech else ["dtmf"],
        "dtmf": {"maxDigits": gather.num_digits, "timeOut": timeout, "submitOnHash": True},
        "eventUrl": [gather.action_url],
        "eventMethod": "POST",
    }
    if gather.speech:
        collect["speech"] = {"language": gather.speech_language, "startTimeout": timeout}
    return [*prompts, collect]


def _connect(connect: Connect) -> dict[str, Any]:
    target = connect.target
    endpoint: dict[str, str]
    if target.startswith("queue:"):
        raise ValueError("Vonage has no provider-side queue: connect to a number or SIP address")
    if target.startswith(("sip:", "sips:")):
        endpoint = {"type": "sip", "uri": target}
    else:
        number = target.removeprefix("tel:")
        if not _E164.fullmatch(number):
            raise ValueError(f"Connect target {target!r} is neither +E.164, tel: nor sip:")
        endpoint = {"type": "phone", "number": number[1:]}
    action: dict[str, Any] = {"action": "connect", "timeout": connect.timeout_seconds, "endpoint": [endpoint]}
    if connect.caller_id:
        if not _E164.fullmatch(connect.caller_id):
            raise ValueError(f"Connect caller id {connect.caller_id!r} is not E.164")
        action["from"] = connect.caller_id[1:]
    if connect.status_url:
        action["eventUrl"] = [connect.status_url]
        action["eventMethod"] = "POST"
        # Only a synchronous connect lets the status_url answer an NCCO when the agent
        # leg fails (busy, timeout, ...), as Twilio runs what its <Dial action> answers.
        action["eventType"] = "synchronous"
    return action


# --- errors ---------------------------------------------------------------------------


# What a call into the SDK can raise: its own errors, requests' transport errors, and
# pydantic/KeyError/TypeError when a response does not have the shape it expects.
_SDK_FAILURES: Final = (
    VonageError,
    requests.RequestException,
    ValidationError,
    KeyError,
    IndexError,
    TypeError,
    ValueError,
)


@contextmanager
def _building(action: str) -> Iterator[None]:
    """The SDK's request models refused what we asked (e.g. ringing_timer > 120, a
    callback URL over 100 characters): configuration, not the customer's number."""
    try:
        yield
    except (VonageError, ValidationError) as exc:
        raise ProviderError(
            f"Vonage {action}: request refused by the SDK: {_mask(str(exc))}", code="bad_request"
        ) from exc


@contextmanager
def _provider_call(action: str) -> Iterator[None]:
    """Turn whatever the SDK, pydantic or requests raise into ProviderError."""
    try:
        yield
    except ProviderError:
        raise
    except _SDK_FAILURES as exc:
        raise _translate(exc, action) from exc


def _translate(exc: Exception, action: str) -> ProviderError:
    if isinstance(exc, HttpRequestError):
        return _from_http(exc, action)
    if isinstance(exc, PartialFailureError):
        # Some parts of a long text went out; report the first failed part's status.
        statuses = [m.get("status") for m in exc.response.get("messages", []) if isinstance(m, dict)]
        failed = next((s for s in statuses if str(s) != "0"), None)
        return _from_sms_status(failed, f"{action}: only some parts were accepted")
    if isinstance(exc, SmsError):
        match = _SMS_ERROR_CODE.search(str(exc))
        return _from_sms_status(match.group(1) if match else None, f"{action}: {_mask(str(exc))}")
    if isinstance(exc, requests.Timeout):
        return ProviderError(f"Vonage {action} timed out", code="timeout")
    if isinstance(exc, requests.ConnectionError):
        return ProviderError(f"Vonage {action}: cannot reach Vonage ({type(exc).__name__})", code="connection")
    if isinstance(exc, requests.RequestException):
        return ProviderError(f"Vonage {action}: transport error ({type(exc).__name__})", code="transport")
    if isinstance(exc, InvalidAuthError | JWTGenerationError | VonageJwtError):
        return ProviderError(f"Vonage {action}: credentials rejected by the SDK", code="auth")
    return ProviderError(f"Vonage {action}: unexpected response ({type(exc).__name__})", code="unexpected_response")


def _from_http(exc: HttpRequestError, action: str) -> ProviderError:
    response = exc.response
    status = int(response.status_code)
    problem = _problem(response)
    text = f"Vonage {action}: HTTP {status}"
    summary = " - ".join(str(problem[k]) for k in ("title", "detail") if problem.get(k))
    if summary:
        text += f" {_mask(summary)}"
    if isinstance(exc, AuthenticationError | ForbiddenError) or status in (401, 403):
        return ProviderError(text, code="auth")  # another provider may still work
    if status == 404:
        return ProviderError(text, permanent=True, code="not_found")
    if status == 429:
        return ProviderError(text, code="rate_limited")
    if status >= 500:
        return ProviderError(text, code="server_error")
    if status in (400, 422):
        if _names_destination(problem):
            return ProviderError(text, permanent=True, code="invalid_number")
        return ProviderError(text, code="bad_request")
    return ProviderError(text, code=f"http_{status}")


def _from_sms_status(status: object, message: str) -> ProviderError:
    try:
        code = int(str(status))
    except ValueError:
        return ProviderError(f"Vonage {message}", code="unexpected_response")
    permanent, name = _SMS_STATUS.get(code, (False, f"sms_status_{code}"))
    text = message if f"error code {code}" in message else f"{message} (status {code})"
    return ProviderError(f"Vonage {text}", permanent=permanent, code=name)


def _problem(response: Any) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _names_destination(problem: Mapping[str, Any]) -> bool:
    """Whether a 4xx validation error is about the number we called (``to``)."""
    parameters = problem.get("invalid_parameters")
    if not isinstance(parameters, list):
        return False
    names = [str(p.get("name", "")) for p in parameters if isinstance(p, dict)]
    return any(n == "to" or n.startswith(("to[", "to.")) for n in names)


def _mask(text: str) -> str:
    """Provider messages can echo phone numbers; logs keep only the edges."""
    return _LONG_DIGITS.sub(lambda m: m.group()[:3] + "*" * (len(m.group()) - 5) + m.group()[-2:], text)


# --- numbers and options --------------------------------------------------------------


def _client_options(given: HttpClientOptions | None) -> HttpClientOptions:
    options = given if given is not None else HttpClientOptions()
    update: dict[str, Any] = {
        # The SDK re-sends a request after "RemoteDisconnected" as many times as
        # pool_maxsize; for POST /v1/calls that can ring the customer twice. 1 = once.
        "pool_maxsize": 1,
    }
    if options.timeout is None:
        update["timeout"] = DEFAULT_TIMEOUT_SECONDS
    return options.model_copy(update=update)


def _outbound_number(e164: str) -> str:
    if not _E164.fullmatch(e164):
        raise ProviderError(f"{_mask(e164)!r} is not an E.164 number", permanent=True, code="invalid_number")
    return e164[1:]


def _caller_id(e164: str) -> str:
    if not _E164.fullmatch(e164):
        raise ProviderError(f"caller id {e164!r} is not an E.164 number", code="bad_request")
    return e164[1:]


def _sms_sender(sender: str) -> str:
    if _E164.fullmatch(sender):
        return sender[1:]
    if _ALPHANUMERIC_SENDER.fullmatch(sender):
        return sender
    raise ProviderError(f"SMS sender {sender!r} is neither E.164 nor an alphanumeric sender id", code="bad_request")


def _concat(params: dict[str, Any]) -> tuple[str, int, int] | None:
    """(reference, part, total) of one part of a concatenated SMS API text, else None."""
    if str(params.get("concat", "")).lower() != "true":
        return None
    try:
        ref, part, total = str(params["concat-ref"]), int(params["concat-part"]), int(params["concat-total"])
    except (KeyError, TypeError, ValueError):
        raise ValueError("inbound SMS part without a valid concat-ref/concat-part/concat-total") from None
    if not 1 <= part <= total <= 255:
        raise ValueError(f"inbound SMS part {part} of {total} is out of range")
    return ref, part, total


def _inbound_number(number: str) -> str:
    return f"+{number}" if number.isdigit() else number


def _is_gsm7(text: str) -> bool:
    return all(character in _GSM7 for character in text)


# --- webhook documents ----------------------------------------------------------------


def _header(request: WebhookRequest, name: str) -> str | None:
    wanted = name.lower()
    return next((value for key, value in request.headers.items() if key.lower() == wanted), None)


def _document(request: WebhookRequest, what: str) -> dict[str, Any]:
    """A voice webhook's fields: the JSON body (POST) or the query (GET)."""
    if not request.body:
        if request.query:
            return dict(request.query)
        raise ValueError(f"Vonage {what} is empty")
    try:
        document = loads(request.body)
    except ValueError:
        raise ValueError(f"Vonage {what} body is not JSON") from None
    if not isinstance(document, dict):
        raise ValueError(f"Vonage {what} body is not a JSON object")
    return document


# SMS API delivery receipt status -> our status. "accepted", "buffered" and "unknown":
# the carrier has it but has not (or will not) say it was delivered.
_DLR_STATUSES: Final[dict[str, str]] = {
    "accepted": "sent",
    "buffered": "sent",
    "unknown": "sent",
    "delivered": "delivered",
    "expired": "undelivered",
    "failed": "failed",
    "rejected": "failed",
}

# Messages API status webhook -> our status.
_MESSAGES_STATUSES: Final[dict[str, str]] = {
    "submitted": "sent",
    "delivered": "delivered",
    "read": "delivered",
    "undeliverable": "undelivered",
    "rejected": "failed",
}


def _sms_params(request: WebhookRequest) -> dict[str, Any]:
    """SMS API fields: query for GET, form or JSON body for POST."""
    if request.method.upper() == "GET":
        return dict(request.query)
    if request.form:
        return dict(request.form)
    if request.body:
        return _document(request, "SMS webhook")
    return dict(request.query)


def _status(document: Mapping[str, Any], what: str) -> str:
    status = document.get("status")
    if not isinstance(status, str) or not status:
        raise ValueError(f"Vonage {what} has no status (transfer, record and error events carry none)")
    if status not in _CALL_STATES:
        raise ValueError(f"Vonage {what} has an unknown status {status!r}")
    return status


def _required(document: Mapping[str, Any], names: tuple[str, ...], what: str) -> str:
    for name in names:
        value = document.get(name)
        if isinstance(value, str) and value:
            return value
    raise ValueError(f"Vonage {what} is missing {' or '.join(names)}")


def _timestamp(value: object, field: str) -> datetime | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError(f"Vonage {field} is not a timestamp: {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"Vonage {field} is not a timestamp: {value!r}") from None
    # GET /v1/calls may answer "YYYY-MM-DD HH:MM:SS" without a zone: Vonage means UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _seconds(value: object, field: str) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError(f"Vonage {field} is not a number of seconds: {value!r}")
    try:
        return int(float(str(value)))
    except ValueError:
        raise ValueError(f"Vonage {field} is not a number of seconds: {value!r}") from None


def _epoch_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def _best_speech(speech: object) -> tuple[str | None, float | None]:
    if not isinstance(speech, dict):
        return None, None
    best: tuple[str | None, float | None] = (None, None)
    for result in speech.get("results") or []:
        if not isinstance(result, dict) or not result.get("text"):
            continue
        try:
            confidence: float | None = float(result["confidence"])  # Vonage sends it as a string
        except (KeyError, TypeError, ValueError):
            confidence = None
        if best[0] is None or (confidence or 0.0) > (best[1] or 0.0):
            best = (str(result["text"]), confidence)
    return best


def _payload_digests(request: WebhookRequest) -> Iterator[str]:
    """SHA-256 hex digests the JWT's payload_hash may match. Vonage hashes the body it
    sends (compact JSON); for GET it hashes the query parameters as compact JSON."""
    if request.body:
        yield hashlib.sha256(request.body).hexdigest()
        try:
            document = loads(request.body)
        except ValueError:
            return
        yield hashlib.sha256(_compact_json(document)).hexdigest()
    elif request.query:
        yield hashlib.sha256(_compact_json(dict(request.query))).hexdigest()
    else:
        yield hashlib.sha256(b"").hexdigest()
        yield hashlib.sha256(b"{}").hexdigest()


def _compact_json(document: object) -> bytes:
    # As JavaScript's JSON.stringify writes it: no spaces, non-ASCII left as is.
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()


__all__ = ["DEFAULT_TIMEOUT_SECONDS", "DIAL_CALL_ID_PARAM", "VonageTelephony", "render_ncco"]

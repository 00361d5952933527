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

import hmac
import json
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import jwt  # PyJWT: installed with vonage (vonage-jwt depends on it)
from pydantic import ValidationError
from vonage import Auth, HttpClientOptions, Vonage
from vonage_sms import SmsMessage
from vonage_utils.errors import VonageError

# The model classes come from vonage_voice.models.* (not vonage_utils.types, whose Dtmf
# is a plain string type that shadows the NCCO input model of the same name).
from vonage_voice.models.common import AdvancedMachineDetection, Phone
from vonage_voice.models.ncco import NccoAction, Stream, Talk
from vonage_voice.models.requests import CreateCallRequest, ListCallsFilter, ToPhone

from infra.settings import SettingsError
from telephony.base import (
    CALLER_CALL_ID_PARAM,
    CallEvent,
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
from telephony.script import VoiceScript
from telephony.vonage_documents import (
    _CALL_STATES,
    _DLR_STATUSES,
    _MESSAGES_STATUSES,
    DEFAULT_TIMEOUT_SECONDS,
    _best_speech,
    _caller_id,
    _client_options,
    _concat,
    _document,
    _epoch_ms,
    _header,
    _inbound_number,
    _is_gsm7,
    _outbound_number,
    _payload_digests,
    _required,
    _seconds,
    _sms_params,
    _sms_sender,
    _status,
    _timestamp,
)
from telephony.vonage_errors import _building, _mask, _provider_call
from telephony.vonage_ncco import render_ncco

_CALL_ID = re.compile(r"[A-Za-z0-9-]{1,64}")

# Signatures: accepted from _MAX_SIGNATURE_AGE_SECONDS ago to _CLOCK_SKEW_SECONDS ahead.
_MAX_SIGNATURE_AGE_SECONDS: Final = 300
_CLOCK_SKEW_SECONDS: Final = 300
# find_call reads at most this many pages of the newest calls (Vonage's maximum page).
_FIND_CALL_PAGES: Final = 3
_PAGE_SIZE: Final = 100


_REDIRECT_NCCO_MODELS: Final[dict[str, type[NccoAction]]] = {"talk": Talk, "stream": Stream}


def _ncco_model(action: dict[str, Any]) -> NccoAction:
    model = _REDIRECT_NCCO_MODELS.get(str(action.get("action")))
    if model is None:
        raise ValueError(f"a redirect script cannot hold a Vonage {action.get('action')!r} action")
    return model.model_validate(action)


class VonageTelephony:
    """The ``Telephony`` interface over the ``vonage`` 4.x SDK."""

    name = "vonage"
    default_agent_target: str | None = None
    supports_enqueue = False  # no provider-side queue: callers hold ringing agent_target
    confirms_opt_out = False

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
        self.verifies_webhooks = bool(signature_secret)  # signed JWTs (voice, Messages) and signed SMS
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
                    # detect_beep: a machine's event is followed by one with sub_state beep_start
                    # (or beep_timeout) when its greeting ended: then a message is recorded.
                    AdvancedMachineDetection(behavior="continue", mode="detect_beep")
                    if call.machine_detection
                    else None
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

    def redirect_call(self, call_id: str, script: VoiceScript) -> None:
        """``PUT /v1/calls/{uuid}`` transferring the call to the script's NCCO. The SDK takes
        its own NCCO models: a redirect script holds prompts only (talk, stream)."""
        if not _CALL_ID.fullmatch(call_id):
            raise ProviderError(f"{call_id!r} is not a Vonage call uuid", permanent=True, code="not_found")
        try:
            ncco = [_ncco_model(action) for action in render_ncco(script)]
        except ValueError as exc:  # pydantic's ValidationError included
            raise ProviderError(f"Vonage redirect call: {_mask(str(exc))}", code="bad_request") from exc
        with _provider_call("redirect call"):
            self._voice.voice.transfer_call_ncco(call_id, ncco)

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

    def opted_out_by_provider(self, text: str) -> bool:
        return False  # opt-outs are ours to read (sms/commands.py)

    def sms_webhook_answer(self) -> None:
        return None

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
            greeting_ended=sub_state in ("beep_start", "beep_timeout"),
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
        call_id = request.query.get(CALLER_CALL_ID_PARAM) or str(document.get("uuid") or "")
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


# --- set-up (telephony/registry.py) -------------------------------------------------------

CALLS_PER_SECOND = 3.0  # Vonage's default voice API rate; VONAGE_CPS overrides it


def configure(setup: ProviderSetup) -> VonageTelephony | None:
    """VONAGE_APPLICATION_ID, VONAGE_PRIVATE_KEY and VONAGE_API_KEY (VONAGE_API_SECRET for
    sending texts, VONAGE_SIGNATURE_SECRET to check signed webhooks), each also as _FILE."""
    application_id, private_key = setup.secret("VONAGE_APPLICATION_ID"), setup.secret("VONAGE_PRIVATE_KEY")
    api_key = setup.secret("VONAGE_API_KEY")
    if not (application_id and private_key and api_key):
        return None
    try:
        return VonageTelephony(
            application_id=application_id,
            private_key=private_key,
            api_key=api_key,
            api_secret=setup.secret("VONAGE_API_SECRET") or "",
            signature_secret=setup.secret("VONAGE_SIGNATURE_SECRET") or "",
        )
    except ProviderError as error:
        raise SettingsError(f"the VONAGE_ settings cannot be used: {error.message}") from None


__all__ = ["CALLS_PER_SECOND", "DEFAULT_TIMEOUT_SECONDS", "VonageTelephony", "configure", "render_ncco"]

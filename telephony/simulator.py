"""The built-in phone simulator: a provider that needs no account.

Calls and texts are rows in the database, shown on /simulator, where a person (or a
test) answers, declines, lets it ring out, plays a voicemail, presses keys and replies
to texts. Every such action is delivered the way a real provider delivers it: a signed
webhook to the same routes and handlers Twilio and Vonage use (see
telephony/simulator_driver.py), so the simulator exercises the real paths.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import asdict
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from app.db import Database
from app.json_input import loads
from app.models import SimCall, SimText
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
from telephony.script import Gather, VoiceScript

SIGNATURE_HEADER = "X-Simulator-Signature"


def sign(secret: str, method: str, url: str, body: bytes) -> str:
    message = method.upper().encode() + b" " + url.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def script_to_json(script: VoiceScript) -> dict[str, Any]:
    actions = []
    for action in script.actions:
        entry: dict[str, Any] = {"type": type(action).__name__.lower(), **asdict(action)}
        if isinstance(action, Gather):
            entry["prompt"] = [{"type": type(p).__name__.lower(), **asdict(p)} for p in action.prompt]
        actions.append(entry)
    return {"actions": actions}


def _header(request: WebhookRequest, name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in request.headers.items() if k.lower() == lowered), None)


def _json(request: WebhookRequest) -> dict[str, Any]:
    try:
        document = loads(request.body or b"{}")
    except ValueError as exc:
        raise ValueError(f"simulator webhook body is not JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError("simulator webhook body must be a JSON object")
    return document


class SimulatorTelephony:
    name = "simulator"

    def __init__(self, db: Database, secret: str, *, clock: Any = None, latency_seconds: float = 0.0) -> None:
        self.db = db
        self.secret = secret
        self.clock = clock
        # A slow provider API, for tests and benchmarks: the call is placed, then the answer lags.
        self.latency_seconds = latency_seconds

    def _now(self) -> datetime:
        return self.clock.now() if self.clock is not None else datetime.now(UTC)

    # --- outbound -------------------------------------------------------------------------

    def place_call(self, call: OutboundCall) -> PlacedCall:
        call_id = "SIM" + uuid.uuid4().hex
        with self.db.write() as session:
            session.add(
                SimCall(
                    call_id=call_id,
                    to=call.to,
                    from_=call.from_,
                    answer_url=call.answer_url,
                    status_url=call.status_url,
                    state=CallState.RINGING.value,
                    sequence=0,
                    created_at=self._now(),
                )
            )
        if self.latency_seconds:
            time.sleep(self.latency_seconds)
        return PlacedCall(self.name, call_id)

    def fetch_call(self, call_id: str) -> CallEvent:
        with self.db.read() as session:
            call = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one_or_none()
            if call is None:
                raise ProviderError(f"no simulated call {call_id}", permanent=True, code="not_found")
            return self._event(call)

    def find_call(self, to: str, placed_after: datetime) -> CallEvent | None:
        with self.db.read() as session:
            call = session.scalars(
                select(SimCall)
                .where(SimCall.to == to, SimCall.created_at >= placed_after)
                .order_by(SimCall.id.desc())
                .limit(1)
            ).first()
            return self._event(call) if call is not None else None

    def _event(self, call: SimCall) -> CallEvent:
        duration = None
        if call.answered_at and call.ended_at:
            duration = int((call.ended_at - call.answered_at).total_seconds())
        state = CallState.ANSWERED if call.state == "with_agent" else CallState(call.state)
        return CallEvent(
            provider=self.name,
            call_id=call.call_id,
            state=state,
            answered_by=AnsweredBy(call.answered_by) if call.answered_by else None,
            sequence=call.sequence,
            duration_seconds=duration,
            billable_seconds=duration,
            answered_at=call.answered_at,
            ended_at=call.ended_at,
            dedupe_key=f"{call.call_id}:{state.value}:{call.sequence}",
        )

    def send_sms(self, to: str, from_: str, text: str, status_url: str | None = None) -> SentSms:
        message_id = "SIMSM" + uuid.uuid4().hex
        with self.db.write() as session:
            session.add(
                SimText(message_id=message_id, direction="out", to=to, from_=from_, body=text, created_at=self._now())
            )
        return SentSms(self.name, message_id)

    def render(self, script: VoiceScript) -> RenderedScript:
        return RenderedScript(json.dumps(script_to_json(script)), "application/json")

    # --- inbound --------------------------------------------------------------------------

    def verify(self, request: WebhookRequest) -> None:
        given = _header(request, SIGNATURE_HEADER)
        if not given:
            raise SignatureError("missing simulator signature")
        expected = sign(self.secret, request.method, request.url, request.body)
        if not hmac.compare_digest(given, expected):
            raise SignatureError("bad simulator signature")

    def parse_call_event(self, request: WebhookRequest) -> CallEvent:
        document = _json(request)
        try:
            call_id = str(document["call_id"])
            state = CallState(document["state"])
            sequence = int(document["sequence"])
        except (KeyError, ValueError) as exc:
            raise ValueError(f"simulator call event is malformed: {exc}") from None
        answered_by = document.get("answered_by")
        duration = document.get("duration")
        return CallEvent(
            provider=self.name,
            call_id=call_id,
            state=state,
            answered_by=AnsweredBy(answered_by) if answered_by else None,
            sequence=sequence,
            duration_seconds=int(duration) if duration is not None else None,
            billable_seconds=int(duration) if duration is not None else None,
            dedupe_key=f"{call_id}:{state.value}:{sequence}",
        )

    def parse_gather(self, request: WebhookRequest) -> GatherResult:
        document = _json(request)
        if "call_id" not in document:
            raise ValueError("simulator gather is missing call_id")
        digits = document.get("digits") or None
        return GatherResult(call_id=str(document["call_id"]), digits=str(digits) if digits else None)

    def parse_dial_result(self, request: WebhookRequest) -> DialResult:
        document = _json(request)
        try:
            return DialResult(
                call_id=str(document["call_id"]),
                state=CallState(document["state"]),
                duration_seconds=document.get("duration"),
            )
        except (KeyError, ValueError) as exc:
            raise ValueError(f"simulator dial result is malformed: {exc}") from None

    def parse_inbound_call(self, request: WebhookRequest) -> InboundCall:
        document = _json(request)
        try:
            return InboundCall(
                self.name, str(document["call_id"]), str(document.get("from") or ""), str(document["to"])
            )
        except KeyError as exc:
            raise ValueError(f"simulator inbound call is missing {exc}") from None

    def parse_sms_status(self, request: WebhookRequest) -> SmsStatus:
        """The simulator's delivery report: {"message_id", "status", "error_code"?} with
        status already one of ours (queued, sent, delivered, undelivered, failed)."""
        document = _json(request)
        try:
            message_id = str(document["message_id"])
            status = str(document["status"])
        except KeyError as exc:
            raise ValueError(f"simulator SMS status is missing {exc}") from None
        code = document.get("error_code")
        return SmsStatus(self.name, message_id, status, str(code) if code is not None else None, status)

    def parse_inbound_sms(self, request: WebhookRequest) -> InboundSms:
        document = _json(request)
        try:
            return InboundSms(
                self.name,
                str(document["message_id"]),
                str(document["from"]),
                str(document["to"]),
                str(document["text"]),
            )
        except KeyError as exc:
            raise ValueError(f"simulator text is missing {exc}") from None

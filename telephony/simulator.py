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
from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator
from sqlalchemy import select

from infra.db import Database
from infra.json_input import loads
from infra.simulator_models import SimCall, SimText
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
from telephony.provider_setup import ProviderSetup
from telephony.script import Enqueue, Gather, Leave, VoiceScript

SIGNATURE_HEADER = "X-Simulator-Signature"
REDIRECTED = "redirected"  # marks a call's script that redirect_call put there, not yet played


def sign(secret: str, method: str, url: str, body: bytes) -> str:
    message = method.upper().encode() + b" " + url.encode() + b"\n" + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def script_to_json(script: VoiceScript) -> dict[str, Any]:
    actions = []
    for action in script.actions:
        if isinstance(action, Enqueue | Leave):
            raise ValueError("the simulator has no provider-side queue to hold a caller in: hold with a Connect")
        entry: dict[str, Any] = {"type": type(action).__name__.lower(), **asdict(action)}
        if isinstance(action, Gather):
            entry["prompt"] = [{"type": type(p).__name__.lower(), **asdict(p)} for p in action.prompt]
        actions.append(entry)
    return {"actions": actions}


def _header(request: WebhookRequest, name: str) -> str | None:
    lowered = name.lower()
    return next((v for k, v in request.headers.items() if k.lower() == lowered), None)


Id = Annotated[str, StringConstraints(min_length=1, max_length=100)]
Number = Annotated[str, StringConstraints(max_length=32)]
Seconds = Annotated[int, Field(ge=0, le=7 * 24 * 3600)]


class _Body(BaseModel):
    """The simulator's webhook bodies, typed like the other providers' (a signed body of
    the wrong shape is a ValueError, answered 4xx, never a 500)."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


_BodyT = TypeVar("_BodyT", bound=_Body)


class _CallEventBody(_Body):
    call_id: Id
    state: CallState
    sequence: Annotated[int, Field(ge=0)]
    answered_by: AnsweredBy | None = None
    duration: Seconds | None = None
    beep: bool = False  # a machine's verdict, sent once its greeting ended with the beep

    @field_validator("answered_by", mode="before")
    @classmethod
    def _empty_is_none(cls, value: Any) -> Any:
        return value or None


class _GatherBody(_Body):
    call_id: Id
    digits: Annotated[str, StringConstraints(max_length=64)] | None = None


class _DialResultBody(_Body):
    call_id: Id
    state: CallState
    duration: Seconds | None = None


class _InboundCallBody(_Body):
    call_id: Id
    from_: Number | None = Field(default=None, alias="from")
    to: Annotated[str, StringConstraints(min_length=1, max_length=32)]


class _SmsStatusBody(_Body):
    message_id: Id
    status: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    error_code: Annotated[str, StringConstraints(max_length=32)] | int | None = None


class _InboundSmsBody(_Body):
    message_id: Id
    from_: Annotated[str, StringConstraints(min_length=1, max_length=32)] = Field(alias="from")
    to: Annotated[str, StringConstraints(min_length=1, max_length=32)]
    text: Annotated[str, StringConstraints(max_length=2000)]


def _parse(model: type[_BodyT], request: WebhookRequest, what: str) -> _BodyT:
    try:
        return model.model_validate(_json(request))
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors(include_url=False))
        raise ValueError(f"simulator {what} is malformed: {problems}") from None


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
    default_agent_target: str | None = "sim:agent"  # the simulator's stand-in agent
    supports_enqueue = False  # no queue of its own: callers hold ringing the agent
    verifies_webhooks = True  # signed with SECRET_KEY
    confirms_opt_out = False

    def __init__(
        self,
        db: Database,
        secret: str,
        *,
        clock: Any = None,
        latency_seconds: float = 0.0,
        agents: int = 0,
        agent_handle_seconds: int = 240,
    ) -> None:
        self.db = db
        self.secret = secret
        self.clock = clock
        # Simulated agents (0: none; the page's "agents available" switch decides): each
        # takes one bridged call and hangs up after agent_handle_seconds (app/simulated_agents.py).
        self.agents = agents
        self.agent_handle_seconds = agent_handle_seconds
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

    def redirect_call(self, call_id: str, script: VoiceScript) -> None:
        """The new script waits on the call, marked ``redirected``, until the simulated phone
        network plays it (SimulatorDriver.follow_redirects)."""
        with self.db.write() as session:
            call = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one_or_none()
            if call is None:
                raise ProviderError(f"no simulated call {call_id}", permanent=True, code="not_found")
            if call.state not in ("ringing", "answered", "holding", "with_agent"):
                raise ProviderError(f"simulated call {call_id} is {call.state}", permanent=True, code="call_ended")
            call.script = {**script_to_json(script), REDIRECTED: True}

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
        # Holding for an agent, or with one: the call is up (answered), as a provider reports it.
        state = CallState.ANSWERED if call.state in ("holding", "with_agent") else CallState(call.state)
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

    def opted_out_by_provider(self, text: str) -> bool:
        return False  # opt-outs are ours to read (sms/commands.py)

    def sms_webhook_answer(self) -> None:
        return None

    def verify(self, request: WebhookRequest) -> None:
        given = _header(request, SIGNATURE_HEADER)
        if not given:
            raise SignatureError("missing simulator signature")
        expected = sign(self.secret, request.method, request.url, request.body)
        if not hmac.compare_digest(given, expected):
            raise SignatureError("bad simulator signature")

    def parse_call_event(self, request: WebhookRequest) -> CallEvent:
        event = _parse(_CallEventBody, request, "call event")
        return CallEvent(
            provider=self.name,
            call_id=event.call_id,
            state=event.state,
            answered_by=event.answered_by,
            sequence=event.sequence,
            duration_seconds=event.duration,
            billable_seconds=event.duration,
            dedupe_key=f"{event.call_id}:{event.state.value}:{event.sequence}",
            greeting_ended=event.beep,
        )

    def parse_gather(self, request: WebhookRequest) -> GatherResult:
        gather = _parse(_GatherBody, request, "gather")
        return GatherResult(call_id=gather.call_id, digits=gather.digits or None)

    def parse_dial_result(self, request: WebhookRequest) -> DialResult:
        result = _parse(_DialResultBody, request, "dial result")
        return DialResult(call_id=result.call_id, state=result.state, duration_seconds=result.duration)

    def parse_inbound_call(self, request: WebhookRequest) -> InboundCall:
        call = _parse(_InboundCallBody, request, "inbound call")
        return InboundCall(self.name, call.call_id, call.from_ or "", call.to)

    def parse_sms_status(self, request: WebhookRequest) -> SmsStatus:
        """The simulator's delivery report: {"message_id", "status", "error_code"?} with
        status already one of ours (queued, sent, delivered, undelivered, failed)."""
        report = _parse(_SmsStatusBody, request, "SMS status")
        code = None if report.error_code is None else str(report.error_code)
        return SmsStatus(self.name, report.message_id, report.status, code, report.status)

    def parse_inbound_sms(self, request: WebhookRequest) -> InboundSms:
        text = _parse(_InboundSmsBody, request, "text")
        return InboundSms(self.name, text.message_id, text.from_, text.to, text.text)


# --- set-up (telephony/registry.py) -------------------------------------------------------

CALLS_PER_SECOND = 20.0  # SIMULATOR_CPS overrides it


def configure(setup: ProviderSetup) -> SimulatorTelephony:
    """Always there: signed with SECRET_KEY. SIMULATOR_LATENCY_MS makes its API answer
    slowly (the call is placed, then the answer lags), for tests and benchmarks;
    SIMULATOR_AGENTS simulated agents take the bridged calls, SIMULATOR_HANDLE_SECONDS each."""
    latency_ms = setup.whole_number("SIMULATOR_LATENCY_MS", 0, 0, 60_000)
    return SimulatorTelephony(
        setup.db,
        setup.settings.secret_key,
        clock=setup.clock,
        latency_seconds=latency_ms / 1000,
        agents=setup.whole_number("SIMULATOR_AGENTS", 0, 0, 100),
        agent_handle_seconds=setup.whole_number("SIMULATOR_HANDLE_SECONDS", 240, 5, 3600),
    )

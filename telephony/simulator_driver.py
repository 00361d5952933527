"""The simulator's "phone network": what happens when a person answers, declines, lets
it ring out, is a voicemail, presses keys or hangs up.

Each action is delivered to our own webhook URLs exactly as a provider would: a
signed request through the full web stack (signature check included). ``deliver``
carries it; in the app it dispatches in-process (no network, no deadlock with a single
web worker), tests may use the Flask test client.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select

from infra.clock import Clock
from infra.db import Database
from infra.simulator_models import SimCall, SimText
from telephony.base import CallState
from telephony.simulator import REDIRECTED, SIGNATURE_HEADER, sign

Deliver = Callable[[str, str, bytes, dict[str, str]], tuple[int, bytes]]

RINGING = "ringing"
HOLDING = "holding"  # put through (a Connect) with every agent busy: waits in line for one
LIVE = ("ringing", "answered", HOLDING, "with_agent")
HELD_AT = "held_at"  # in a holding call's script: since when it waits for an agent


class SimulatorError(Exception):
    """The action does not fit the call's state (answering a call that already ended)."""


@dataclass(frozen=True)
class AgentLoad:
    """What the simulated agents are doing: ``busy`` talking, ``holding`` callers waiting
    for one (counted as busy in the figures: each will take an agent as one frees),
    ``reserved`` agents kept for our callbacks in progress (outbound calls ringing or
    answered, not yet put through), and the longest holder's wait."""

    agents: int
    busy: int
    holding: int
    reserved: int
    longest_wait_seconds: int | None

    @property
    def available(self) -> int:
        """Free agents nobody waits for: what the ACD reports. The reserved ones are not
        taken off: the dialer counts its own calls ringing (scheduler/dialing.agent_allowance)."""
        return max(self.agents - self.busy - self.holding, 0)


def inbound_status_url(answer_url: str) -> str:
    """Where the simulated network reports an inbound call's end: beside its answer URL,
    as a number's status callback is set beside its voice URL (docs/providers.md)."""
    return answer_url.split("?", 1)[0].rstrip("/") + "/status"


def _held_at(call: SimCall) -> datetime:
    held = (call.script or {}).get(HELD_AT)
    return datetime.fromisoformat(held) if held else call.created_at


def _connect_of(script: dict[str, Any] | None) -> dict[str, Any]:
    """The script's Connect action ({} when it has none)."""
    connect: dict[str, Any] = next((a for a in (script or {}).get("actions", []) if a["type"] == "connect"), {})
    return connect


def _connect_timeout(script: dict[str, Any] | None) -> int:
    return int(_connect_of(script).get("timeout_seconds") or 30)


class SimulatorDriver:
    def __init__(
        self,
        db: Database,
        secret: str,
        deliver: Deliver,
        clock: Clock,
        agents_available: bool = True,
        agents: int = 0,
        handle_seconds: int = 240,
    ) -> None:
        self.db = db
        self.secret = secret
        self.deliver = deliver
        self.clock = clock
        # With simulated agents (``agents`` > 0) a bridge finds an agent when one is free (else
        # the call holds in line: ``serve_holders``), and ``finish_handled`` hangs up after
        # ``handle_seconds``; without, ``agents_available`` says whether a bridge is answered.
        self.agents_available = agents_available
        self.agents = agents
        self.handle_seconds = handle_seconds

    # --- the simulated agents -------------------------------------------------------------

    def _line(self) -> tuple[int, list[SimCall], int]:
        """(agents talking, the holding calls longest-waiting first, our outbound calls
        ringing or answered and not yet put through: each keeps an agent)."""
        with self.db.read() as session:
            counts = dict(
                session.execute(
                    select(SimCall.state, func.count())
                    .where(
                        SimCall.state.in_(("with_agent", RINGING, "answered")),
                        (SimCall.state == "with_agent") | (SimCall.direction == "out"),
                    )
                    .group_by(SimCall.state)
                ).all()
            )
            holding = list(session.scalars(select(SimCall).where(SimCall.state == HOLDING)))
        busy = int(counts.get("with_agent", 0))
        reserved = int(counts.get(RINGING, 0)) + int(counts.get("answered", 0))
        holding.sort(key=lambda c: (_held_at(c), c.id))
        return busy, holding, reserved

    def load(self) -> AgentLoad:
        busy, holding, reserved = self._line()
        now = self.clock.now()
        longest = max((int((now - _held_at(c)).total_seconds()) for c in holding), default=None)
        return AgentLoad(self.agents, busy, len(holding), reserved, longest)

    def agents_state(self) -> dict[str, Any]:
        """For the page: each simulated agent busy (on which call, for how long yet) or
        free, and the callers holding for one (longest first)."""
        now = self.clock.now()
        _, holders, reserved = self._line()
        with self.db.read() as session:
            busy = session.scalars(
                select(SimCall).where(SimCall.state == "with_agent").order_by(SimCall.agent_at, SimCall.id)
            ).all()
            calls = [
                {
                    "call_id": c.call_id,
                    "number": c.to if c.direction == "out" else c.from_,
                    "seconds_left": max(0, self.handle_seconds - int((now - (c.agent_at or now)).total_seconds())),
                }
                for c in busy
            ]
        holding = [
            {
                "call_id": c.call_id,
                "number": c.to if c.direction == "out" else c.from_,
                "waited_seconds": int((now - _held_at(c)).total_seconds()),
            }
            for c in holders
        ]
        return {
            "count": self.agents,
            "handle_seconds": self.handle_seconds,
            "busy": calls[: self.agents or None],
            "free": max(self.agents - len(calls), 0),
            "holding": holding,
            "reserved": reserved,
        }

    def ringing_to(self, numbers: set[str | None]) -> list[str]:
        """The calls ringing one of ``numbers`` (the agents' lines), oldest first."""
        with self.db.read() as session:
            return list(
                session.scalars(
                    select(SimCall.call_id)
                    .where(SimCall.state == RINGING, SimCall.direction == "out", SimCall.to.in_(numbers))
                    .order_by(SimCall.id)
                )
            )

    def finish_handled(self) -> int:
        """Each simulated agent hangs up once it has handled its call for ``handle_seconds``."""
        cutoff = self.clock.now() - timedelta(seconds=self.handle_seconds)
        with self.db.read() as session:
            done = session.scalars(
                select(SimCall.call_id).where(SimCall.state == "with_agent", SimCall.agent_at <= cutoff)
            ).all()
        for call_id in done:
            try:
                self.hang_up(call_id)
            except SimulatorError:
                continue  # ended meanwhile (the customer hung up first)
        return len(done)

    def serve_holders(self) -> int:
        """The ACD's turn: free agents take the holding calls, our callbacks first (a
        customer we rang expects an agent), then the callers longest-holding first, but
        never the agents kept for our callbacks still ringing or in their menu. A holder
        whose Connect timed out with nobody free is reported ``no_answer`` to the
        Connect's status URL (the IVR offers a callback again). Returns how many were put
        through."""
        busy, holding, reserved = self._line()
        free = max(self.agents - busy, 0)
        ours = [c for c in holding if c.direction == "out"]
        theirs = [c for c in holding if c.direction != "out"]
        taken = ours[:free]
        taken += theirs[: max(free - len(taken) - reserved, 0)]
        for call in taken:
            self._bridge(call.call_id, call.script or {})
        now = self.clock.now()
        chosen = {c.call_id for c in taken}
        for call in holding:
            if call.call_id not in chosen and now >= _held_at(call) + timedelta(seconds=_connect_timeout(call.script)):
                try:
                    self._give_up_holding(call.call_id)
                except SimulatorError:
                    continue  # ended meanwhile
        return len(taken)

    def _may_take_now(self, call_id: str) -> bool:
        """Whether a call just put through finds an agent at once: one of our callbacks
        when an agent is free beyond our callbacks already holding; a caller when one is
        free beyond those kept for our callbacks and the callers holding ahead."""
        busy, holding, reserved = self._line()
        free = self.agents - busy
        with self.db.read() as session:
            outbound = session.scalar(select(SimCall.direction).where(SimCall.call_id == call_id)) == "out"
        ours = sum(1 for c in holding if c.direction == "out" and c.call_id != call_id)
        if outbound:
            return free > ours
        theirs = sum(1 for c in holding if c.direction != "out" and c.call_id != call_id)
        return free > ours + reserved + theirs

    def _bridge(self, call_id: str, script: dict[str, Any]) -> dict[str, Any]:
        """An agent takes the call: the Connect's status URL (if any) hears it answered."""
        status_url = _connect_of(script).get("status_url")
        if status_url:
            self._post(status_url, {"call_id": call_id, "state": "answered"})
        self._update(
            call_id,
            state="with_agent",
            agent_at=self.clock.now(),
            script={**script, "dial_url": status_url} if status_url else script,
        )
        return self._load(call_id, states=LIVE)

    def _give_up_holding(self, call_id: str) -> dict[str, Any]:
        """The Connect rang out: its status URL says what comes next (the IVR's offer, the
        callback script's apology); without one the script is over and the call ends."""
        call = self._load(call_id, states=(HOLDING,))
        connect = _connect_of(call["script"])
        if not connect.get("status_url"):
            return self._complete(call_id)
        self._update(call_id, state="answered")
        follow = self._post(connect["status_url"], {"call_id": call_id, "state": "no_answer"})
        return self._follow(call_id, follow)

    # --- what the page shows --------------------------------------------------------------

    def calls(self, limit: int = 20) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.scalars(select(SimCall).order_by(SimCall.id.desc()).limit(limit)).all()
            return [self._call_json(c) for c in rows]

    def texts(self, limit: int = 50) -> list[dict[str, Any]]:
        with self.db.read() as session:
            rows = session.scalars(select(SimText).order_by(SimText.id.desc()).limit(limit)).all()
            return [
                {
                    "id": t.id,
                    "direction": t.direction,
                    "to": t.to,
                    "from": t.from_,
                    "body": t.body,
                    "at": t.created_at.isoformat(),
                }
                for t in rows
            ]

    @staticmethod
    def _call_json(call: SimCall) -> dict[str, Any]:
        return {
            "call_id": call.call_id,
            "direction": call.direction,
            "to": call.to,
            "from": call.from_,
            "state": call.state,
            "answered_by": call.answered_by,
            "script": call.script,
            # A machine's recording: what was said after its beep (None before the beep).
            "recording": call.recording,
            "created_at": call.created_at.isoformat(),
        }

    # --- actions ---------------------------------------------------------------------------

    def dial_in(self, from_: str, to: str, answer_url: str) -> dict[str, Any]:
        """The person calls one of our numbers: the network answers at once and asks our
        inbound webhook (``answer_url``) what to play, as Twilio and Vonage do."""
        call_id = "SIMIN" + uuid.uuid4().hex
        now = self.clock.now()
        with self.db.write() as session:
            session.add(
                SimCall(
                    call_id=call_id,
                    direction="in",
                    to=to,
                    from_=from_,
                    answer_url=answer_url,
                    # The number's status URL: the call's end is reported there (services/inbound_presence.py).
                    status_url=inbound_status_url(answer_url),
                    state="answered",
                    answered_by="human",
                    sequence=0,
                    created_at=now,
                    answered_at=now,
                )
            )
        script = self._post(answer_url, {"call_id": call_id, "from": from_, "to": to})
        return self._follow(call_id, script)

    def answer(self, call_id: str, *, machine: bool = False) -> dict[str, Any]:
        call = self._load(call_id, states=(RINGING,))
        if machine:
            return self._answer_as_machine(call_id, call)
        self._update(call_id, state="answered", answered_by="human", answered_at=self.clock.now())
        self._event(call_id, CallState.ANSWERED.value, answered_by="human")
        script = self._post(call["answer_url"], {"call_id": call_id, "answered_by": "human"})
        return self._follow(call_id, script)

    def _answer_as_machine(self, call_id: str, call: dict[str, Any]) -> dict[str, Any]:
        """An answering machine, as asynchronous machine detection sees one: the call is
        answered and our answer URL fetched at once (no verdict yet); what it returns plays
        over the machine's greeting, which records nothing. Then the beep: the machine
        records from now on, and the verdict (machine, greeting ended) goes to the status
        URL. Whatever is said afterwards, a redirected script included
        (``follow_redirects``), lands in the call's ``recording``."""
        self._update(call_id, state="answered", answered_by="machine", answered_at=self.clock.now())
        self._event(call_id, CallState.ANSWERED.value)
        script = self._post(call["answer_url"], {"call_id": call_id})
        # Heard during the greeting (not recorded, nobody presses a key); the beep: recording.
        self._update(call_id, script=script, recording=[])
        self._event(call_id, CallState.ANSWERED.value, answered_by="machine", beep=True)
        return self._load(call_id)

    def follow_redirects(self) -> int:
        """Play the scripts our side redirected live calls to (SimulatorTelephony.redirect_call),
        as a provider would at once; returns how many. Idempotent: a played script loses its mark."""
        with self.db.read() as session:
            pending = [
                (c.call_id, c.script)
                for c in session.scalars(select(SimCall).where(SimCall.state.in_(("answered", HOLDING))))
                if (c.script or {}).get(REDIRECTED)
            ]
        for call_id, script in pending:
            try:
                self._update(call_id, state="answered")  # a holder redirected leaves the line
                self._follow(call_id, {key: value for key, value in (script or {}).items() if key != REDIRECTED})
            except SimulatorError:
                continue  # ended meanwhile
        return len(pending)

    def press(self, call_id: str, digits: str) -> dict[str, Any]:
        return self._gather(call_id, digits)

    def stay_silent(self, call_id: str) -> dict[str, Any]:
        return self._gather(call_id, None)

    def ring_out(self, call_id: str) -> dict[str, Any]:
        return self._end_unanswered(call_id, CallState.NO_ANSWER.value)

    def busy(self, call_id: str) -> dict[str, Any]:
        return self._end_unanswered(call_id, CallState.BUSY.value)

    def decline(self, call_id: str) -> dict[str, Any]:
        return self._end_unanswered(call_id, CallState.REJECTED.value)

    def hang_up(self, call_id: str) -> dict[str, Any]:
        call = self._load(call_id, states=LIVE)
        if call["state"] == RINGING:
            return self._end_unanswered(call_id, CallState.CANCELED.value)
        if call["state"] == "with_agent" and call["script_dial_url"]:
            self._post(
                call["script_dial_url"],
                {"call_id": call_id, "state": "completed", "duration": self._talk_seconds(call)},
            )
        return self._complete(call_id)

    # --- plumbing --------------------------------------------------------------------------

    def _gather(self, call_id: str, digits: str | None) -> dict[str, Any]:
        call = self._load(call_id, states=("answered",))
        gather = next((a for a in (call["script"] or {}).get("actions", []) if a["type"] == "gather"), None)
        if gather is None:
            raise SimulatorError("the call is not waiting for keys")
        script = self._post(gather["action_url"], {"call_id": call_id, "digits": digits or ""})
        return self._follow(call_id, script)

    def _follow(self, call_id: str, script: dict[str, Any]) -> dict[str, Any]:
        """Play a script: wait for keys, bridge to the (simulated) agent, or hang up."""
        actions = script.get("actions", [])
        self._update(call_id, script=script)
        self._record(call_id, actions)
        connect = next((a for a in actions if a["type"] == "connect"), None)
        if connect is not None and self.agents:
            # The simulated ACD: an agent takes the call if one is free for it, else the
            # caller holds in line (serve_holders) until one is, or the Connect times out.
            if self._may_take_now(call_id):
                return self._bridge(call_id, script)
            self._update(call_id, state=HOLDING, script={**script, HELD_AT: self.clock.now().isoformat()})
            return self._load(call_id, states=LIVE)
        if connect is not None and not connect.get("status_url"):
            # Without simulated agents, a caller put through to the agents with nobody
            # asking how the bridge goes: the stand-in agent simply takes the call.
            self._update(call_id, state="with_agent", agent_at=self.clock.now())
            return self._load(call_id, states=LIVE)
        if connect is not None:
            if not self.agents_available:  # the page's switch
                follow = self._post(connect["status_url"], {"call_id": call_id, "state": "no_answer"})
                return self._follow(call_id, follow)
            return self._bridge(call_id, script)
        if any(a["type"] == "gather" for a in actions):
            return self._load(call_id, states=LIVE)
        return self._complete(call_id)  # a script that ends hangs up

    def _record(self, call_id: str, actions: list[dict[str, Any]]) -> None:
        """After its beep, an answering machine records what the script says."""
        said = [
            str(prompt.get("text") or "")
            for action in actions
            for prompt in (action.get("prompt", []) if action["type"] == "gather" else [action])
            if prompt["type"] in ("say", "play")
        ]
        with self.db.write() as session:
            call = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one()
            if call.recording is not None and said:
                call.recording = [*call.recording, *said]

    def _complete(self, call_id: str) -> dict[str, Any]:
        call = self._load(call_id, states=LIVE)
        now = self.clock.now()
        duration = self._talk_seconds(call)
        self._update(call_id, state=CallState.COMPLETED.value, ended_at=now)
        self._event(call_id, CallState.COMPLETED.value, duration=duration)
        return self._load(call_id)

    def _end_unanswered(self, call_id: str, state: str) -> dict[str, Any]:
        self._load(call_id, states=(RINGING,))
        self._update(call_id, state=state, ended_at=self.clock.now())
        self._event(call_id, state, duration=0)
        return self._load(call_id)

    def _talk_seconds(self, call: dict[str, Any]) -> int:
        answered = call.get("answered_at")
        return max(1, int((self.clock.now() - answered).total_seconds())) if answered else 0

    def _event(self, call_id: str, state: str, **extra: Any) -> None:
        with self.db.write() as session:
            call = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one()
            call.sequence += 1
            body = {"call_id": call_id, "state": state, "sequence": call.sequence, **extra}
            url = call.status_url
        if url:
            self._post(url, body)

    def _post(self, url: str, body: dict[str, Any]) -> dict[str, Any]:
        raw = json.dumps(body).encode()
        headers = {"Content-Type": "application/json", SIGNATURE_HEADER: sign(self.secret, "POST", url, raw)}
        status, answer = self.deliver("POST", url, raw, headers)
        if status >= 400:
            raise SimulatorError(f"the webhook {url} answered {status}: {answer[:200]!r}")
        return json.loads(answer) if answer else {}

    def _load(self, call_id: str, states: tuple[str, ...] | None = None) -> dict[str, Any]:
        with self.db.read() as session:
            call = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one_or_none()
            if call is None:
                raise SimulatorError(f"no simulated call {call_id}")
            if states is not None and call.state not in states:
                raise SimulatorError(f"the call is {call.state}")
            data = self._call_json(call)
            data.update(
                answer_url=call.answer_url,
                status_url=call.status_url,
                answered_at=call.answered_at,
                script_dial_url=(call.script or {}).get("dial_url"),
            )
            return data

    def _update(self, call_id: str, **values: Any) -> None:
        with self.db.write() as session:
            call = session.scalars(select(SimCall).where(SimCall.call_id == call_id)).one()
            for name, value in values.items():
                setattr(call, name, value)

    # --- texting us (appended by the SMS work) ------------------------------------------------

    def send_text(self, url: str, from_: str, to: str, text: str) -> str:
        """The person texts ``to`` from ``from_``: kept in the simulator's list of texts and
        delivered to our inbound SMS webhook ``url``, signed as the simulator signs. Returns
        the message id (deliver it again with ``redeliver_text`` to test deduplication)."""
        message_id = "SIMMO" + uuid.uuid4().hex
        with self.db.write() as session:
            session.add(
                SimText(
                    message_id=message_id,
                    direction="in",
                    to=to,
                    from_=from_,
                    body=text,
                    created_at=self.clock.now(),
                )
            )
        self.redeliver_text(url, message_id, from_, to, text)
        return message_id

    def redeliver_text(self, url: str, message_id: str, from_: str, to: str, text: str) -> None:
        self._post(url, {"message_id": message_id, "from": from_, "to": to, "text": text})

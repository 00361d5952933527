"""A simulated day: ``make bench-day`` (``python -m bench.simulated_day``).

20 simulated agents with a 6-minute handle time, ~2,000 inbound calls with a morning
peak (08:00–18:00) through the real IVR, the real dialer and the phone simulator's
agents, in process (as tests/integration drives the app) on a fresh SQLite database,
with a FixedClock moved in steps of STEP_SECONDS. Each step: the people act (callers
arrive, press keys, give up holding; the customers we ring answer and press 1), then
what the worker does (the simulated agents' tick, the call events applied, the
redirects played, the dialer's dispatch, the reconciliation of leases). At the end it
prints the figures of the issue; nothing is asserted (exit 0).

Environment: SIMDAY_CALLS (expected calls, default 2000), SIMDAY_AGENTS (20),
SIMDAY_HANDLE_SECONDS (360), SIMDAY_STEP_SECONDS (5), SIMDAY_SEED (1), SIMDAY_HOURS
(the open day's length from 08:00, default 10), SIMDAY_LIVE_FIGURES (1; 0: a variant
without the simulator's live agent figures, see DayConfig.live_figures),
SIMDAY_OVER_DIAL_RATIO (the queue's over_dial_ratio, default 0).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import delete, select

from app import simulated_agents
from app.factory import create_app
from app.simulator_page import phone_of
from bench.simday_people import CLOSED_OFFER, OFFER, Behaviour, People, arrival_times, heard, waits_for_keys
from infra.clock import FixedClock
from infra.db import Database
from infra.migrate import upgrade
from infra.models import AgentFigureReport, Attempt, Callback, CallbackEvent, Slot
from infra.settings import Settings
from infra.simulator_models import SimCall
from scheduler.reports import ON_TIME_SECONDS
from services import call_inbox
from services.dialer.dialer import Dialer
from services.queue_documents import import_queue, parse_queue_document
from services.reports import queue_report
from telephony.simulator_driver import HELD_AT, SimulatorDriver, SimulatorError

ROOT = Path(__file__).resolve().parent.parent
DAY = date(2027, 1, 4)  # a Monday; Europe/London is on UTC in January
OPENS_AT = 8
QUEUE_NUMBER = "+441632960001"  # the demo queue's number
QUEUE_KEY = "support"
ABANDON_SECONDS = 30  # a customer we called back, put through, with no agent by then: abandoned
RECONCILE_EVERY = timedelta(seconds=60)


@dataclass(frozen=True)
class DayConfig:
    calls: int = 2000
    agents: int = 20
    handle_seconds: int = 360
    hours: int = 10
    step_seconds: int = 5
    seed: int = 1
    drain_minutes: int = 30  # after closing: the calls in progress end
    over_dial_ratio: float = 0.0  # the queue's: callbacks dialled beyond the agents expected free
    # False: a variant without live agent figures (each report removed as soon as the
    # agents' tick wrote it): the dialer is held by max_concurrent_calls alone, the
    # estimates use the queue's static staffing. To see what the figures' pacing costs.
    live_figures: bool = True
    behaviour: Behaviour = field(default_factory=Behaviour)

    @property
    def opens(self) -> datetime:
        return datetime(DAY.year, DAY.month, DAY.day, OPENS_AT, tzinfo=UTC)

    @property
    def closes(self) -> datetime:
        return self.opens + timedelta(hours=self.hours)


def config_from_environment() -> DayConfig:
    env = os.environ
    return DayConfig(
        calls=int(env.get("SIMDAY_CALLS", "2000")),
        agents=int(env.get("SIMDAY_AGENTS", "20")),
        handle_seconds=int(env.get("SIMDAY_HANDLE_SECONDS", "360")),
        hours=int(env.get("SIMDAY_HOURS", "10")),
        step_seconds=int(env.get("SIMDAY_STEP_SECONDS", "5")),
        seed=int(env.get("SIMDAY_SEED", "1")),
        live_figures=env.get("SIMDAY_LIVE_FIGURES", "1") != "0",
        over_dial_ratio=float(env.get("SIMDAY_OVER_DIAL_RATIO", "0")),
    )


def queue_document(config: DayConfig) -> dict[str, Any]:
    """The demo queue, open the simulated day's hours on weekdays; a quarter of the agents'
    time kept for scheduled callbacks (the slots' seats); no texts (nobody reads them)."""
    import json

    document: dict[str, Any] = json.loads((ROOT / "app" / "demo_queue.json").read_text(encoding="utf-8"))
    closes = f"{OPENS_AT + config.hours:02d}:00" if OPENS_AT + config.hours < 24 else "00:00"
    document.update(
        agents=config.agents,
        average_handle_seconds=config.handle_seconds,
        callers_waiting=0,  # nobody tells the queue how many callers hold: the live figures do the rest
        offer_threshold_seconds=60,
        offer_repeat_seconds=60,
        max_concurrent_calls=config.agents,
        over_dial_ratio=config.over_dial_ratio,
        reminders={"confirmation": False, "before_minutes": [], "in_quiet_hours": "earlier"},
        weekly_hours=[
            {
                "weekday": day,
                "opens": f"{OPENS_AT:02d}:00",
                "closes": closes,
                "slot_minutes": 15,
                "agents": config.agents,
                "callback_percent": 25,
            }
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday")
        ],
    )
    return document


@contextmanager
def day_app(config: DayConfig, folder: Path, clock: FixedClock) -> Iterator[Flask]:
    """The app on a fresh migrated SQLite database in ``folder``, with the simulator's agents."""
    url = f"sqlite:///{folder / 'day.db'}"
    settings = Settings(
        database_url=url,
        secret_key="simulated-day",
        instance_path=folder,
        api_rate_limit="100000/second",
        environment={
            "SIMULATOR_AGENTS": str(config.agents),
            "SIMULATOR_HANDLE_SECONDS": str(config.handle_seconds),
        },
    )
    database = Database(settings)
    upgrade(database.engine)
    database.dispose()
    app = create_app(settings, clock=clock)
    with app.extensions["db"].write() as session:
        import_queue(session, parse_queue_document(queue_document(config)), clock.now())
    try:
        yield app
    finally:
        app.extensions["db"].dispose()


@dataclass
class Tally:
    """What the people saw, counted as they went."""

    calls: int = 0
    offered: set[str] = field(default_factory=set)  # inbound calls that heard an offer
    held: set[str] = field(default_factory=set)  # inbound calls that held for an agent at some point
    gave_up: int = 0  # holders who hung up before an agent took them
    put_through: dict[str, datetime] = field(default_factory=dict)  # our calls: when the customer pressed 1
    agent_seconds_free: float = 0.0
    agent_seconds_signed_in: float = 0.0
    by_hour: dict[int, HourTally] = field(default_factory=dict)

    def hour(self, at: datetime) -> HourTally:
        return self.by_hour.setdefault(at.hour, HourTally())


@dataclass
class HourTally:
    calls: int = 0
    agent_seconds_free: float = 0.0
    agent_seconds_signed_in: float = 0.0
    most_holding: int = 0


class Day:
    """The loop: the people's actions in time order, and the worker's steps between them."""

    def __init__(self, app: Flask, config: DayConfig) -> None:
        self.app = app
        self.config = config
        self.clock: FixedClock = app.extensions["clock"]
        self.db: Database = app.extensions["db"]
        self.phone: SimulatorDriver = phone_of(app)
        self.dialer = Dialer(self.db, app.extensions["providers"], self.clock, app.extensions["settings"], "bench")
        self.rng = random.Random(config.seed)
        self.people = People(config.behaviour, self.rng)
        self.inbound_url = f"{app.extensions['settings'].public_base_url}/webhooks/simulator/voice/inbound"
        self.tally = Tally()
        self._events: list[tuple[datetime, int, Callable[[], None]]] = []
        self._order = itertools.count()
        self._awaiting: set[str] = set()  # calls someone is about to act on
        self._next_reconcile = config.opens

    def at(self, when: datetime, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (when, next(self._order), action))

    # --- the people ---------------------------------------------------------------------

    def arrive(self, n: int) -> None:
        caller = f"+447400{n:06d}"
        self.tally.calls += 1
        self.tally.hour(self.clock.now()).calls += 1
        call = self.phone.dial_in(caller, QUEUE_NUMBER, self.inbound_url)
        self.after(call, arrived=self.clock.now())

    def after(self, call: dict[str, Any], arrived: datetime | None = None) -> None:
        """What the person does next, from where the call is."""
        call_id = call["call_id"]
        if call["state"] == "holding":
            if call["direction"] == "in":
                self.tally.held.add(call_id)
                self.at(self.clock.now() + self.people.patience(), lambda: self.give_up(call_id))
            return
        if call["state"] != "answered" or not waits_for_keys(call["script"]):
            return
        said = heard(call["script"])
        if call["direction"] == "in" and (OFFER in said or CLOSED_OFFER in said):
            self.tally.offered.add(call_id)
        key = self.people.key_for(said)
        self._awaiting.add(call_id)
        if key is None:
            self.at(self.clock.now() + self.people.think(), lambda: self.act(call_id, self.phone.hang_up))
        else:
            self.at(self.clock.now() + self.people.think(), lambda: self.press(call_id, key))

    def press(self, call_id: str, key: str) -> None:
        self._awaiting.discard(call_id)
        try:
            call = self.phone.press(call_id, key)
        except SimulatorError:
            return  # ended meanwhile
        if call["direction"] == "out" and key == "1" and call["state"] in ("holding", "with_agent"):
            self.tally.put_through[call_id] = self.clock.now()
        self.after(call)

    def act(self, call_id: str, action: Callable[[str], dict[str, Any]]) -> None:
        self._awaiting.discard(call_id)
        try:
            self.after(action(call_id))
        except SimulatorError:
            return

    def give_up(self, call_id: str) -> None:
        """A holder's patience ran out: they hang up if still holding."""
        with self.db.read() as session:
            state = session.scalar(select(SimCall.state).where(SimCall.call_id == call_id))
        if state == "holding":
            self.tally.gave_up += 1
            self.act(call_id, self.phone.hang_up)

    def ring(self, call_id: str) -> None:
        """One of our callbacks rings: the customer answers after a few seconds (then hears
        the menu and presses 1), or lets it ring out."""
        self._awaiting.add(call_id)
        answers, after = self.people.answers()
        if answers:
            self.at(self.clock.now() + after, lambda: self.act(call_id, self.phone.answer))
        else:
            self.at(self.clock.now() + after, lambda: self.act(call_id, self.phone.ring_out))

    def notice(self) -> None:
        """Calls whose state the network changed (a hold that timed out into an offer, a
        callback that started ringing): their people react."""
        with self.db.read() as session:
            rows = session.execute(
                select(SimCall.call_id, SimCall.direction, SimCall.state, SimCall.script)
                .where(SimCall.state.in_(("ringing", "answered")))
                .order_by(SimCall.id)
            ).all()
        for call_id, direction, state, script in rows:
            if call_id in self._awaiting:
                continue
            if state == "ringing":
                self.ring(call_id)
            else:
                self.after({"call_id": call_id, "direction": direction, "state": state, "script": script})

    # --- the worker ----------------------------------------------------------------------

    def worker_step(self) -> None:
        """What the worker's ticks do, once each (app/worker.py)."""
        simulated_agents.tick(self.app)
        if not self.config.live_figures:
            with self.db.write() as session:
                session.execute(delete(AgentFigureReport))
        ext = self.app.extensions
        while call_inbox.apply_call_events(ext["db"], ext["clock"], ext["settings"], providers=ext["providers"]):
            pass
        self.phone.follow_redirects()
        if self.clock.now() >= self._next_reconcile:
            self.dialer.reconcile()
            self._next_reconcile = self.clock.now() + RECONCILE_EVERY
        while self.dialer.dispatch() > 0:
            pass

    def count_agents(self, seconds: float) -> None:
        if self.config.opens <= self.clock.now() < self.config.closes:
            load = self.phone.load()
            free = max(load.agents - load.busy, 0) * seconds
            self.tally.agent_seconds_signed_in += load.agents * seconds
            self.tally.agent_seconds_free += free
            hour = self.tally.hour(self.clock.now())
            hour.agent_seconds_signed_in += load.agents * seconds
            hour.agent_seconds_free += free
            hour.most_holding = max(hour.most_holding, load.holding)

    def run(self) -> None:
        config = self.config
        for n, when in enumerate(arrival_times(config.calls, config.opens, config.closes, self.rng), start=1):
            self.at(when, lambda n=n: self.arrive(n))  # type: ignore[misc]
        step = timedelta(seconds=config.step_seconds)
        now = config.opens - step
        self.clock.set(now)
        self.worker_step()
        end = config.closes + timedelta(minutes=config.drain_minutes)
        while now < end:
            now += step
            while self._events and self._events[0][0] <= now:
                when, _, action = heapq.heappop(self._events)
                self.clock.set(max(when, self.clock.now()))
                action()
            self.clock.set(now)
            self.worker_step()
            self.notice()
            self.count_agents(config.step_seconds)


@dataclass(frozen=True)
class HourFigures:
    """One hour of the day (UTC = London in January): what came in, how the agents were."""

    hour: int
    calls: int
    most_holding: int
    idle_share: float | None
    asap_booked: int
    asap_error_p50_seconds: float | None  # of the ASAP callbacks booked in this hour
    first_rings: int  # callbacks first rung in this hour


@dataclass(frozen=True)
class Figures:
    calls: int
    offered_share: float
    taken_share: float
    booked_asap: int
    booked_scheduled: int
    holders: int
    holders_gave_up: int
    ecbt_p50_seconds: float | None
    ecbt_p90_seconds: float | None
    ecbt_within_range: float | None
    asap_not_rung: int
    idle_share: float
    put_through: int
    callbacks_held: int
    callbacks_abandoned: int
    abandoned_share: float | None
    scheduled_first_dials: int
    scheduled_on_time_rate: float | None
    report: dict[str, Any]
    calls_not_ended: int
    callbacks_waiting: int
    callbacks_due_later: int  # of those, due after the day closed (scheduled for another day)
    never_rung: tuple[tuple[str, datetime | None], ...]  # (state, due) of each callback never dialled
    hours: tuple[HourFigures, ...]


def _ratio(a: float, b: float) -> float | None:
    return a / b if b else None


def _percentile(values: list[float], share: float) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[round(share * 100) - 1]


def measure(day: Day) -> Figures:
    """The day's figures, from the database and the simulator's calls."""
    tally = day.tally
    with day.db.read() as session:
        callbacks = session.scalars(select(Callback)).all()
        first_ring: dict[int, datetime] = {}
        for callback_id, requested_at in session.execute(
            select(Attempt.callback_id, Attempt.requested_at).order_by(Attempt.requested_at)
        ):
            first_ring.setdefault(callback_id, requested_at)
        booked_due = {}
        for callback_id, payload in session.execute(
            select(CallbackEvent.callback_id, CallbackEvent.payload).where(CallbackEvent.step == "book")
        ):
            due = (payload or {}).get("due_at") or (payload or {}).get("slot_start")
            booked_due[callback_id] = datetime.fromisoformat(due) if due else None
        slots = dict(session.execute(select(Slot.id, Slot.starts_at)).all())
        sim = {
            c.call_id: (c.direction, c.state, c.agent_at, (c.script or {}).get(HELD_AT))
            for c in session.scalars(select(SimCall))
        }
        report = queue_report(session, QUEUE_KEY, "day", DAY).report.total
    asap = [c for c in callbacks if c.kind == "asap"]
    scheduled = [c for c in callbacks if c.kind == "scheduled"]
    errors, within, not_rung = [], 0, 0
    errors_by_hour: dict[int, list[float]] = {}
    for callback in asap:
        rung = first_ring.get(callback.id)
        if callback.promised_from is None or callback.promised_until is None:
            continue
        if rung is None:
            not_rung += 1
            continue
        errors.append((rung - callback.promised_from).total_seconds())
        errors_by_hour.setdefault(callback.created_at.hour, []).append(errors[-1])
        within += callback.promised_from <= rung <= callback.promised_until
    on_time, first_dials = 0, 0
    for callback in scheduled:
        rung = first_ring.get(callback.id)
        due = booked_due.get(callback.id) or (slots.get(callback.slot_id) if callback.slot_id else None)
        if rung is None or due is None:
            continue
        first_dials += 1
        on_time += (rung - due).total_seconds() <= ON_TIME_SECONDS
    held = abandoned = 0
    for call_id, pressed in tally.put_through.items():
        _, _, agent_at, held_at = sim[call_id]
        held += held_at is not None
        abandoned += agent_at is None or (agent_at - pressed).total_seconds() > ABANDON_SECONDS
    live = ("ringing", "answered", "holding", "with_agent")
    waiting = ("scheduled", "retry_wait", "dialing", "connected")
    offered = len(tally.offered)
    return Figures(
        calls=tally.calls,
        offered_share=_ratio(offered, tally.calls) or 0.0,
        taken_share=_ratio(len([c for c in callbacks if c.source == "ivr"]), offered) or 0.0,
        booked_asap=len(asap),
        booked_scheduled=len(scheduled),
        holders=len(tally.held),
        holders_gave_up=tally.gave_up,
        ecbt_p50_seconds=_percentile(errors, 0.5),
        ecbt_p90_seconds=_percentile(errors, 0.9),
        ecbt_within_range=_ratio(within, len(errors)),
        asap_not_rung=not_rung,
        idle_share=_ratio(tally.agent_seconds_free, tally.agent_seconds_signed_in) or 0.0,
        put_through=len(tally.put_through),
        callbacks_held=held,
        callbacks_abandoned=abandoned,
        abandoned_share=_ratio(abandoned, len(tally.put_through)),
        scheduled_first_dials=first_dials,
        scheduled_on_time_rate=_ratio(on_time, first_dials),
        report={
            "offered": report.offered,
            "accepted": report.accepted,
            "take_rate": report.take_rate,
            "first_dials": report.first_dials,
            "on_time_rate": report.on_time_rate,
            "completed": report.completed,
            "unreachable": report.unreachable,
        },
        calls_not_ended=sum(1 for direction, state, _, _ in sim.values() if state in live),
        callbacks_waiting=sum(1 for c in callbacks if c.state in waiting),
        callbacks_due_later=sum(
            1
            for c in callbacks
            if c.state in waiting and c.next_attempt_at is not None and c.next_attempt_at >= day.config.closes
        ),
        never_rung=tuple((c.state, c.next_attempt_at) for c in callbacks if c.id not in first_ring),
        hours=tuple(
            HourFigures(
                hour=hour,
                calls=counted.calls,
                most_holding=counted.most_holding,
                idle_share=_ratio(counted.agent_seconds_free, counted.agent_seconds_signed_in),
                asap_booked=len(errors_by_hour.get(hour, [])),
                asap_error_p50_seconds=_percentile(errors_by_hour.get(hour, []), 0.5),
                first_rings=sum(1 for rung in first_ring.values() if rung.hour == hour),
            )
            for hour, counted in sorted(tally.by_hour.items())
        ),
    )


def simulate(config: DayConfig) -> Figures:
    with tempfile.TemporaryDirectory(prefix="simday-") as folder:
        clock = FixedClock(config.opens)
        with day_app(config, Path(folder), clock) as app, app.app_context():
            day = Day(app, config)
            day.run()
            return measure(day)


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value * 100:.1f} %"


def _min(value: float | None) -> str:
    return "–" if value is None else f"{value / 60:+.1f} min"


def table(config: DayConfig, figures: Figures, seconds: float) -> str:
    f, r = figures, figures.report
    rows = [
        (
            "Calls in",
            f"{f.calls}",
            f"{config.agents} agents, AHT {config.handle_seconds} s, step {config.step_seconds} s",
        ),
        ("Offered a callback", _pct(f.offered_share), "of the calls"),
        (
            "Took a callback",
            _pct(f.taken_share),
            f"of those offered ({f.booked_asap} ASAP, {f.booked_scheduled} timed)",
        ),
        ("Held for an agent", f"{f.holders}", f"calls (at entry, or after *); {f.holders_gave_up} gave up holding"),
        ("ECBT error p50", _min(f.ecbt_p50_seconds), "first ring − start of the announced range"),
        ("ECBT error p90", _min(f.ecbt_p90_seconds), "goal: within ±2 min"),
        ("Rung within the range", _pct(f.ecbt_within_range), f"{f.asap_not_rung} ASAP callbacks never rung"),
        ("Agent idle share", _pct(f.idle_share), "agent-seconds free ÷ signed in, open hours"),
        ("Callbacks put through", f"{f.put_through}", f"{f.callbacks_held} had to hold for an agent"),
        ("Callbacks abandoned", _pct(f.abandoned_share), f"{f.callbacks_abandoned}: no agent within 30 s; goal ≤ 1 %"),
        ("Scheduled on time", _pct(f.scheduled_on_time_rate), f"{f.scheduled_first_dials} first dials, ≤ 60 s late"),
        ("Report: offered/accepted", f"{r['offered']}/{r['accepted']}", f"take rate {_pct(r['take_rate'])}"),
        ("Report: on-time rate", _pct(r["on_time_rate"]), f"{r['first_dials']} first dials (ASAP: by the range's end)"),
        ("Report: completed", f"{r['completed']}", f"{r['unreachable']} unreachable"),
        (
            "Left at the end",
            f"{f.calls_not_ended} calls",
            f"{f.callbacks_waiting} callbacks live, {f.callbacks_due_later} of them due another day",
        ),
        ("Run time", f"{seconds:.0f} s", ""),
    ]
    width = max(len(name) for name, _, _ in rows)
    lines = [f"{name:<{width}}  {value:>12}  {note}" for name, value, note in rows]
    lines += ["", "hour  calls  most holding  idle  ASAP booked  their ECBT error p50  first rings"]
    lines += [
        f"{h.hour:02d}:00 {h.calls:>6} {h.most_holding:>13} {_pct(h.idle_share):>7} {h.asap_booked:>12}"
        f" {_min(h.asap_error_p50_seconds):>21} {h.first_rings:>12}"
        for h in f.hours
    ]
    return "\n".join(lines)


def main() -> int:
    logging.disable(logging.INFO)  # a line per webhook and per booking: tens of thousands
    config = config_from_environment()
    started = time.monotonic()
    figures = simulate(config)
    variant = "" if config.live_figures else ", without live agent figures"
    print(f"A simulated day ({DAY}, {config.calls} calls expected, seed {config.seed}{variant})")
    print(table(config, figures, time.monotonic() - started))
    return 0


if __name__ == "__main__":
    sys.exit(main())

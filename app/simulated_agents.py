"""The phone simulator's agents, run by the worker in demo mode (SIMULATOR_AGENTS > 0):
each agent takes one bridged call and hangs up after SIMULATOR_HANDLE_SECONDS; callers put
through while every agent is busy hold in line, and free agents take them longest-waiting
first, keeping one for each of our callbacks in progress (SimulatorDriver.serve_holders);
every second the simulator reports its agents (signed in, free, handle time, the longest
wait, the callers holding; holders count as busy) as every queue's live agent figures, so that the dialer
paces callbacks by agents really being free (docs/queues.md, "Live agent figures"). The
/simulator page shows them. A free agent also picks up an agent-first callback ringing the
agents' line and takes it (presses 1: the agent is reserved before the customer is rung)."""

from __future__ import annotations

from datetime import datetime

from flask import Flask
from sqlalchemy import select

from app.simulator_page import phone_of
from infra.models import Queue
from scheduler.agents import AgentFigures
from services.agent_figures import report
from telephony.simulator import SimulatorTelephony
from telephony.simulator_driver import SimulatorError


def simulator_with_agents(app: Flask) -> SimulatorTelephony | None:
    simulator = app.extensions["providers"].get("simulator")
    return simulator if isinstance(simulator, SimulatorTelephony) and simulator.agents > 0 else None


def take_agent_first_calls(app: Flask, simulator: SimulatorTelephony) -> int:
    """Free agents pick up the agent-first callbacks ringing the agents' line, oldest first,
    and take each (1); returns how many. A call another worker took meanwhile is skipped."""
    with app.extensions["db"].read() as session:
        lines = {
            target or simulator.default_agent_target
            for target in session.scalars(select(Queue.agent_target).where(Queue.dial_mode == "agent_first"))
        }
    driver = phone_of(app)
    load = driver.load()
    free = load.agents - load.busy
    taken = 0
    for call_id in driver.ringing_to(lines):
        if taken >= free:
            break
        try:
            driver.answer(call_id)
            driver.press(call_id, "1")
        except SimulatorError:
            continue  # ended, or answered by another worker's agents meanwhile
        taken += 1
    return taken


def tick(app: Flask) -> int:
    """Agents done with their calls hang up, free ones take the holders; then every queue
    gets the agents' figures.
    Returns how many calls ended. Idempotent: any number of workers may run it."""
    simulator = simulator_with_agents(app)
    if simulator is None:
        return 0
    driver = phone_of(app)
    ended = driver.finish_handled()
    take_agent_first_calls(app, simulator)
    driver.serve_holders()
    load = driver.load()
    now: datetime = app.extensions["clock"].now()
    figures = AgentFigures(
        signed_in=simulator.agents,
        available=load.available,
        average_handle_seconds=simulator.agent_handle_seconds,
        longest_wait_seconds=load.longest_wait_seconds,
        reported_at=now,
        source="simulator",
        callers_waiting=load.holding,
    )
    with app.extensions["db"].write() as session:
        for queue in session.scalars(select(Queue)):
            report(session, queue, figures, now)
    return ended

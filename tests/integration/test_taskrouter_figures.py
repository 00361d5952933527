"""Live agent figures polled from Twilio TaskRouter by the worker (services/taskrouter_figures.py):
stored for the queues that name a task queue and for no other, one failing queue does not
stop the others, figures that age out give the static staffing back, and a cluster of
workers polls once per period. The real adapter and SDK run at its HTTP boundary in the
last test; the Prism contract tests check the request against Twilio's spec."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from app.worker import Worker
from infra.clock import FixedClock
from infra.db import Database
from infra.models import Queue
from scheduler.agents import AgentFigures
from services.agent_figures import latest, queue_staffing
from services.taskrouter_figures import TaskRouterPoller
from telephony.base import ProviderError
from telephony.twilio_adapter import TwilioTelephony
from tests.unit.test_twilio_taskrouter import statistics
from tests.unit.twilio_fake_http import ACCOUNT_SID, AUTH_TOKEN, FakeTwilioHttp, json_response

WORKSPACE = "WS" + "0123456789abcdef" * 2
SUPPORT_TQ = "WQ" + "1" * 32
SALES_TQ = "WQ" + "2" * 32


@dataclass
class FakeTaskRouter:
    """Answers figures per task queue, or raises what it was told to for one."""

    name = "twilio_taskrouter"
    broken: dict[str, ProviderError] = field(default_factory=dict)
    asked: list[str] = field(default_factory=list)
    signed_in: int = 6

    def figures(
        self, workspace_sid: str, task_queue_sid: str, *, now: datetime, average_handle_seconds: int
    ) -> AgentFigures:
        self.asked.append(task_queue_sid)
        if task_queue_sid in self.broken:
            raise self.broken[task_queue_sid]
        return AgentFigures(self.signed_in, 2, average_handle_seconds, 30, now, "twilio_taskrouter")


def poller(db: Database, clock: FixedClock, source: FakeTaskRouter | None, owner: str = "w1") -> TaskRouterPoller:
    return TaskRouterPoller(db, clock, lambda: source, owner=owner, poll_seconds=15)


def taskrouter(task_queue: str) -> dict[str, object]:
    return {"taskrouter_workspace_sid": WORKSPACE, "taskrouter_task_queue_sid": task_queue}


def figures_of(db: Database, key: str) -> AgentFigures | None:
    with db.read() as session:
        return latest(session, session.scalars(select(Queue).where(Queue.key == key)).one())


@pytest.fixture
def queues(make_queue) -> None:  # type: ignore[no-untyped-def]
    make_queue(**taskrouter(SUPPORT_TQ))
    make_queue(key="sales", **taskrouter(SALES_TQ))
    make_queue(key="billing")  # static staffing only


def test_the_figures_of_queues_naming_taskrouter_are_stored_and_no_others(
    db: Database, clock: FixedClock, queues: None
) -> None:
    source = FakeTaskRouter()
    assert poller(db, clock, source).tick() == 2
    assert sorted(source.asked) == [SUPPORT_TQ, SALES_TQ]
    support = figures_of(db, "support")
    assert support is not None and (support.signed_in, support.available, support.source) == (
        6,
        2,
        "twilio_taskrouter",
    )
    assert support.average_handle_seconds == 240  # the demo queue's own: TaskRouter has none
    assert figures_of(db, "billing") is None
    with db.read() as session:
        queue = session.scalars(select(Queue).where(Queue.key == "support")).one()
        assert queue_staffing(session, queue, clock.now(), timedelta(seconds=120)).live


def test_a_failing_queue_is_logged_once_and_does_not_stop_the_others(
    db: Database, clock: FixedClock, queues: None, caplog: pytest.LogCaptureFixture
) -> None:
    source = FakeTaskRouter(broken={SUPPORT_TQ: ProviderError("Twilio HTTP 404 (error 20404)", code="20404")})
    polling = poller(db, clock, source)
    with caplog.at_level(logging.INFO, logger="services.taskrouter_figures"):
        for _ in range(3):
            assert polling.tick(force=True) == 1  # sales, every time
            clock.advance(seconds=15)
        assert figures_of(db, "support") is None and figures_of(db, "sales") is not None
        failures = [r for r in caplog.records if "cannot read TaskRouter" in r.getMessage()]
        assert len(failures) == 1 and "support" in failures[0].getMessage()
        source.broken.clear()
        assert polling.tick(force=True) == 2
    assert any("support: TaskRouter figures read again" in r.getMessage() for r in caplog.records)


def test_figures_that_age_out_give_the_static_staffing_back(
    app: Flask, db: Database, clock: FixedClock, queues: None
) -> None:
    source = FakeTaskRouter(signed_in=9)
    assert poller(db, clock, source).tick() == 2
    max_age = timedelta(seconds=app.extensions["settings"].agent_figures_max_age_seconds)
    source.broken[SUPPORT_TQ] = ProviderError("cannot reach Twilio", code="connection")
    clock.advance(seconds=max_age.total_seconds() + 1)
    assert poller(db, clock, source).tick() == 1  # only sales answered
    with db.read() as session:
        rows = {q.key: q for q in session.scalars(select(Queue))}
        support = queue_staffing(session, rows["support"], clock.now(), max_age)
        sales = queue_staffing(session, rows["sales"], clock.now(), max_age)
    assert (support.live, support.agents, support.available) == (False, 2, None)  # the demo queue's 2 agents
    assert (sales.live, sales.agents) == (True, 9)


def test_a_cluster_of_workers_polls_once_a_period(db: Database, clock: FixedClock, queues: None) -> None:
    source = FakeTaskRouter()
    workers = [poller(db, clock, source, owner=f"w{n}") for n in range(3)]
    assert [w.tick() for w in workers] == [2, 0, 0]
    clock.advance(seconds=7)
    assert [w.tick() for w in workers] == [0, 0, 0]  # within the poll
    clock.advance(seconds=7.5)  # 14.5 s: a tick a little early still counts as the next poll's
    assert sum(w.tick() for w in workers) == 2
    assert len(source.asked) == 4  # two queues, twice


def test_without_twilio_nothing_is_polled_and_each_queue_is_logged_once(
    db: Database, clock: FixedClock, queues: None, caplog: pytest.LogCaptureFixture
) -> None:
    polling = poller(db, clock, None)
    with caplog.at_level(logging.WARNING, logger="services.taskrouter_figures"):
        assert polling.tick() == 0
        assert polling.tick() == 0
    warned = [r.getMessage() for r in caplog.records if "Twilio is not configured" in r.getMessage()]
    assert len(warned) == 2 and {w.split()[1] for w in warned} == {"sales", "support"}
    assert figures_of(db, "support") is None


def test_the_worker_polls_through_the_configured_twilio_adapter(
    app: Flask,
    db: Database,
    clock: FixedClock,
    make_queue,  # type: ignore[no-untyped-def]
) -> None:
    make_queue(**taskrouter(SUPPORT_TQ))
    http = FakeTwilioHttp(json_response(200, statistics(task_queue_sid=SUPPORT_TQ)))
    ext = app.extensions
    ext["providers"].register(TwilioTelephony(ACCOUNT_SID, AUTH_TOKEN, http_client=http))
    worker = Worker(db, clock, ext["settings"], ext["providers"])
    assert "taskrouter_figures" in [tick.__name__ for tick, _ in worker.ticks()]

    worker.taskrouter_figures()

    assert f"/TaskQueues/{SUPPORT_TQ}/RealTimeStatistics" in http.only_request.url
    figures = figures_of(db, "support")
    assert figures is not None and (figures.signed_in, figures.available, figures.longest_wait_seconds) == (8, 3, 95)
    worker.dialer.close()
    worker.events.close()

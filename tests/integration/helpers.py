"""Small helpers shared by the integration tests."""

from __future__ import annotations

import multiprocessing
import re
from collections.abc import Callable, Iterator, Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.factory import create_app
from infra.clock import Clock
from infra.models import Attempt
from infra.settings import Settings
from infra.simulator_models import SimCall
from services import call_inbox


def race_in_processes(target: Callable[..., None], arguments: Sequence[tuple[Any, ...]]) -> list[Any]:
    """Run ``target(*args, barrier, results)`` in a forked process per ``args``, released
    together by the barrier so that they really collide; what each put in ``results``."""
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(len(arguments)), context.Queue()
    workers = [context.Process(target=target, args=(*args, barrier, results)) for args in arguments]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
        assert worker.exitcode == 0
    return outcomes


def dials(session: Session) -> tuple[dict[str, int], dict[int, int]]:
    """How many calls the simulator got per number, and how many attempts were placed per
    callback: a callback dialed twice shows as a 2 in either."""
    calls_per_number = dict(session.execute(select(SimCall.to, func.count()).group_by(SimCall.to)).all())
    placed = dict(
        session.execute(
            select(Attempt.callback_id, func.count()).where(Attempt.call_id.is_not(None)).group_by(Attempt.callback_id)
        ).all()
    )
    return calls_per_number, placed


def phone(n: int) -> str:
    """A distinct valid UK mobile number per n (07400 000000 + n)."""
    return f"+447400{n:06d}"


def slots(client: FlaskClient, queue: str = "support", **params: object) -> list[dict[str, Any]]:
    response = client.get(f"/api/v1/queues/{queue}/slots", query_string=params)
    assert response.status_code == 200, response.get_json()
    result: list[dict[str, Any]] = response.get_json()["slots"]
    return result


def book(client: FlaskClient, n: int, slot_start: str | None = None, **extra: object) -> Any:
    body: dict[str, object] = {"queue": "support", "phone": phone(n), "kind": "scheduled" if slot_start else "asap"}
    if slot_start:
        body["slot_start"] = slot_start
    body.update(extra)
    return client.post("/api/v1/callbacks", json=body)


WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday")


def weekday_hours(
    slot_minutes: int = 60,
    capacity: int = 2,
    opens: str = "09:00",
    closes: str = "17:00",
    days: tuple[str, ...] = WEEKDAYS,
) -> list[dict[str, object]]:
    """A queue document's weekly_hours: the same interval on each of ``days``."""
    return [
        {"weekday": d, "opens": opens, "closes": closes, "slot_minutes": slot_minutes, "capacity": capacity}
        for d in days
    ]


def apply_call_events(app: Flask) -> int:
    """What the worker's apply_call_events tick does, run to the end: apply the call-progress
        reports the status webhook stored in the inbox (a machine verdict redirecting its call, as
    the worker's does). Returns how many rows it took."""
    ext = app.extensions
    taken = 0
    while batch := call_inbox.apply_call_events(ext["db"], ext["clock"], ext["settings"], providers=ext["providers"]):
        taken += batch
    return taken


SHORT_LINK = re.compile(r"(https?://\S+?/b/([A-Za-z0-9]{10}))(?=\s|$)")


def short_link_in(body: str) -> str:
    """The one short link (``{PUBLIC_BASE_URL}/b/<code>``) a text carries."""
    found = SHORT_LINK.findall(body)
    assert len(found) == 1, body
    return str(found[0][0])


def follow_link(client: FlaskClient, body: str) -> tuple[str, str]:
    """Follow the short link in a text: (the booking page's path, the signed token)."""
    link = short_link_in(body)
    response = client.get(urlsplit(link).path)
    assert response.status_code == 302, response.get_data(as_text=True)
    target = urlsplit(response.headers["Location"])
    return target.path, parse_qs(target.query)["t"][0]


def app_with_simulated_agents(settings: Settings, clock: Clock, agents: int, handle_seconds: int) -> Iterator[Flask]:
    """An ``app`` fixture's body: the app with the phone simulator's agents
    (SIMULATOR_AGENTS, SIMULATOR_HANDLE_SECONDS), disposed of afterwards."""
    environment = {"SIMULATOR_AGENTS": str(agents), "SIMULATOR_HANDLE_SECONDS": str(handle_seconds)}
    application = create_app(settings.with_overrides(environment=environment), clock=clock)
    application.config["TESTING"] = True
    yield application
    application.extensions["db"].dispose()

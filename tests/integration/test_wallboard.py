"""The live wallboard: its snapshot (JSON and page), the ECBT samples the workers record,
the Server-Sent Events stream (a change made by another process reaches it), and the
wallboard role's long-lived, read-only sessions."""

# ruff: noqa: F811  (the fixtures signed_in and users come from test_console_access.py)
from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from app.factory import create_app
from app.worker import ECBT_SAMPLE_SECONDS, Worker
from infra.account_models import ConsoleUser
from infra.clock import FixedClock
from infra.db import Database
from infra.settings import Settings
from infra.wallboard_models import EcbtSample
from services.wallboard import forget_old_samples, record_samples
from services.wallboard_feed import stop_all
from tests.integration.helpers import book
from tests.integration.test_console_access import (  # noqa: F401
    SignedIn,
    csrf,
    sign_in,
    signed_in,
    users,
)

MAX_AGE = timedelta(minutes=2)


def _queue(snapshot: dict[str, Any], key: str = "support") -> dict[str, Any]:
    return next(q for q in snapshot["queues"] if q["queue"] == key)


def test_the_snapshot_counts_what_is_waiting(signed_in: SignedIn, client: Any, demo_queue: str) -> None:
    board = signed_in("wallboard")
    before = board.get("/console/wallboard.json")
    assert before.status_code == 200 and before.headers["Cache-Control"] == "no-store"
    assert _queue(before.get_json())["pending"] == 0
    assert book(client, 1).status_code == 201
    assert book(client, 2).status_code == 201
    row = _queue(board.get("/console/wallboard.json").get_json())
    assert (row["pending"], row["dialing"], row["connected"]) == (2, 0, 0)
    assert row["ecbt_seconds"] >= 0 and row["on_time_rate"] is None
    page = board.get("/console/wallboard").get_data(as_text=True)
    assert 'data-queue="support"' in page and '<td data-field="pending">2</td>' in page
    assert "/console/wallboard/stream" in page and "Overview</a>" not in page  # no link it may not follow


def test_one_sample_per_queue_and_bucket_however_many_workers_offer(
    db: Database, clock: FixedClock, demo_queue: str, settings: Settings
) -> None:
    other = Database(settings)  # another worker's connection
    try:
        with db.write() as session:
            assert record_samples(session, clock.now(), MAX_AGE) == 1
        with other.write() as session:
            assert record_samples(session, clock.now() + timedelta(seconds=30), MAX_AGE) == 0  # same bucket
        clock.advance(minutes=5)
        with other.write() as session:
            assert record_samples(session, clock.now(), MAX_AGE) == 1
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(EcbtSample)) == 2
        clock.advance(days=2, minutes=-3)  # two days after 10:02: the 10:00 sample is older, 10:05 not
        with db.write() as session:
            assert forget_old_samples(session, clock.now()) == 1
    finally:
        other.dispose()


def test_every_worker_samples_each_minute_and_the_cluster_keeps_one_per_bucket(
    app: Flask, db: Database, clock: FixedClock, demo_queue: str
) -> None:
    ext = app.extensions
    workers = [Worker(db, clock, ext["settings"], ext["providers"]) for _ in range(2)]
    assert all((w.sample_ecbt, ECBT_SAMPLE_SECONDS) in w.ticks() for w in workers)
    for _ in range(6):  # six minutes of ticks, both workers: 10:00 to 10:05
        for worker in workers:
            worker.sample_ecbt()
        clock.advance(minutes=1)
    with db.read() as session:
        buckets = list(session.scalars(select(EcbtSample.bucket).order_by(EcbtSample.bucket)))
    assert [b.minute for b in buckets] == [0, 5]  # 10:00 to 10:04, then 10:05


def test_the_trend_shows_the_samples(signed_in: SignedIn, db: Database, clock: FixedClock, demo_queue: str) -> None:
    for _ in range(3):
        with db.write() as session:
            record_samples(session, clock.now(), MAX_AGE)
        clock.advance(minutes=5)
    row = _queue(signed_in("wallboard").get("/console/wallboard.json").get_json())
    assert len(row["trend"]) == 3 and len(row["sparkline"].split()) == 3


def _events(response: Any) -> Iterator[tuple[str, str]]:
    """(field, value) of each SSE message of a streaming response: comments as (":", text)."""
    buffer = ""
    for chunk in response.response:
        buffer += chunk.decode() if isinstance(chunk, bytes) else chunk
        while "\n\n" in buffer:
            message, buffer = buffer.split("\n\n", 1)
            if message.startswith(":"):
                yield ":", message[1:].strip()
                continue
            fields = dict(line.split(": ", 1) for line in message.splitlines())
            if "retry" in fields:
                yield "retry", fields["retry"]
            else:
                yield fields.get("event", "message"), fields.get("data", "")


@pytest.fixture
def fast_feed(app: Flask) -> Flask:
    app.config.update(WALLBOARD_STREAM_SECONDS=8, WALLBOARD_KEEP_ALIVE_SECONDS=0.5)
    return app


def test_the_stream_pushes_a_change_made_by_another_process(
    fast_feed: Flask, signed_in: SignedIn, demo_queue: str, settings: Settings, clock: FixedClock
) -> None:
    response = signed_in("wallboard").get("/console/wallboard/stream", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    assert response.headers["X-Accel-Buffering"] == "no" and response.headers["Cache-Control"] == "no-store"
    assert "session=" in response.headers.get("Set-Cookie", "")  # every (re)connect refreshes the session
    events = _events(response)
    assert next(events) == ("retry", "2000")
    kind, data = next(events)
    assert kind == "snapshot" and _queue(json.loads(data))["pending"] == 0
    # Another web process, with its own database connections, books a callback.
    elsewhere = create_app(settings, clock=clock)
    try:
        started = time.monotonic()
        assert book(elsewhere.test_client(), 7).status_code == 201
        for kind, data in events:
            if kind == "snapshot":
                assert _queue(json.loads(data))["pending"] == 1
                break
            assert kind == ":" and time.monotonic() - started < 5, "no new snapshot"
        assert time.monotonic() - started < 3  # the poller looks once a second
    finally:
        elsewhere.extensions["db"].dispose()
        response.close()


def test_a_quiet_stream_sends_keep_alives_then_ends_and_its_poller_stops(
    fast_feed: Flask, signed_in: SignedIn, demo_queue: str
) -> None:
    fast_feed.config["WALLBOARD_STREAM_SECONDS"] = 2
    response = signed_in("wallboard").get("/console/wallboard/stream", buffered=False)
    kinds = [kind for kind, _ in _events(response)]  # runs to the stream's end
    assert kinds[:2] == ["retry", "snapshot"] and ":" in kinds and kinds[-1] == "reconnect"
    feed = fast_feed.extensions["wallboard_feed"]
    for _ in range(30):
        if not feed._running:
            break
        time.sleep(0.1)
    assert not feed._running and feed._watchers == 0


def test_streams_of_a_process_share_one_poller(fast_feed: Flask, signed_in: SignedIn, demo_queue: str) -> None:
    first = signed_in("wallboard").get("/console/wallboard/stream", buffered=False)
    second = signed_in("viewer").get("/console/wallboard/stream", buffered=False)
    a, b = _events(first), _events(second)
    assert [next(a)[0], next(a)[0], next(b)[0], next(b)[0]] == ["retry", "snapshot", "retry", "snapshot"]
    feed = fast_feed.extensions["wallboard_feed"]
    polls = feed.polls
    time.sleep(2.2)
    assert feed._watchers == 2 and 1 <= feed.polls - polls <= 3  # about one a second, not one per stream
    first.close()
    second.close()


def _later(monkeypatch: pytest.MonkeyPatch, hours: float) -> None:
    real = TimestampSigner.get_timestamp
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: int(real(self) + hours * 3600))


def test_a_wallboard_stays_signed_in_past_the_session_lifetime(
    signed_in: SignedIn, monkeypatch: pytest.MonkeyPatch, demo_queue: str
) -> None:
    board, viewer = signed_in("wallboard"), signed_in("viewer")
    _later(monkeypatch, 13)  # the cookies were signed 13 hours ago (PERMANENT_SESSION_LIFETIME: 12)
    assert board.get("/console/wallboard.json").status_code == 200
    assert viewer.get("/console/wallboard.json").status_code == 302  # to the sign-in page


def test_a_long_lived_session_ends_with_its_account_or_its_role(
    signed_in: SignedIn, db: Database, users: dict[str, int], monkeypatch: pytest.MonkeyPatch, demo_queue: str
) -> None:
    board = signed_in("wallboard")
    with db.write() as session:
        session.get_one(ConsoleUser, users["wallboard"]).role = "viewer"
    assert board.get("/console/wallboard.json").status_code == 302  # a long-lived session is a wallboard's only
    with db.write() as session:
        session.get_one(ConsoleUser, users["wallboard"]).role = "wallboard"
    board = signed_in("wallboard")
    _later(monkeypatch, 13)
    assert board.get("/console/wallboard.json").status_code == 200
    with db.write() as session:
        session.get_one(ConsoleUser, users["wallboard"]).active = False
    assert board.get("/console/wallboard.json").status_code == 302  # deactivated: signed out at once


def test_a_wallboard_signs_in_to_the_wallboard_and_sees_nothing_else(
    client: Any, users: dict[str, int], demo_queue: str
) -> None:
    answer = sign_in(client, "wallboard@example.com")
    assert answer.status_code == 303 and answer.headers["Location"] == "/console/wallboard"
    for path in ("/console/", "/console/callbacks", "/console/reports", "/console/queues/support/grid"):
        assert client.get(path).status_code == 403, path


def test_admins_can_make_wallboard_users(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    assert 'value="wallboard">wallboard</option>' in admin.get("/console/users").get_data(as_text=True)
    answer = admin.post(
        "/console/users",
        data={
            "csrf_token": csrf(admin, "/console/"),
            "email": "tv@example.com",
            "password": "a long password!",
            "role": "wallboard",
        },
    )
    assert answer.status_code in (200, 303)
    with db.read() as session:
        assert (
            session.scalars(select(ConsoleUser.role).where(ConsoleUser.email == "tv@example.com")).one() == "wallboard"
        )


def test_a_stopping_process_ends_its_streams_at_once(fast_feed: Flask, signed_in: SignedIn, demo_queue: str) -> None:
    fast_feed.config["WALLBOARD_KEEP_ALIVE_SECONDS"] = 10
    response = signed_in("wallboard").get("/console/wallboard/stream", buffered=False)
    events = _events(response)
    assert [next(events)[0], next(events)[0]] == ["retry", "snapshot"]
    started = time.monotonic()
    threading.Timer(0.3, stop_all).start()  # as gunicorn.conf.py does on SIGTERM
    assert [kind for kind, _ in events] == ["reconnect"]
    assert time.monotonic() - started < 2  # not the keep-alive's 10 s, nor the stream's 8

"""The database going away. The API answers 503 ``database_unavailable`` with ``Retry-After``
and logs one line without a traceback (the pages answer a short HTML 503), while bugs stay
500; the worker logs the outage once, waits, says when the database is back and resumes.
Then for real: a PostgreSQL of the test's own is stopped and started while a real gunicorn
takes bookings and a real worker dials them; no booking answered 201 is lost, none refused
is half made, nothing is dialed twice, and the worker dials again afterwards."""

from __future__ import annotations

import http.client
import json
import logging
import os
import shlex
import shutil
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, exc, func, select, text

from app.factory import create_app
from app.worker import Worker
from infra.clock import FixedClock
from infra.db import Database
from infra.migrate import upgrade
from infra.models import Attempt, Callback
from infra.settings import Settings
from infra.simulator_models import SimCall
from scheduler.outage import MAX_DELAY
from services.queue_documents import import_queue, parse_queue_document
from tests.conftest import demo_document
from tests.integration.helpers import book, dials, phone
from tests.integration.test_restarts import Processes, free_port
from tests.integration.test_worker_processes import ALL_DAY, count, wait_until

ROOT = Path(__file__).resolve().parents[2]
PG_SCRIPT = ROOT / "scripts" / "pg-test-server.sh"


# --- in process: the database cut off -------------------------------------------------------


@contextmanager
def cut_off(db: Database) -> Iterator[None]:
    """Every new connection fails as when the server is down (pooled ones are dropped first)."""
    engines = {db.engine, db.read_engine}
    message = "unable to open database file" if db.is_sqlite else "connection refused (cut off by the test)"

    def refuse(dialect: Any, _record: Any, _cargs: Any, _cparams: Any) -> None:
        raise dialect.loaded_dbapi.OperationalError(message)

    for engine in engines:
        event.listen(engine, "do_connect", refuse)
    db.dispose()
    try:
        yield
    finally:
        for engine in engines:
            event.remove(engine, "do_connect", refuse)


def assert_unavailable(response: Any) -> None:
    assert response.status_code == 503, response.get_data(as_text=True)
    body = response.get_json()
    assert body["type"] == "database_unavailable" and body["details"] == {} and body["message"]
    assert 1 <= int(response.headers["Retry-After"]) <= 5  # Flask-Limiter rounds the 5 down on limited routes
    assert response.headers["Cache-Control"] == "no-store"


def no_tracebacks(caplog: pytest.LogCaptureFixture) -> bool:
    return not any(r.exc_info or r.exc_text for r in caplog.records)


def test_the_api_answers_503_database_unavailable_while_the_database_is_cut_off(
    client: FlaskClient, db: Database, demo_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ref = book(client, 1).get_json()["ref"]
    with cut_off(db):
        caplog.clear()
        answers = [
            book(client, 2),
            client.get("/api/v1/queues/support/slots"),
            client.get(f"/api/v1/callbacks/{ref}"),
            client.delete(f"/api/v1/callbacks/{ref}"),
        ]
        for answer in answers:
            assert_unavailable(answer)
        warnings = [r for r in caplog.records if r.name == "app.errors"]
        assert [r.levelno for r in warnings] == [logging.WARNING] * 4  # one line per failure
        assert (
            warnings[0].getMessage().startswith("database unavailable on POST /api/v1/callbacks: OperationalError: (")
        )
        assert warnings[1].getMessage().startswith("database unavailable on GET /api/v1/queues/support/slots: ")
        assert all("\n" not in r.getMessage() and "[SQL:" not in r.getMessage() for r in warnings)
        assert no_tracebacks(caplog)

        page = client.get("/book/support")  # a page people open: a page, not JSON
        assert page.status_code == 503 and page.mimetype == "text/html"
        assert "Temporarily unavailable" in page.get_data(as_text=True) and page.headers["Retry-After"]
        ready = client.get("/readyz")  # what a load balancer's readiness check sees
        assert ready.status_code == 503 and ready.get_json()["failed"] == ["database", "migrations", "worker"]
    # Back: the refused booking left nothing behind, and the same request now succeeds.
    assert book(client, 2).status_code == 201
    assert client.get(f"/api/v1/callbacks/{ref}").get_json()["state"] == "scheduled"
    assert count(db, select(func.count()).select_from(Callback)) == 2


def test_a_postgresql_that_refuses_connections_is_503_not_500(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    """No server needed: nothing listens on the port."""
    caplog.set_level(logging.INFO)
    settings = Settings(
        database_url=f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/callbacks",
        secret_key="test-secret",
        instance_path=tmp_path,
        api_rate_limit="100000/second",
    )
    app = create_app(settings)
    try:
        client = app.test_client()
        assert_unavailable(book(client, 1))
        assert_unavailable(client.get("/api/v1/queues/support"))
        warnings = [r.getMessage() for r in caplog.records if r.name == "app.errors"]
        assert len(warnings) == 2 and "Connection refused" in warnings[0]
        assert no_tracebacks(caplog)
    finally:
        app.extensions["db"].dispose()


def test_sqlite_still_locked_after_its_busy_timeout_is_503_and_reads_go_on(
    settings: Settings, clock: FixedClock, demo_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    if not settings.is_sqlite:
        pytest.skip("SQLite's write lock")
    impatient = create_app(replace(settings, sqlite_busy_timeout_ms=200), clock=clock)
    client = impatient.test_client()
    holder = sqlite3.connect(settings.database_url.split("///", 1)[1], isolation_level=None)
    try:
        holder.execute("BEGIN IMMEDIATE")  # another process holding the write lock
        started = time.monotonic()
        assert_unavailable(book(client, 1))
        assert time.monotonic() - started >= 0.2  # it waited the busy timeout first
        assert client.get("/api/v1/queues/support/slots").status_code == 200  # readers never wait
        holder.execute("ROLLBACK")
        assert book(client, 1).status_code == 201
    finally:
        holder.close()
        impatient.extensions["db"].dispose()
    (line,) = [r.getMessage() for r in caplog.records if r.name == "app.errors"]
    assert "database is locked" in line and no_tracebacks(caplog)


def _original(error: type[Exception], message: str) -> Exception:
    return error(message)


@pytest.mark.parametrize(
    "error",
    [
        exc.IntegrityError("INSERT …", {}, _original(sqlite3.IntegrityError, "UNIQUE constraint failed")),
        exc.IntegrityError("INSERT …", {}, _original(psycopg.errors.UniqueViolation, "duplicate key")),
        exc.ProgrammingError("SELECT …", {}, _original(psycopg.errors.UndefinedColumn, "column does not exist")),
        exc.DataError("SELECT …", {}, _original(psycopg.errors.NumericValueOutOfRange, "out of range")),
        exc.OperationalError("UPDATE …", {}, _original(psycopg.errors.DeadlockDetected, "deadlock detected")),
    ],
    ids=["sqlite-integrity", "pg-integrity", "pg-programming", "pg-data", "pg-deadlock"],
)
def test_integrity_programming_and_data_errors_stay_500_with_their_traceback(
    client: FlaskClient,
    demo_queue: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    error: Exception,
) -> None:
    def broken(*_args: object, **_kwargs: object) -> None:
        raise error

    monkeypatch.setattr("web_widget.api.get_callback", broken)
    answer = client.get("/api/v1/callbacks/K7QXM2PDRA")
    assert answer.status_code == 500 and answer.get_json()["type"] == "internal_error"
    (logged,) = [r for r in caplog.records if r.name == "app.errors"]
    assert logged.levelno == logging.ERROR and logged.exc_info is not None


def test_a_missing_table_is_a_bug_not_an_outage(
    client: FlaskClient, db: Database, demo_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    if not db.is_sqlite:
        pytest.skip("SQLite reports a missing table as an OperationalError; PostgreSQL as a ProgrammingError")
    with db.write() as session:
        session.execute(text("ALTER TABLE queue RENAME TO queue_gone"))
    answer = client.get("/api/v1/queues/support")
    assert answer.status_code == 500 and answer.get_json()["type"] == "internal_error"
    assert any(r.exc_info for r in caplog.records if r.name == "app.errors")


def test_the_worker_logs_an_outage_once_and_resumes_without_dialing_twice(
    app: Flask, client: FlaskClient, db: Database, clock: FixedClock, demo_queue: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    ext = app.extensions
    worker = Worker(db, clock, ext["settings"], ext["providers"])
    worker.dispatch_window = 0.0  # one pass of the dialing loop per tick
    ticks = [
        worker.guarded(tick)
        for tick in (worker.dispatch, worker.apply_call_events, worker.send_texts, worker.heartbeat, worker.reconcile)
    ]
    try:
        with cut_off(db):
            assert book(client, 1).status_code == 503  # not booked: nothing to dial later
        ref = book(client, 2).get_json()["ref"]
        with cut_off(db):
            deadline = time.monotonic() + 1.6  # tries at 0, 0.5 and 1.5 s fail
            while time.monotonic() < deadline:
                for tick in ticks:
                    tick()  # raises nothing
                time.sleep(0.05)
        about = [r for r in caplog.records if r.name == "app.worker"]
        assert [r.getMessage().split(":")[0] for r in about] == ["database unavailable"]
        assert about[0].levelno == logging.WARNING and about[0].getMessage().endswith("; retrying until it answers")
        assert no_tracebacks(caplog)

        def back() -> bool:
            for tick in ticks:
                tick()
            return any("database reachable again" in r.getMessage() for r in caplog.records)

        wait_until(back, MAX_DELAY + 2, "the worker to find the database again")
        for tick in ticks * 3:
            tick()
        messages = [r.getMessage() for r in caplog.records if r.name == "app.worker"]
        assert len(messages) == 2 and messages[1].startswith("database reachable again after ")
        with db.read() as session:
            callback = session.scalars(select(Callback).where(Callback.ref == ref)).one()
            calls = session.scalars(select(SimCall.to)).all()
            attempts = session.scalars(select(Attempt.call_id)).all()
        assert callback.state == "dialing" and calls == [phone(2)] and len(attempts) == 1 and attempts[0]
        assert no_tracebacks(caplog)
    finally:
        worker.dialer.close()
        worker.events.close()


# --- for real: a PostgreSQL of our own, stopped and started under load ---------------------------


def _postgres_bindir() -> Path | None:
    """Where the PostgreSQL server's programs are, found as scripts/pg-test-server.sh finds them."""
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=lambda p: [int(x) for x in p.parent.name.split(".")])
    if found:
        return found[-1]
    if shutil.which("pg_config"):
        return Path(
            subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
        )
    return None


def _as_owner(command: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: as the script does, run it as ``postgres`` then."""
    return ["runuser", "-u", "postgres", "--", *command] if os.getuid() == 0 else command


@dataclass
class OwnPostgres:
    """A PostgreSQL cluster for this test alone (the shared one others use is never touched)."""

    bindir: Path
    folder: Path
    url: str

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def stop(self) -> None:
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]
        subprocess.run(_as_owner(command), check=True, capture_output=True, timeout=30)

    def start(self) -> None:
        """Start it again exactly as the script first started it (its options are in postmaster.opts)."""
        words = shlex.split((self.data / "postmaster.opts").read_text(encoding="utf-8"))[1:]
        at = words.index("-D")
        options = shlex.join(words[:at] + words[at + 2 :])
        command = [str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options, "-l"]
        command += [str(self.folder / "server.log"), "-w", "-t", "30", "start"]
        subprocess.run(_as_owner(command), check=True, capture_output=True, timeout=40)


@pytest.fixture
def own_postgres() -> Iterator[OwnPostgres]:
    bindir = _postgres_bindir()
    if bindir is None or not (bindir / "initdb").exists():
        if os.environ.get("REQUIRE_POSTGRES") == "1":
            pytest.fail("REQUIRE_POSTGRES=1 but the PostgreSQL server programs (initdb, pg_ctl) are not installed")
        pytest.skip("no PostgreSQL server programs (initdb, pg_ctl): install the postgresql package")
    folder = Path(tempfile.mkdtemp(prefix="callbacks-pg-outage-"))  # not tmp_path: postgres must reach it
    env = {**os.environ, "PGTEST_DIR": str(folder), "PGTEST_PORT": str(free_port()), "PGTEST_DB": "callbacks_outage"}
    try:
        started = subprocess.run([str(PG_SCRIPT), "start"], env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr
        yield OwnPostgres(bindir, folder, started.stdout.strip().splitlines()[-1])
    finally:
        subprocess.run([str(PG_SCRIPT), "stop"], env=env, capture_output=True, timeout=60)
        shutil.rmtree(folder, ignore_errors=True)


def _post(port: int, path: str, body: Mapping[str, object]) -> tuple[int, dict[str, Any], dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("POST", path, json.dumps(body).encode(), {"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}"), dict(response.getheaders())
    finally:
        connection.close()


def _get_status(port: int, path: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


@dataclass
class Booking:
    number: int
    status: int
    type: str | None
    retry_after: str | None
    ref: str | None
    after_restart: bool


class Booker:
    """Books ASAP callbacks over HTTP, one after another, each for a new number, until told to stop."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.answers: list[Booking] = []
        self.errors: list[str] = []
        self.restarted = threading.Event()  # set once the database is back
        self.done = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        n = 0
        while not self.done.is_set():
            n += 1
            after = self.restarted.is_set()
            body = {"queue": "support", "phone": phone(n), "kind": "asap"}
            try:
                status, answer, headers = _post(self.port, "/api/v1/callbacks", body)
            except OSError as error:  # gunicorn itself stays up: any of these is a failure
                self.errors.append(f"{n}: {error!r}")
                continue
            self.answers.append(
                Booking(n, status, answer.get("type"), headers.get("Retry-After"), answer.get("ref"), after)
            )
            time.sleep(0.02)

    def with_status(self, status: int, after_restart: bool | None = None) -> list[Booking]:
        return [
            b
            for b in list(self.answers)
            if b.status == status and (after_restart is None or b.after_restart == after_restart)
        ]


def _outage_under_load(own_postgres: OwnPostgres, settings: Settings, db: Database, tmp_path: Path) -> None:
    upgrade(db.engine)
    document = demo_document(weekly_hours=ALL_DAY, estimated_wait_seconds=0, max_concurrent_calls=500)
    with db.write() as session:
        import_queue(session, parse_queue_document(document), datetime.now(UTC))

    processes = Processes(settings, tmp_path)
    processes.env.update(SIMULATOR_CPS="200", DIAL_LEASE_SECONDS="4", LOG_LEVEL="INFO", LOG_FORMAT="json")
    booker = Booker(processes.port)
    calls = select(func.count()).select_from(SimCall)
    try:
        worker = processes.worker(wait=False)
        processes.web()
        processes.wait_started(worker)
        booker.thread.start()
        wait_until(lambda: len(booker.with_status(201)) >= 15 and count(db, calls) >= 10, 20, "bookings dialed")

        own_postgres.stop()
        stopped = time.monotonic()
        wait_until(lambda: len(booker.with_status(503)) >= 5, 10, "bookings refused while it is down")
        ready = _get_status(processes.port, "/readyz")
        time.sleep(max(0.0, 2.0 - (time.monotonic() - stopped)))  # down for two seconds at least
        own_postgres.start()
        booker.restarted.set()
        wait_until(lambda: len(booker.with_status(201, after_restart=True)) >= 15, 20, "bookings after the restart")
        booker.done.set()
        booker.thread.join(timeout=15)
        after = {phone(b.number) for b in booker.with_status(201, after_restart=True)}
        wait_until(
            lambda: count(db, select(func.count()).select_from(SimCall).where(SimCall.to.in_(after))) == len(after),
            20,
            "the callbacks booked after the restart to be dialed",
        )
    finally:
        booker.done.set()
        processes.stop_all()

    assert ready == 503  # /readyz told the load balancer
    assert booker.errors == []
    assert {b.status for b in booker.answers} <= {201, 503}  # never a 500
    refused = booker.with_status(503)
    assert refused and all(b.type == "database_unavailable" and b.retry_after for b in refused)

    booked = booker.with_status(201)
    with db.read() as session:
        rows = session.execute(select(Callback.id, Callback.ref, Callback.phone, Callback.state)).all()
        calls_per_number, placed = dials(session)
    # Every 201 is one row; every refused booking left none.
    assert len(rows) == len(booked)
    assert sorted(r.ref for r in rows) == sorted(str(b.ref) for b in booked)
    assert {r.phone for r in rows} == {phone(b.number) for b in booked}
    # Nothing dialed twice; what was not dialed yet is still live (a claim the outage cut
    # short waits for its lease to be reconciled), never lost.
    assert all(n == 1 for n in calls_per_number.values())
    assert all(n == 1 for n in placed.values())
    for row in rows:
        if row.phone not in calls_per_number:
            assert row.state in ("scheduled", "retry_wait", "dialing"), row
    assert after <= set(calls_per_number)  # the worker resumed

    lines = processes.lines()
    worker_lines = [str(line["message"]) for line in lines if line["logger"] == "app.worker"]
    assert len([m for m in worker_lines if m.startswith("database unavailable: ")]) == 1
    assert len([m for m in worker_lines if m.startswith("database reachable again after ")]) == 1
    assert not [line for line in lines if str(line["logger"]).startswith("apscheduler") and line["level"] == "ERROR"]
    web_warnings = [line for line in lines if line["logger"] == "app.errors"]
    assert len(web_warnings) == len(refused)
    assert all(line["level"] == "WARNING" and "exception" not in line for line in web_warnings)
    # The only tracebacks allowed: a dial the simulator (whose calls are rows in this very
    # database) could not place at the instant it went away.
    assert all(
        line["logger"] == "services.dialer.dialer" and "raised" in str(line["message"])
        for line in lines
        if "exception" in line
    )


def test_postgresql_stopped_and_started_under_load_loses_no_booking_and_dials_nothing_twice(
    own_postgres: OwnPostgres, tmp_path: Path
) -> None:
    began = time.monotonic()
    settings = Settings(
        database_url=own_postgres.url, secret_key="test-secret", instance_path=tmp_path, api_rate_limit="100000/second"
    )
    db = Database(settings)
    try:
        _outage_under_load(own_postgres, settings, db, tmp_path)
    finally:
        db.dispose()
    assert time.monotonic() - began < 60

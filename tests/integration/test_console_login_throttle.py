"""Failed console sign-ins: throttled per email and per address with backoff, never a
locked account, and the same answer whether or not an email has an account."""

from __future__ import annotations

import re
import traceback
from datetime import datetime
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from infra.account_models import LoginThrottle
from infra.clock import FixedClock
from infra.db import Database
from infra.settings import Settings
from services.accounts import LoginRefused, LoginThrottled, authenticate, create_user
from services.login_throttle import forget_old, throttles_for
from tests.integration.helpers import race_in_processes
from tests.integration.test_console_access import PASSWORD, sign_in

WRONG = "not the password at all"


@pytest.fixture
def users(db: Database, clock: FixedClock) -> None:
    with db.write() as session:
        for role in ("viewer", "admin"):
            create_user(session, f"{role}@example.com", PASSWORD, role, clock.now())


def _fail(client: FlaskClient, email: str, address: str, times: int = 1) -> None:
    for _ in range(times):
        assert sign_in(client, email, WRONG, address).status_code == 401


def _normalised(answer: Any, email: str) -> bytes:
    """The answer's body without what differs by construction: the CSRF token (signed per
    session and second) and the email echoed back in the form."""
    body: bytes = answer.get_data()
    body = re.sub(rb'name="csrf_token" value="[^"]+"', b'name="csrf_token" value="TOKEN"', body)
    return body.replace(email.encode(), b"EMAIL")


def _headers(answer: Any) -> dict[str, str]:
    return {k: v for k, v in answer.headers.items() if k not in ("Set-Cookie", "X-Request-ID")}


def test_a_wrong_password_and_an_unknown_email_get_the_same_401(client: FlaskClient, users: None) -> None:
    real = sign_in(client, "admin@example.com", WRONG, "192.0.2.1")
    unknown = sign_in(client, "nobod@example.com", WRONG, "192.0.2.2")
    assert real.status_code == unknown.status_code == 401
    assert "wrong email or password" in real.get_data(as_text=True)
    assert _normalised(real, "admin@example.com") == _normalised(unknown, "nobod@example.com")
    assert _headers(real) == _headers(unknown)


def test_a_throttled_real_email_and_a_throttled_unknown_one_get_byte_identical_answers(
    client: FlaskClient, users: None, clock: FixedClock
) -> None:
    for _ in range(5):  # the same history for both, each failure as soon as it may be tried
        real = sign_in(client, "admin@example.com", WRONG, "192.0.2.1")
        unknown = sign_in(client, "nobod@example.com", WRONG, "192.0.2.2")
        assert real.status_code == unknown.status_code
        if real.status_code == 429:
            assert real.headers["Retry-After"] == unknown.headers["Retry-After"]
            clock.advance(seconds=int(real.headers["Retry-After"]))
            assert sign_in(client, "admin@example.com", WRONG, "192.0.2.1").status_code == 401
            assert sign_in(client, "nobod@example.com", WRONG, "192.0.2.2").status_code == 401
    # From fresh addresses, the real one with its right password: the same answer.
    real = sign_in(client, "admin@example.com", PASSWORD, "198.51.100.1")
    unknown = sign_in(client, "nobod@example.com", PASSWORD, "198.51.100.2")
    assert real.status_code == unknown.status_code == 429
    assert real.headers["Retry-After"] == unknown.headers["Retry-After"] == "2"
    assert "Too many attempts: try again in 2 seconds" in real.get_data(as_text=True)
    assert "account" not in real.get_data(as_text=True).lower()
    assert _normalised(real, "admin@example.com") == _normalised(unknown, "nobod@example.com")
    assert _headers(real) == _headers(unknown)


def test_after_three_free_failures_each_one_doubles_the_wait(
    client: FlaskClient, users: None, clock: FixedClock
) -> None:
    _fail(client, "viewer@example.com", "192.0.2.1", times=3)
    for wait in (1, 2, 4, 8):
        _fail(client, "viewer@example.com", "192.0.2.1")
        early = sign_in(client, "viewer@example.com", PASSWORD, "192.0.2.1")  # right, but too early
        assert early.status_code == 429 and early.headers["Retry-After"] == str(wait)
        clock.advance(seconds=wait)
    assert sign_in(client, "viewer@example.com", PASSWORD, "192.0.2.1").status_code == 303


def test_failures_from_many_addresses_slow_the_admin_down_but_never_lock_them_out(
    app: Flask, users: None, clock: FixedClock
) -> None:
    attacker = app.test_client()
    for n in range(40):  # 40 addresses, 3 guesses each, each guess as soon as it may
        for _ in range(3):
            answer = sign_in(attacker, "admin@example.com", WRONG, f"203.0.113.{n}")
            if answer.status_code == 429:
                clock.advance(seconds=int(answer.headers["Retry-After"]))
                answer = sign_in(attacker, "admin@example.com", WRONG, f"203.0.113.{n}")
            assert answer.status_code == 401
    admin = app.test_client()
    waiting = sign_in(admin, "admin@example.com", PASSWORD, "198.51.100.7")
    assert waiting.status_code == 429 and 1 <= int(waiting.headers["Retry-After"]) <= 60  # the email's cap
    clock.advance(seconds=int(waiting.headers["Retry-After"]))
    assert sign_in(admin, "admin@example.com", PASSWORD, "198.51.100.7").status_code == 303
    # Signing in wipes the slate: the admin's next typo costs nothing.
    assert sign_in(app.test_client(), "admin@example.com", WRONG, "198.51.100.7").status_code == 401
    assert sign_in(app.test_client(), "admin@example.com", PASSWORD, "198.51.100.7").status_code == 303


def test_one_address_trying_many_emails_is_throttled_up_to_a_quarter_of_an_hour(
    client: FlaskClient, users: None, clock: FixedClock
) -> None:
    waits = []
    for n in range(20):  # a new email each time: only the address's count grows
        answer = sign_in(client, f"guess{n}@example.com", WRONG, "2001:db8:7:7::1")
        if answer.status_code == 429:
            waits.append(int(answer.headers["Retry-After"]))
            clock.advance(seconds=waits[-1])
            answer = sign_in(client, f"guess{n}@example.com", WRONG, f"2001:db8:7:7::{n + 2:x}")  # same /64
        assert answer.status_code == 401
    assert waits == [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900, 900, 900, 900, 900]
    # Another address is not held to that address's count, and the viewer signs in at once.
    clock.advance(seconds=1)
    assert sign_in(client, "viewer@example.com", PASSWORD, "2001:db8:7:8::1").status_code == 303


def test_the_daily_clean_up_forgets_day_old_failures(
    client: FlaskClient, users: None, db: Database, clock: FixedClock
) -> None:
    _fail(client, "nobody@example.com", "192.0.2.1")
    clock.advance(hours=23)
    _fail(client, "nobody@example.com", "192.0.2.2")
    assert sign_in(client, "viewer@example.com", PASSWORD, "192.0.2.3").status_code == 303  # two rows at 0
    clock.advance(hours=2)
    with db.write() as session:
        assert forget_old(session, clock.now()) == 3  # the first address's row and the two at 0
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(LoginThrottle)) == 2


def _guess(url: str, now: datetime, address: str, barrier: Barrier, results: Any) -> None:
    database = Database(Settings(database_url=url, secret_key="test-secret", instance_path=Path("/tmp")))
    try:
        barrier.wait(timeout=60)
        with database.write() as session:
            try:
                authenticate(
                    session, "admin@example.com", WRONG, now, throttles_for("test-secret", "admin@example.com", address)
                )
            except (LoginRefused, LoginThrottled) as error:
                results.put(error.type)
    except Exception:
        results.put(traceback.format_exc())
    finally:
        database.dispose()


def _race(url: str, now: datetime, addresses: list[str]) -> list[str]:
    return race_in_processes(_guess, [(url, now, address) for address in addresses])


def _email_failures(db: Database) -> int:
    with db.read() as session:
        return session.scalars(select(LoginThrottle.failures).where(LoginThrottle.kind == "email")).one()


@pytest.mark.postgres_only
def test_two_processes_failing_at_once_both_count(
    users: None, db: Database, settings: Settings, clock: FixedClock
) -> None:
    db.dispose()  # no pooled connection crosses the fork
    outcomes = _race(settings.database_url, clock.now(), ["192.0.2.1", "192.0.2.2"])
    assert outcomes == ["login_refused", "login_refused"]
    assert _email_failures(db) == 2


@pytest.mark.postgres_only
def test_a_burst_of_parallel_guesses_gets_only_the_free_ones_checked(
    users: None, db: Database, settings: Settings, clock: FixedClock
) -> None:
    db.dispose()
    outcomes = _race(settings.database_url, clock.now(), [f"192.0.2.{n}" for n in range(12)])
    # Three free failures and the fourth that starts the wait; the others wait their turn
    # on the row and find the wait begun, their passwords unchecked.
    assert sorted(outcomes) == ["login_refused"] * 4 + ["login_throttled"] * 8
    assert _email_failures(db) == 4

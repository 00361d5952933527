"""Console access: sign-in, roles on every route, CSRF, sessions that end (failed sign-ins:
test_console_login_throttle.py)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from infra.account_models import ApiKey, AuditEntry, ConsoleUser
from infra.clock import FixedClock
from infra.db import Database
from services.accounts import create_user

PASSWORD = "correct horse battery"


@pytest.fixture
def users(db: Database, clock: FixedClock) -> dict[str, int]:
    made = {}
    with db.write() as session:
        for role in ("wallboard", "viewer", "supervisor", "admin"):
            made[role] = create_user(session, f"{role}@example.com", PASSWORD, role, clock.now()).id
    return made


def csrf(client: FlaskClient, path: str = "/console/login") -> str:
    html = client.get(path).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:500]
    return found.group(1)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD, address: str = "127.0.0.1") -> Any:
    return client.post(
        "/console/login",
        data={"email": email, "password": password, "csrf_token": csrf(client)},
        environ_base={"REMOTE_ADDR": address},
    )


SignedIn = Callable[[str], FlaskClient]


@pytest.fixture
def signed_in(app: Flask, users: dict[str, int]) -> SignedIn:
    def make(role: str) -> FlaskClient:
        client = app.test_client()
        assert sign_in(client, f"{role}@example.com").status_code == 303
        return client

    return make


# (method, path, weakest role allowed)
ROUTES = [
    ("get", "/console/", "viewer"),
    ("get", "/console/wallboard", "wallboard"),
    ("get", "/console/wallboard.json", "wallboard"),
    ("get", "/console/wallboard.js", "wallboard"),
    ("get", "/console/wallboard/stream", "wallboard"),
    ("get", "/console/audit", "supervisor"),
    ("post", "/console/switches", "supervisor"),
    ("get", "/console/users", "admin"),
    ("post", "/console/users", "admin"),
    ("post", "/console/users/999", "admin"),
    ("get", "/console/api-keys", "admin"),
    ("post", "/console/api-keys", "admin"),
    ("post", "/console/api-keys/999/revoke", "admin"),
    ("get", "/console/queues/support/grid", "viewer"),
    ("post", "/console/queues/support/slots/999", "supervisor"),
    ("get", "/console/grid.js", "viewer"),
    ("post", "/console/queues/support/capacity/range", "supervisor"),
    ("post", "/console/queues/support/capacity/copy", "supervisor"),
    ("post", "/console/queues/support/capacity/pattern", "supervisor"),
    ("get", "/console/callbacks", "viewer"),
    ("get", "/console/callbacks.csv", "viewer"),
    ("get", "/console/callbacks/ZZZZZZZZZZ", "viewer"),
    ("post", "/console/callbacks/ZZZZZZZZZZ/cancel", "supervisor"),
    ("post", "/console/callbacks/ZZZZZZZZZZ/reschedule", "supervisor"),
    ("post", "/console/callbacks/ZZZZZZZZZZ/dial-now", "supervisor"),
    ("post", "/console/callbacks/ZZZZZZZZZZ/note", "supervisor"),
    ("get", "/console/queues/support", "viewer"),
    ("get", "/console/queues/new", "supervisor"),
    ("post", "/console/queues", "supervisor"),
    ("get", "/console/blocked", "supervisor"),
    ("post", "/console/blocked", "supervisor"),
    ("post", "/console/blocked/999/remove", "supervisor"),
    ("get", "/console/providers", "admin"),
    ("get", "/console/queues/support/hours", "viewer"),
    ("post", "/console/queues/support/hours", "supervisor"),
    ("get", "/console/queues/support/settings", "viewer"),
    ("post", "/console/queues/support/settings", "supervisor"),
    ("get", "/console/reports", "viewer"),
    ("get", "/console/reports.csv", "viewer"),
    ("get", "/console/reports/callbacks?figure=booked", "viewer"),
    ("get", "/console/reports/callbacks.csv?figure=booked", "viewer"),
    ("get", "/console/events", "supervisor"),
    ("post", "/console/events", "admin"),
    ("get", "/console/events/999", "admin"),
    ("post", "/console/events/999", "admin"),
    ("post", "/console/events/999/active", "admin"),
    ("post", "/console/events/999/rotate", "admin"),
    ("post", "/console/events/999/delete", "admin"),
    ("get", "/console/events/deliveries", "supervisor"),
    ("post", "/console/events/deliveries/999/redeliver", "supervisor"),
]
ROLES = ("wallboard", "viewer", "supervisor", "admin")


@pytest.mark.parametrize(("method", "path", "needed"), ROUTES)
def test_every_route_checks_the_role(
    client: FlaskClient, signed_in: SignedIn, demo_queue: str, method: str, path: str, needed: str
) -> None:
    anonymous = client.open(path, method=method.upper(), data={"csrf_token": csrf(client)})
    assert anonymous.status_code == 302 and anonymous.headers["Location"].startswith("/console/login")
    for role in ROLES:
        user = signed_in(role)
        token = csrf(user, "/console/")
        answer = user.open(path, method=method.upper(), data={"csrf_token": token})
        allowed = ROLES.index(role) >= ROLES.index(needed)
        assert (answer.status_code != 403) == allowed, (role, path, answer.status_code)


def test_every_console_route_is_in_the_role_table(app: Flask) -> None:
    listed = {(m.upper(), re.sub(r"/\d+", "/<int>", p.split("?")[0])) for m, p, _ in ROUTES}
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/console") or rule.endpoint in (
            "console.login",
            "console.login_submit",
            "console.logout",
            "console.choose_language",  # anyone may pick a language (tests/integration/test_console_language.py)
        ):
            continue
        path = re.sub(r"<int:\w+>", "<int>", rule.rule).replace("<key>", "support").replace("<ref>", "ZZZZZZZZZZ")
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}:
            assert (method, path) in listed, (method, path)


def test_a_post_without_the_csrf_token_is_refused(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    answer = admin.post("/console/users", data={"email": "x@example.com", "password": PASSWORD, "role": "viewer"})
    assert answer.status_code == 400
    with db.read() as session:
        assert session.scalars(select(ConsoleUser).where(ConsoleUser.email == "x@example.com")).first() is None


def test_sign_out_ends_the_session(signed_in: SignedIn) -> None:
    viewer = signed_in("viewer")
    assert viewer.get("/console/").status_code == 200
    viewer.post("/console/logout", data={"csrf_token": csrf(viewer, "/console/")})
    assert viewer.get("/console/").status_code == 302


def test_a_deactivated_or_demoted_user_loses_access_at_once(signed_in: SignedIn, users: dict[str, int]) -> None:
    admin, supervisor = signed_in("admin"), signed_in("supervisor")
    assert supervisor.get("/console/audit").status_code == 200
    admin.post(f"/console/users/{users['supervisor']}", data={"csrf_token": csrf(admin, "/console/"), "role": "viewer"})
    assert supervisor.get("/console/audit").status_code == 302  # the session ended: sign in again
    admin.post(
        f"/console/users/{users['viewer']}",
        data={"csrf_token": csrf(admin, "/console/"), "role": "viewer", "active": "no"},
    )
    assert sign_in(admin.application.test_client(), "viewer@example.com").status_code == 401


def test_an_admin_cannot_demote_themselves(signed_in: SignedIn, users: dict[str, int], db: Database) -> None:
    admin = signed_in("admin")
    answer = admin.post(
        f"/console/users/{users['admin']}", data={"csrf_token": csrf(admin, "/console/"), "role": "viewer"}
    )
    assert answer.status_code == 422
    with db.read() as session:
        assert session.get_one(ConsoleUser, users["admin"]).role == "admin"


def test_admins_add_users_and_it_is_audited(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    token = csrf(admin, "/console/")
    short = admin.post(
        "/console/users", data={"csrf_token": token, "email": "new@example.com", "password": "short", "role": "viewer"}
    )
    assert short.status_code == 422 and "at least 12 characters" in short.get_data(as_text=True)
    made = admin.post(
        "/console/users",
        data={"csrf_token": token, "email": "New@Example.com", "password": PASSWORD, "role": "supervisor"},
    )
    assert made.status_code == 303
    with db.read() as session:
        user = session.scalars(select(ConsoleUser).where(ConsoleUser.email == "new@example.com")).one()
        assert user.role == "supervisor" and user.password_hash != PASSWORD
        entry = session.scalars(select(AuditEntry)).one()
        assert (entry.actor, entry.action, entry.target) == ("admin@example.com", "user.create", "new@example.com")


def test_an_api_key_is_shown_once_and_stored_hashed(signed_in: SignedIn, db: Database) -> None:
    admin = signed_in("admin")
    answer = admin.post("/console/api-keys", data={"csrf_token": csrf(admin, "/console/"), "name": "CRM"})
    assert answer.status_code == 201 and answer.headers["Cache-Control"] == "no-store"
    key = re.search(r'id="new-key">(cbk_[\w-]+)<', answer.get_data(as_text=True))
    assert key
    assert key.group(1) not in admin.get("/console/api-keys").get_data(as_text=True)
    with db.read() as session:
        row = session.scalars(select(ApiKey)).one()
        assert key.group(1) not in (row.key_hash, row.prefix) and key.group(1).startswith(row.prefix)


def test_the_overview_shows_each_queue_today(signed_in: SignedIn, demo_queue: str, client: FlaskClient) -> None:
    from tests.integration.helpers import book, slots

    book(client, 1, slots(client)[0]["start"])
    html = signed_in("viewer").get("/console/").get_data(as_text=True)
    assert "Support" in html and "1 / 64" in html  # today 09:00-17:00: 32 slots of 2 seats


def test_the_next_parameter_cannot_send_anyone_off_site(client: FlaskClient, users: dict[str, int]) -> None:
    token = csrf(client)
    answer = client.post(
        "/console/login?next=//evil.example/console/",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert answer.headers["Location"] == "/console/"


@pytest.mark.parametrize(
    "target",
    [
        "/console/%0d%0aSet-Cookie:%20x=1",  # a newline: a header of its own (was a 500)
        "/console/%09tab",
        "/console/%00",
        "/console/\\evil.example/",  # browsers read a backslash as a slash
        "https://evil.example/console/",
        "/consolex",
    ],
)
def test_the_next_parameter_takes_only_a_plain_local_path(
    client: FlaskClient, users: dict[str, int], target: str
) -> None:
    token = csrf(client)
    answer = client.post(
        f"/console/login?next={target}",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/console/"
    # A good one is kept: signed out, signed in again, sent back there.
    kept = client.post("/console/logout", data={"csrf_token": csrf(client)})
    assert kept.status_code == 303
    token = csrf(client)
    back = client.post(
        "/console/login?next=/console/queues?x=1",
        data={"email": "viewer@example.com", "password": PASSWORD, "csrf_token": token},
    )
    assert back.headers["Location"] == "/console/queues?x=1"


def test_the_grid_shows_a_week_and_supervisors_change_a_slot_which_the_api_offers_at_once(
    signed_in: SignedIn, client: FlaskClient, db: Database, demo_queue: str
) -> None:
    from tests.integration.helpers import book

    friday = "2027-01-08T09:00:00+00:00"
    book(client, 1, friday)
    viewer = signed_in("viewer")
    shown = viewer.get("/console/queues/support/grid").get_data(as_text=True)
    assert 'data-slot="2027-01-08T09:00"' in shown and "1 / 2" in shown
    assert 'name="seats"' not in shown  # viewers read only
    supervisor = signed_in("supervisor")
    token = csrf(supervisor, "/console/")
    path = "/console/queues/support/slots/{}"
    from infra.models import Slot

    with db.read() as session:
        slot_id = session.scalars(select(Slot.id).where(Slot.starts_at == datetime.fromisoformat(friday))).one()
    too_low = supervisor.post(path.format(slot_id), data={"csrf_token": token, "capacity": "0", "week": "2027-01-04"})
    assert too_low.status_code == 409 and "Fri 08 Jan 09:00: 1 booked" in too_low.get_data(as_text=True)
    done = supervisor.post(path.format(slot_id), data={"csrf_token": token, "capacity": "5", "week": "2027-01-04"})
    assert done.status_code == 303
    seats = {s["start"]: s["seats_left"] for s in client.get("/api/v1/queues/support/slots").get_json()["slots"]}
    assert seats[friday] == 4
    with db.read() as session:
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "slot.capacity")).one()
        assert (entry.actor, entry.target, entry.before, entry.after) == (
            "supervisor@example.com",
            "support 1 slot Fri 08 Jan 09:00",
            {"capacity": {"2": 1}, "booked": 1},
            {
                "how": "cell",
                "slots": 1,
                "first": "2027-01-08T09:00:00+00:00",
                "last": "2027-01-08T09:00:00+00:00",
                "capacity": {"5": 1},
                "seats": 5,
            },
        )


def test_a_changed_slot_keeps_its_capacity_when_the_slots_are_re_planned(
    signed_in: SignedIn, db: Database, clock: FixedClock, demo_queue: str, make_queue: Any
) -> None:
    from infra.models import Slot

    friday = "2027-01-08T09:00:00+00:00"
    supervisor = signed_in("supervisor")
    with db.read() as session:
        slot_id = session.scalars(select(Slot.id).where(Slot.starts_at == datetime.fromisoformat(friday))).one()
    supervisor.post(
        f"/console/queues/support/slots/{slot_id}", data={"csrf_token": csrf(supervisor, "/console/"), "capacity": "7"}
    )
    make_queue()  # the queue document imported again: slots re-planned from the template
    with db.read() as session:
        assert session.get_one(Slot, slot_id).capacity == 7
        other = session.scalars(
            select(Slot.capacity).where(Slot.starts_at == datetime(2027, 1, 8, 9, 15, tzinfo=UTC))
        ).one()
        assert other == 2


def test_a_slot_that_has_begun_cannot_change(signed_in: SignedIn, db: Database, demo_queue: str) -> None:
    from infra.models import Slot

    with db.read() as session:
        slot_id = session.scalars(
            select(Slot.id).where(Slot.starts_at == datetime(2027, 1, 4, 9, 45, tzinfo=UTC))
        ).one()
    supervisor = signed_in("supervisor")
    answer = supervisor.post(
        f"/console/queues/support/slots/{slot_id}", data={"csrf_token": csrf(supervisor, "/console/"), "capacity": "9"}
    )
    assert answer.status_code == 409 and "has begun" in answer.get_data(as_text=True)

"""Console users, their passwords and roles, and API keys (the audit log: infra/audit.py).

Passwords are hashed with Werkzeug (scrypt). A failed sign-in counts against the email
tried (known or not) and the client's address, and after a few the next attempts must wait,
longer each time up to a cap (services/login_throttle.py, scheduler/login_backoff.py): no
account is ever locked, and the answers never tell whether an email has one. API keys are random
(``secrets``), shown once and stored as SHA-256: a leaked database does not leak keys.
Time is passed in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from infra.account_models import ApiKey, ConsoleUser
from infra.audit import audit
from scheduler.errors import DomainError, ValidationFailed
from services import login_throttle
from services.login_throttle import Throttle

ROLES = ("wallboard", "viewer", "supervisor", "admin")  # weakest first
MIN_PASSWORD = 12
KEY_PREFIX = "cbk_"
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
# Checked against when the email is unknown, so that a wrong email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


class LoginRefused(DomainError):
    type = "login_refused"


class LoginThrottled(DomainError):
    """Too many failures for this email or from this address: the same answer for an email
    with an account and one without, whatever the password."""

    type = "login_throttled"

    def __init__(self, retry_after: int) -> None:
        unit = "second" if retry_after == 1 else "seconds"
        super().__init__(f"Too many attempts: try again in {retry_after} {unit}", {"retry_after": str(retry_after)})
        self.retry_after = retry_after


def at_least(role: str, needed: str) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


def _check_new(email: str, password: str, role: str) -> None:
    problems = {}
    if not EMAIL.match(email):
        problems["email"] = "must be an email address"
    if len(password) < MIN_PASSWORD:
        problems["password"] = f"must be at least {MIN_PASSWORD} characters"
    if role not in ROLES:
        problems["role"] = f"must be one of {', '.join(ROLES)}"
    if problems:
        raise ValidationFailed("the user is not valid", problems)


def create_user(session: Session, email: str, password: str, role: str, now: datetime) -> ConsoleUser:
    email = email.strip().lower()
    _check_new(email, password, role)
    if session.scalars(select(ConsoleUser).where(ConsoleUser.email == email)).first() is not None:
        raise ValidationFailed("that email has an account already", {"email": "already has an account"})
    user = ConsoleUser(
        email=email,
        password_hash=generate_password_hash(password),
        role=role,
        active=True,
        session_version=1,
        created_at=now,
    )
    session.add(user)
    session.flush()
    return user


def set_password(user: ConsoleUser, password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ValidationFailed("the password is too short", {"password": f"at least {MIN_PASSWORD} characters"})
    user.password_hash = generate_password_hash(password)
    user.session_version += 1  # signed-in sessions end


def authenticate(
    session: Session, email: str, password: str, now: datetime, throttles: Sequence[Throttle]
) -> ConsoleUser:
    """The user, or ``LoginThrottled`` (while the email or the address must wait, the
    password is not even checked) / ``LoginRefused`` (one message whatever was wrong).
    Catch them inside the transaction: the failure is counted when it commits."""
    rows = login_throttle.lock(session, throttles)
    wait = login_throttle.wait(rows, now)
    if wait:
        raise LoginThrottled(wait)
    user = session.scalars(select(ConsoleUser).where(ConsoleUser.email == email.strip().lower())).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)  # as long as a wrong password takes
        right = False
    else:
        right = check_password_hash(user.password_hash, password) and user.active
    if user is None or not right:
        login_throttle.record_failure(rows, throttles, now)
        raise LoginRefused("wrong email or password")
    login_throttle.reset(rows)
    user.last_login_at = now
    return user


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


API_KEY_ROLES = ("client", "admin")


def new_api_key(
    session: Session, name: str, created_by: str, now: datetime, role: str = "client"
) -> tuple[str, ApiKey]:
    """A new key: (the key itself, to show once; its row)."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise ValidationFailed("the key needs a name", {"name": "1 to 100 characters"})
    if role not in API_KEY_ROLES:
        raise ValidationFailed("unknown key role", {"role": " or ".join(API_KEY_ROLES)})
    key = KEY_PREFIX + secrets.token_urlsafe(32)
    row = ApiKey(name=name, prefix=key[:12], key_hash=_digest(key), created_by=created_by, created_at=now, role=role)
    session.add(row)
    session.flush()
    return key, row


def create_api_key(session: Session, name: str, actor: str, now: datetime, role: str = "client") -> tuple[str, ApiKey]:
    """A new key made by someone (the console's admin, the CLI), in the audit log."""
    key, row = new_api_key(session, name, actor, now, role=role)
    audit(session, actor, "api_key.create", f"{row.name} ({row.prefix}…, {row.role})", now)
    return key, row


def find_api_key(session: Session, presented: str) -> ApiKey | None:
    """The live key presented (``Authorization: Bearer …``), or None."""
    if not presented.startswith(KEY_PREFIX):
        return None
    row = session.scalars(select(ApiKey).where(ApiKey.key_hash == _digest(presented))).first()
    return row if row is not None and row.revoked_at is None else None

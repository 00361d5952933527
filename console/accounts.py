"""Console users, their passwords and roles, API keys and the audit log.

Passwords are hashed with Werkzeug (scrypt); a sign-in with a wrong password counts
against the account, and ``MAX_FAILURES`` in a row lock it for ``LOCKOUT``, whatever
the address they come from (the per-address limit is Flask-Limiter's). API keys are random
(``secrets``), shown once and stored as SHA-256: a leaked database does not leak keys.
Time is passed in.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from app.models import ApiKey, AuditEntry, ConsoleUser
from scheduler.errors import DomainError, ValidationFailed

ROLES = ("viewer", "supervisor", "admin")  # weakest first
MIN_PASSWORD = 12
MAX_FAILURES = 5
LOCKOUT = timedelta(minutes=15)
KEY_PREFIX = "cbk_"
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
# Checked against when the email is unknown, so that a wrong email takes as long as a wrong password.
_DUMMY_HASH = generate_password_hash("not a real password")


class LoginRefused(DomainError):
    type = "login_refused"
    http_status = 401


class AccountLocked(DomainError):
    type = "account_locked"
    http_status = 429


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
        failed_logins=0,
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
    user.failed_logins, user.locked_until = 0, None


def authenticate(session: Session, email: str, password: str, now: datetime) -> ConsoleUser:
    """The user, or ``LoginRefused`` (one message whatever was wrong) / ``AccountLocked``."""
    user = session.scalars(
        select(ConsoleUser).where(ConsoleUser.email == email.strip().lower()).with_for_update()
    ).first()
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        raise LoginRefused("wrong email or password")
    if user.locked_until is not None and user.locked_until > now:
        raise AccountLocked("too many wrong passwords: try again later", {"until": user.locked_until.isoformat()})
    if not check_password_hash(user.password_hash, password) or not user.active:
        user.failed_logins += 1
        if user.failed_logins >= MAX_FAILURES:
            user.locked_until, user.failed_logins = now + LOCKOUT, 0
        raise LoginRefused("wrong email or password")
    user.failed_logins, user.locked_until, user.last_login_at = 0, None, now
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


def audit(
    session: Session,
    actor: str,
    action: str,
    target: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, target=target[:200], before=before, after=after))

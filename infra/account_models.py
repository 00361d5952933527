"""Console users, their sign-in throttle, API keys, the audit log and blocked numbers."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column

from infra.models import Base, UTCDateTime


class ConsoleUser(Base):
    """Someone who signs in to the supervisor console (console/). Roles, weakest first:
    wallboard (the live wallboard only, for a TV), viewer (reads), supervisor (queues, slots,
    callbacks), admin (also users and API keys)."""

    __tablename__ = "console_user"
    __table_args__ = (CheckConstraint("role IN ('wallboard', 'viewer', 'supervisor', 'admin')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-case
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped on a password change or deactivation: sessions made before it end.
    session_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class LoginThrottle(Base):
    """Failed console sign-ins in a row, for one email or one client address (services/login_throttle.py).

    ``key`` is an HMAC (keyed with SECRET_KEY) of the kind and the normalised email or
    address: a row exists for any email tried, known or not, and none of them is stored in
    the clear. ``not_before`` is when the next attempt may be checked; until then every
    attempt gets the same 429."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # "email" or "address"
    failures: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_failure_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ApiKey(Base):
    """A key for server-to-server use of the JSON API (a CRM creating callbacks). Only its
    SHA-256 is stored; the key itself is shown once, when it is made."""

    __tablename__ = "api_key"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    prefix: Mapped[str] = mapped_column(String(16))  # the key's first characters, to recognise it
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # "client": books, reads and cancels callbacks (a CRM, a website's server);
    # "admin": also manages event subscriptions and answers personal-data requests.
    role: Mapped[str] = mapped_column(String(16), default="client", server_default="client")


class AuditEntry(Base):
    """Who changed what in the console, with the values before and after."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(200))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class BlockedNumber(Base):
    """A number, or the prefix of numbers, no channel may book a callback for (a
    supervisor's list in the console, with the reason); a queue may block more of its own
    (``widget.blocked_numbers``)."""

    __tablename__ = "blocked_number"

    id: Mapped[int] = mapped_column(primary_key=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)  # "+" and digits
    reason: Mapped[str] = mapped_column(String(200))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)

"""What keeps the public booking API from abuse: a request limit per client IP
(Flask-Limiter), a limit per phone number, the queue's blocked numbers, and the honeypot
field (``web_widget.schemas.CreateCallback.website``).

- Per IP: ``API_RATE_LIMIT`` (default 5/second) over every ``/api/v1`` route; over it,
  429 ``request_throttle_timeout`` with ``Retry-After``. Counts live in
  ``RATE_LIMIT_STORAGE_URI``: memory:// by default, which holds in one web process (make
  run's); several processes share Redis (redis://…), and gunicorn refuses several with
  memory:// (``infra.settings.check_web_processes``).
- Per phone: ``widget.requests_per_phone_per_hour`` callbacks created for one number in
  one queue in the last hour (default 3); over it, 429 ``request_throttle_count``. Counted
  in the database (the callbacks themselves), so it holds across processes and restarts.
- Blocked: a number starting with one of the queue's ``widget.blocked_numbers``, or one of
  the console's blocked numbers (``blocked_number``, every queue), gets 403
  ``request_phone_blacklisted``.
- API keys (made in the console, ``services/accounts.py``): a request with
  ``Authorization: Bearer <key>`` comes from a server we know (a CRM); it is not held to
  the per-address limit nor the per-number allowance (blocked numbers still apply). A
  wrong or revoked key gets 401 ``api_key_invalid``, never the anonymous treatment.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Flask, Response, g, request
from flask_limiter import Limiter, RateLimitExceeded
from flask_limiter.util import get_remote_address
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from app.errors import error_response
from infra import context
from infra.account_models import ApiKey
from infra.models import Queue, UTCDateTime
from infra.settings import Settings
from scheduler.errors import DomainError, PhoneBlocked, TooManyForPhone
from services.accounts import find_api_key

PHONE_WINDOW = timedelta(hours=1)
DEFAULT_PER_PHONE = 3
KEY_USE_RECORDED_EVERY = timedelta(minutes=5)  # last_used_at: not a write per request
API_BLUEPRINTS = ("api", "events_api")  # /api/v1: a request with a valid key is not limited per address


class ApiKeyInvalid(DomainError):
    """An Authorization header with a key we do not know, or one that was revoked."""

    type = "api_key_invalid"


def request_api_key() -> ApiKey | None:
    """The API key this request presents (checked once per request), None without one."""
    if "api_key" in g:
        return g.api_key  # type: ignore[no-any-return]
    g.api_key = None
    header = request.headers.get("Authorization")
    if header is None:
        return None
    scheme, _, presented = header.partition(" ")
    if scheme.lower() != "bearer" or not presented.strip():
        raise ApiKeyInvalid("send an API key as Authorization: Bearer <key>", {"Authorization": "not a bearer key"})
    with context.db().read() as session:
        key = find_api_key(session, presented.strip())
        if key is not None:
            session.expunge(key)
    if key is None:
        raise ApiKeyInvalid("this API key is not valid (or was revoked)", {})
    now = context.now()
    if key.last_used_at is None or now - key.last_used_at > KEY_USE_RECORDED_EVERY:
        with context.db().write() as session:
            session.get_one(ApiKey, key.id).last_used_at = now
    g.api_key = key
    return key


class AdminKeyRequired(DomainError):
    """An operation only an admin API key may do (event subscriptions, personal data),
    asked without a key or with a client key."""

    type = "admin_key_required"


def require_admin_key() -> ApiKey:
    """The request's API key, which must have the admin role; else 403 ``admin_key_required``
    (401 ``api_key_invalid`` for a wrong key, as everywhere)."""
    key = request_api_key()
    if key is None:
        raise AdminKeyRequired("this needs an admin API key: Authorization: Bearer <key>", {})
    if key.role != "admin":
        raise AdminKeyRequired(f"the API key {key.name!r} is a client key; this needs an admin key", {})
    return key


class ApiKeyRequired(DomainError):
    """An operation for servers only (an ACD pushing its agent figures), asked without a key."""

    type = "api_key_required"


def require_api_key() -> ApiKey:
    """The request's API key, client or admin; else 401 ``api_key_required``."""
    key = request_api_key()
    if key is None:
        raise ApiKeyRequired("this needs an API key: Authorization: Bearer <key>", {})
    return key


def request_actor(default: str) -> str:
    key = request_api_key()
    return f"api-key:{key.name}" if key is not None else default


def init_protection(app: Flask, settings: Settings, *blueprints: Blueprint) -> Limiter:
    """One limiter per app (its own counts), limiting every route of these blueprints (the
    API, the booking page) together: one allowance per address."""
    limiter = Limiter(
        get_remote_address,  # the client's address: behind TRUSTED_PROXIES, from X-Forwarded-For (create_app)
        app=app,
        storage_uri=settings.rate_limit_storage_uri,
        strategy="moving-window",  # exact: no burst of twice the limit at a window edge
        headers_enabled=True,
        # A shared store that stops answering (Redis restarting) must not stop bookings:
        # each process counts in memory meanwhile, and goes back to the store when it answers.
        in_memory_fallback_enabled=settings.rate_limits_shared,
    )

    @limiter.request_filter
    def _known_server() -> bool:  # a request with a valid API key is not limited per address
        return request.blueprint in API_BLUEPRINTS and request_api_key() is not None

    for blueprint in blueprints:  # one allowance per address for them all (not one per route)
        limiter.shared_limit(settings.api_rate_limit, scope="public")(blueprint)

    @app.errorhandler(RateLimitExceeded)
    def _throttled(error: RateLimitExceeded) -> Response:
        # Flask-Limiter adds Retry-After and X-RateLimit-* to this answer after the handler.
        return error_response(
            429,
            "request_throttle_timeout",
            "too many requests from this address; wait a moment and try again",
            {"limit": str(error.limit.limit)},
        )

    return limiter


# One statement for both checks of a booking (it runs on every one): the number's
# bookings in this queue in the last hour, and whether the console blocks it (prefixes
# are "+" and digits: no LIKE wildcards in them).
PHONE_CHECKS = text(
    "SELECT (SELECT count(*) FROM callback"
    " WHERE phone = :phone AND queue_id = :queue_id AND created_at > :since) AS made,"
    " EXISTS (SELECT 1 FROM blocked_number WHERE :phone LIKE prefix || '%') AS blocked"
).bindparams(bindparam("since", type_=UTCDateTime()))


def check_phone(session: Session, queue: Queue, phone: str, now: datetime, *, per_phone: bool = True) -> None:
    """Refuse a blocked number, or (``per_phone``) one that made its hourly allowance of
    bookings here."""
    widget = queue.widget or {}
    made, blocked = (
        session.connection()
        .execute(PHONE_CHECKS, {"phone": phone, "queue_id": queue.id, "since": now - PHONE_WINDOW})
        .one()
    )
    if blocked or any(phone.startswith(prefix) for prefix in widget.get("blocked_numbers", ())):
        raise PhoneBlocked("this number cannot book a callback here", {"phone": "this number is not accepted"})
    if not per_phone:
        return
    allowance = widget.get("requests_per_phone_per_hour", DEFAULT_PER_PHONE)
    if made >= allowance:
        raise TooManyForPhone(
            f"this number has asked for {made} callbacks in the last hour; please try again later",
            {"phone": f"at most {allowance} requests an hour"},
        )

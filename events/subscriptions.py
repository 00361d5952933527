"""Event subscriptions: the one place that creates, changes and deletes them (the JSON API
and the console both call it), so that both check the same rules and audit alike.

A subscription's fields arrive as a mapping of JSON-like values (the API's body as sent;
the console turns its form into the same shape). Every problem is reported at once,
per field, as ``subscription_invalid`` (422). The secret is generated here when none is
given (``whsec_`` and 32 random bytes); a given one must be at least 16 characters. It is
kept as is (every delivery is signed with it) and shown whole only when it is made.

Both ``http`` and ``https`` URLs are accepted (a receiver on the same private network may
not have a certificate); https is what a receiver on the internet should use. The URL's
host must be, or resolve to, public addresses only, unless ``EVENT_TARGETS_ALLOWED`` lets
it through (events/address_rules.py): otherwise ``target_not_allowed`` (422), once the
fields are valid. The sender checks again before every POST (a name's addresses change).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from events.address_rules import parse_target
from events.targets import TargetPolicy, check_target
from events.types import EVENT_TYPES
from infra.audit import audit
from infra.event_models import EventSubscription
from infra.models import Queue
from scheduler.errors import DomainError

SECRET_PREFIX = "whsec_"
MIN_SECRET = 16
MAX_SECRET = 128  # the column's length
MAX_URL = 500
MAX_NAME = 100
FORMATS = ("json", "xml")
ROTATE = "rotate"  # "secret": "rotate" asks for a new generated secret
FIELDS = ("name", "url", "event_types", "format", "queue", "active", "secret")
REQUIRED = ("name", "url", "event_types")
NO_CONTROL = re.compile(r"^[^\x00-\x1f\x7f]*$")
SECRET_CHARACTERS = re.compile(r"^[\x21-\x7e]+$")  # printable ASCII, no spaces: it goes into an HMAC


class SubscriptionInvalid(DomainError):
    """A subscription's fields break a rule (details per field)."""

    type = "subscription_invalid"


class SubscriptionNotFound(DomainError):
    """No event subscription has that id."""

    type = "subscription_not_found"


@dataclass(frozen=True)
class Saved:
    """A subscription as saved, and its secret when it was just made or rotated (shown once)."""

    subscription: EventSubscription
    queue_key: str | None
    new_secret: str | None = None


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def secret_hint(secret: str) -> str:
    """The first characters of a secret, enough to recognise it and not to use it."""
    keep = len(SECRET_PREFIX) + 4 if secret.startswith(SECRET_PREFIX) else 4
    return secret[:keep] + "…"


def get_subscription(session: Session, subscription_id: int) -> EventSubscription:
    subscription = session.get(EventSubscription, subscription_id)
    if subscription is None:
        raise SubscriptionNotFound("no event subscription has this id", {"id": subscription_id})
    return subscription


def queue_key_of(session: Session, subscription: EventSubscription) -> str | None:
    if subscription.queue_id is None:
        return None
    return session.scalar(select(Queue.key).where(Queue.id == subscription.queue_id))


def list_subscriptions(session: Session) -> list[tuple[EventSubscription, str | None]]:
    """Every subscription (oldest first) with its queue's key (None: every queue)."""
    rows = session.execute(
        select(EventSubscription, Queue.key)
        .outerjoin(Queue, Queue.id == EventSubscription.queue_id)
        .order_by(EventSubscription.id)
    ).all()
    return [(subscription, key) for subscription, key in rows]


def _check_url(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    url = value.strip()
    if not url or len(url) > MAX_URL:
        raise ValueError(f"1 to {MAX_URL} characters")
    if not NO_CONTROL.match(url) or " " in url:
        raise ValueError("must not contain spaces or control characters")
    parse_target(url)  # http(s), a host, a port that is a number, no user name or password
    return url


def _check_name(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    name = value.strip()
    if not 1 <= len(name) <= MAX_NAME or not NO_CONTROL.match(name):
        raise ValueError(f"1 to {MAX_NAME} characters, no control characters")
    return name


def _check_event_types(value: Any) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValueError("must be a list of event types")
    unknown = [t for t in value if t not in EVENT_TYPES]
    if unknown:
        raise ValueError(f"unknown event type {unknown[0]!r}; known: {', '.join(EVENT_TYPES)}")
    chosen = list(dict.fromkeys(value))  # without repeats, in the order given
    if not chosen:
        raise ValueError("choose at least one event type")
    return chosen


def _check_format(value: Any) -> str:
    if value not in FORMATS:
        raise ValueError(" or ".join(FORMATS))
    return str(value)


def _check_active(value: Any) -> bool:
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _check_secret(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if value == ROTATE:
        return new_secret()
    if not MIN_SECRET <= len(value) <= MAX_SECRET or not SECRET_CHARACTERS.match(value):
        raise ValueError(f"{MIN_SECRET} to {MAX_SECRET} printable characters without spaces, or 'rotate'")
    return value


def _check_queue(session: Session, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValueError("must be a queue key or null")
    queue_id = session.scalar(select(Queue.id).where(Queue.key == value))
    if queue_id is None:
        raise ValueError("no queue has this key")
    return queue_id


CHECKS = {
    "name": _check_name,
    "url": _check_url,
    "event_types": _check_event_types,
    "format": _check_format,
    "active": _check_active,
    "secret": _check_secret,
}


def check_fields(
    session: Session, fields: Mapping[str, Any], *, creating: bool, targets: TargetPolicy | None = None
) -> dict[str, Any]:
    """The fields given, checked and cleaned (``queue`` becomes ``queue_id``); every
    problem at once, per field. Then a URL's target (TargetNotAllowed), with ``targets``
    (events/targets.py ``app_targets()`` in the app; none given: public addresses only)."""
    problems: dict[str, str] = {}
    clean: dict[str, Any] = {}
    for name in fields:
        if name not in FIELDS:
            problems[name] = "unknown field"
    if creating:
        for name in REQUIRED:
            if name not in fields:
                problems[name] = "required"
    for name, value in fields.items():
        if name not in FIELDS or name in problems:
            continue
        try:
            if name == "queue":
                clean["queue_id"] = _check_queue(session, value)
            else:
                clean[name] = CHECKS[name](value)
        except ValueError as exc:
            problems[name] = str(exc)
    if problems:
        raise SubscriptionInvalid("some fields of the subscription are not valid", problems)
    if "url" in clean:
        check_target(clean["url"], targets or TargetPolicy())
    return clean


def _audited(subscription: EventSubscription, queue_key: str | None) -> dict[str, Any]:
    """What the audit log keeps of a subscription: never its secret."""
    return {
        "name": subscription.name,
        "url": subscription.url,
        "event_types": list(subscription.event_types),
        "format": subscription.format,
        "queue": queue_key,
        "active": subscription.active,
        "secret": secret_hint(subscription.secret),
    }


def _target(subscription: EventSubscription) -> str:
    return f"subscription {subscription.id} ({subscription.name})"


def create_subscription(
    session: Session,
    fields: Mapping[str, Any],
    actor: str,
    now: datetime,
    targets: TargetPolicy | None = None,
) -> Saved:
    clean = check_fields(session, fields, creating=True, targets=targets)
    secret = clean.pop("secret", None) or new_secret()
    subscription = EventSubscription(
        name=clean["name"],
        url=clean["url"],
        secret=secret,
        event_types=clean["event_types"],
        queue_id=clean.get("queue_id"),
        format=clean.get("format", "json"),
        active=clean.get("active", True),
        created_by=actor[:254],
        created_at=now,
        updated_at=now,
    )
    session.add(subscription)
    session.flush()
    queue_key = queue_key_of(session, subscription)
    audit(session, actor, "subscription.create", _target(subscription), now, after=_audited(subscription, queue_key))
    return Saved(subscription, queue_key, secret)


def update_subscription(
    session: Session,
    subscription_id: int,
    fields: Mapping[str, Any],
    actor: str,
    now: datetime,
    targets: TargetPolicy | None = None,
) -> Saved:
    """Change the fields given (the others stay). ``secret``: ``"rotate"`` for a new
    generated one, or the new secret itself; it is then answered once, like at creation.
    A new URL's target is checked (not the URL kept: a subscription can be paused or
    changed whatever it points at)."""
    subscription = get_subscription(session, subscription_id)
    clean = check_fields(session, fields, creating=False, targets=targets)
    before = _audited(subscription, queue_key_of(session, subscription))
    secret = clean.pop("secret", None)
    for name, value in clean.items():
        setattr(subscription, name, value)
    if secret is not None:
        subscription.secret = secret
    queue_key = queue_key_of(session, subscription)
    after = _audited(subscription, queue_key)
    if after != before or secret is not None:
        subscription.updated_at = now
        if secret is not None:
            after["secret"] = "rotated"
        audit(session, actor, "subscription.change", _target(subscription), now, before, after)
    return Saved(subscription, queue_key, secret)


def set_active(session: Session, subscription_id: int, active: bool, actor: str, now: datetime) -> Saved:
    """Pause (False) or resume (True) deliveries: a paused subscription gets no new events."""
    return update_subscription(session, subscription_id, {"active": active}, actor, now)


def delete_subscription(session: Session, subscription_id: int, actor: str, now: datetime) -> Saved:
    """Delete it, and with it its deliveries and their log (the foreign keys cascade)."""
    subscription = get_subscription(session, subscription_id)
    queue_key = queue_key_of(session, subscription)
    audit(session, actor, "subscription.delete", _target(subscription), now, before=_audited(subscription, queue_key))
    session.delete(subscription)
    session.flush()
    return Saved(subscription, queue_key)

"""Signed, expiring booking links a customer gets by text, behind a short link.

The token carries the queue, the phone, its expiry and, for a reschedule link, the
callback's ref and a nonce: it is signed with SECRET_KEY, so the page trusts nothing
it did not sign, and it needs no database to be read. Texts carry a short link,
``{PUBLIC_BASE_URL}/b/<code>``, that redirects to the signed booking URL: a signed
token is ~150 characters, which alone would take a Cyrillic (UCS-2) text past two
segments. The code is made in the caller's transaction, the one that queues the text.

A plain booking link may be used until it expires. A reschedule link moves its
callback once: its nonce goes into ``used_link`` (primary key) in the transaction that
moves the callback, so two concurrent uses cannot both succeed.
Time is always passed in (never time.time()), so expiry follows the injected clock.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import Table, delete, select
from sqlalchemy.orm import Session

from infra.db import upsert_into
from infra.models import Callback, ShortLink, UsedLink
from infra.settings import Settings
from scheduler.errors import CallbackNotFound, LinkExpired, LinkInvalid, LinkUsed
from services.booking_service import get_callback, reschedule

__all__ = [
    "BookingLink",
    "LinkExpired",
    "LinkInvalid",
    "LinkUsed",
    "booking_token",
    "booking_url",
    "follow_short_link",
    "forget_expired_links",
    "is_used",
    "link_callback",
    "mark_used",
    "new_code",
    "read_booking_token",
    "reschedule_with_link",
    "short_booking_url",
]

SALT = "booking-link"
# Letters and digits only: a trailing "-" or "_" is often left out of a link by the
# phone's link detection. 62**10 ≈ 8·10**17 codes: not guessable by trying.
CODE_ALPHABET = string.ascii_letters + string.digits
CODE_LENGTH = 10
CODE_ATTEMPTS = 5
# An expired short link still answers "expired" (410) for this long, then "unknown" (404).
KEEP_EXPIRED_SHORT_LINKS = timedelta(days=30)
LINK_ACTOR = "customer:link"


@dataclass(frozen=True)
class BookingLink:
    """What a verified token says."""

    queue: str
    phone: str
    expires_at: datetime
    ref: str | None = None  # a reschedule link: the callback it moves
    nonce: str | None = None  # a reschedule link: what marks it used

    @property
    def is_reschedule(self) -> bool:
        return self.ref is not None


def _serializer(secret: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALT)


def booking_token(
    secret: str, queue_key: str, phone: str, expires_at: datetime, *, ref: str | None = None, nonce: str | None = None
) -> str:
    payload: dict[str, Any] = {"q": queue_key, "p": phone, "e": int(expires_at.timestamp())}
    if ref:
        payload["r"] = ref
        payload["n"] = nonce or secrets.token_urlsafe(12)
    return _serializer(secret).dumps(payload)


def token_phone(secret: str, token: str) -> str | None:
    """The number a token of ours was made for, expired or not (personal-data requests
    find a number's links by it); None for a token we did not sign."""
    try:
        payload = _serializer(secret).loads(token)
    except BadSignature:
        return None
    phone = payload.get("p") if isinstance(payload, dict) else None
    return phone if isinstance(phone, str) else None


def booking_url(base_url: str, queue_key: str, token: str) -> str:
    """The hosted booking page for the queue, with the signed token (issue 6 builds the page)."""
    return f"{base_url}/book/{queue_key}?t={token}"


def read_booking_token(secret: str, token: str, now: datetime) -> BookingLink:
    """The link a token stands for; LinkInvalid if we did not sign it, LinkExpired after its expiry."""
    try:
        payload = _serializer(secret).loads(token)
    except BadSignature:
        raise LinkInvalid("this link is not valid") from None
    if not isinstance(payload, dict):
        raise LinkInvalid("this link is not valid")
    queue, phone, expiry = payload.get("q"), payload.get("p"), payload.get("e")
    ref, nonce = payload.get("r"), payload.get("n")
    if not (isinstance(queue, str) and isinstance(phone, str) and isinstance(expiry, int)):
        raise LinkInvalid("this link is not valid")
    if ref is not None and not (isinstance(ref, str) and isinstance(nonce, str)):
        raise LinkInvalid("this link is not valid")
    expires_at = datetime.fromtimestamp(expiry, UTC)
    if now >= expires_at:
        raise LinkExpired("this link has expired", {"expired_at": expires_at.isoformat()})
    return BookingLink(queue, phone, expires_at, ref, nonce)


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def short_booking_url(
    session: Session, settings: Settings, now: datetime, queue_key: str, phone: str, ref: str | None = None
) -> str:
    """A short link to the queue's booking page for ``phone`` (a reschedule link with ``ref``),
    valid for BOOKING_LINK_DAYS. Written in the caller's transaction."""
    expires_at = now + timedelta(days=settings.booking_link_days)
    token = booking_token(settings.secret_key, queue_key, phone, expires_at, ref=ref)
    table: Table = ShortLink.__table__  # type: ignore[assignment]
    for _ in range(CODE_ATTEMPTS):
        code = new_code()
        stmt = (
            upsert_into(session, table)
            .values(code=code, token=token, queue_key=queue_key, created_at=now, expires_at=expires_at)
            .on_conflict_do_nothing(index_elements=["code"])
            .returning(table.c.code)
        )
        if session.execute(stmt).scalar_one_or_none() is not None:
            return f"{settings.public_base_url}/b/{code}"
    raise RuntimeError(f"no free short-link code after {CODE_ATTEMPTS} tries")  # 62**10 codes: never in practice


def follow_short_link(session: Session, settings: Settings, code: str, now: datetime) -> str:
    """The signed booking URL a short link stands for; LinkInvalid if unknown, LinkExpired after expiry."""
    if len(code) != CODE_LENGTH or not set(code) <= set(CODE_ALPHABET):
        raise LinkInvalid("no such link", {"code": code[:32]})
    link = session.scalars(select(ShortLink).where(ShortLink.code == code)).one_or_none()
    if link is None:
        raise LinkInvalid("no such link", {"code": code})
    if now >= link.expires_at:
        raise LinkExpired("this link has expired", {"expired_at": link.expires_at.isoformat(), "queue": link.queue_key})
    return booking_url(settings.public_base_url, link.queue_key, link.token)


def is_used(session: Session, link: BookingLink) -> bool:
    return link.nonce is not None and session.get(UsedLink, link.nonce) is not None


def mark_used(session: Session, link: BookingLink, now: datetime) -> None:
    """Mark a reschedule link used, in the transaction that moves its callback; LinkUsed if
    it was already. The primary key decides between two concurrent uses: on PostgreSQL the
    second INSERT waits for the first transaction and then inserts nothing; on SQLite the
    write lock serialises them."""
    assert link.nonce is not None and link.ref is not None
    table: Table = UsedLink.__table__  # type: ignore[assignment]
    stmt = (
        upsert_into(session, table)
        .values(nonce=link.nonce, callback_ref=link.ref, used_at=now, expires_at=link.expires_at)
        .on_conflict_do_nothing(index_elements=["nonce"])
        .returning(table.c.nonce)
    )
    if session.execute(stmt).scalar_one_or_none() is None:
        raise LinkUsed("this link has already been used to move the callback", {"ref": link.ref})


def link_callback(session: Session, link: BookingLink) -> Callback:
    """The callback a reschedule link moves; LinkInvalid when it is gone or not this phone's."""
    assert link.ref is not None
    try:
        callback = get_callback(session, link.ref)
    except CallbackNotFound:
        raise LinkInvalid("this link is not valid", {"reason": "no such callback"}) from None
    if callback.phone != link.phone:
        raise LinkInvalid("this link is not valid", {"reason": "not this phone's callback"})
    return callback


def reschedule_with_link(session: Session, link: BookingLink, slot_start: datetime, now: datetime) -> Callback:
    """Move a reschedule link's callback through the booking service (its seat rules and
    errors), and mark the link used in the same transaction: if the move fails, the link
    stays usable; if it succeeds, no second use can."""
    if not link.is_reschedule:
        raise LinkInvalid("this link books a new callback; it does not move one", {"reason": "not a reschedule link"})
    assert link.ref is not None
    mark_used(session, link, now)
    link_callback(session, link)
    return reschedule(session, link.ref, slot_start, now, actor=LINK_ACTOR)


def forget_expired_links(session: Session, now: datetime) -> int:
    """The daily clean-up: a used link's row may go once its token has expired (the expiry
    check refuses it from then on), a short link's a while after it expired."""
    used = session.execute(delete(UsedLink).where(UsedLink.expires_at <= now))
    short = session.execute(delete(ShortLink).where(ShortLink.expires_at <= now - KEEP_EXPIRED_SHORT_LINKS))
    return used.rowcount + short.rowcount  # type: ignore[attr-defined,no-any-return]

"""Acting on an inbound text, inside the webhook's one write transaction.

Received once: the text is stored with INSERT … ON CONFLICT DO NOTHING on (provider,
message id), so a redelivered webhook inserts nothing and does nothing twice; the action
and its reply are written in the same transaction, so a failure leaves no half of it.
Replies go to the outbox (``SmsMessage``) and the worker sends them; the outbox skips
numbers that opted out. Booking and cancelling go through ``services.booking_service``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.orm import Session

from events import outbox
from events import types as event_types
from infra.db import upsert_into
from infra.models import Callback, Queue
from infra.settings import Settings
from infra.text_models import InboundText, InboundTextPart, SmsMessage, SmsOffer, SmsOptOut
from scheduler.errors import DomainError
from scheduler.lifecycle import LIVE_STATES, State
from scheduler.phone import mask_phone, parse_phone
from services.availability import next_bookable_starts
from services.booking_service import BookingRequest, BookingResult, book, cancel
from services.links import short_booking_url
from services.queues import reminder_policy
from sms import texts
from sms.commands import Command, ParsedText, parse
from telephony.base import InboundSms, Telephony

log = logging.getLogger(__name__)

OFFERED_TIMES = 3
OFFER_TTL = timedelta(minutes=30)  # a digit after this gets the help text, not a booking
UNKNOWN_REPLY_EVERY = timedelta(hours=24)  # at most one "I did not understand" per number per day
PART_TTL = timedelta(hours=1)  # parts of a concatenated text arrive within seconds
CANCELLABLE = (State.REQUESTED.value, State.SCHEDULED.value, State.RETRY_WAIT.value)
ACTOR = "customer:sms"


@dataclass(frozen=True)
class Outcome:
    status: str  # handled | duplicate | part_stored | no_queue | not_a_number
    command: str | None = None
    reply_kind: str | None = None


def receive(session: Session, sms: InboundSms, adapter: Telephony, now: datetime, settings: Settings) -> Outcome:
    """Store the text once, then act on it and queue the reply (``adapter``: the provider
    it came through, whose opt-out quirks count)."""
    if sms.concat_ref is not None:
        whole = _assemble(session, sms, now)
        if whole is None:
            return Outcome("part_stored")
        sms = whole
    table: Table = InboundText.__table__  # type: ignore[assignment]
    stmt = (
        upsert_into(session, table)
        .values(
            provider=sms.provider,
            message_id=sms.message_id,
            **{"from": sms.from_[:20]},
            to=sms.to[:20],
            body=sms.text,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["provider", "message_id"])
        .returning(table.c.id)
    )
    row_id = session.execute(stmt).scalar_one_or_none()
    if row_id is None:
        return Outcome("duplicate")
    queue = _queue_for(session, sms.to)
    parsed = parse(sms.text)
    row = session.get_one(InboundText, row_id)
    row.command = parsed.command.value
    if queue is None:
        log.warning("text to %s: no queue answers this number", sms.to)
        return Outcome("no_queue", parsed.command.value)
    phone = _e164(sms.from_, queue)
    if len(phone) > MAX_SENDER:  # no number we could text back (a provider's garbage): kept, not answered
        log.warning("text to %s: the sender %r is not a number we can answer", sms.to, phone[:40])
        return Outcome("not_a_number", parsed.command.value)
    if adapter.opted_out_by_provider(sms.text):
        # The provider has already blocked texts to this number (Twilio's bare CANCEL): say
        # so here too, so that the outbox skips them visibly instead of failing (21610).
        _opt_out(session, phone, sms.text.strip().casefold(), sms.provider, now)
    _received(session, row, queue, phone, now)
    reply = _act(session, parsed, phone, queue, adapter, now, settings)
    if reply is not None:
        kind, body, callback_id = reply
        row.reply_kind, row.callback_id = kind, callback_id
        session.add(
            SmsMessage(
                callback_id=callback_id,
                kind=kind,
                to=phone,
                body=body,
                status="pending",
                provider=sms.provider,  # answered on the channel the text came in on,
                from_number=sms.to,  # from the number they texted
                created_at=now,
            )
        )
    log.info("text from %s: %s -> %s", mask_phone(phone), parsed.command.value, reply[0] if reply else "no reply")
    return Outcome("handled", parsed.command.value, reply[0] if reply else None)


Reply = tuple[str, str, int | None]  # (kind, body, callback id)


def _received(session: Session, row: InboundText, queue: Queue, phone: str, now: datetime) -> None:
    """The ``sms.received`` event, before the text is acted on (so a CANCEL's text comes
    before the cancellation it causes): about the number's live callback, if it has one.
    The text itself is read when the event is sent."""
    live = _cancellable(session, phone)
    data = {"inbound_text_id": row.id, "command": row.command}
    if live:
        outbox.emit_for(session, event_types.SMS_RECEIVED, live[0], now, **data)
    else:
        outbox.emit(session, event_types.SMS_RECEIVED, now, data, queue_id=queue.id, callback_id=None)


def _act(
    session: Session,
    parsed: ParsedText,
    phone: str,
    queue: Queue,
    adapter: Telephony,
    now: datetime,
    settings: Settings,
) -> Reply | None:
    language = queue.language
    name = queue.name
    if parsed.command is Command.OPT_OUT:
        _opt_out(session, phone, parsed.keyword, adapter.name, now)
        if adapter.confirms_opt_out:
            return None  # the provider confirms it itself; ours would be refused (Twilio: 21610)
        return "opt_out_confirmation", texts.render(texts.OPTED_OUT, language, name=name), None
    if parsed.command is Command.OPT_IN:
        session.execute(delete(SmsOptOut).where(SmsOptOut.phone == phone))
        return "opt_in_confirmation", texts.render(texts.OPTED_IN, language, name=name), None
    if parsed.command is Command.HELP:
        return "help", texts.render(texts.HELP, language, name=name), None
    if parsed.command is Command.CANCEL:
        return _cancel(session, phone, queue, now)
    if parsed.command is Command.CHANGE:
        live = _cancellable(session, phone)
        if not live:
            link = short_booking_url(session, settings, now, queue.key, phone)
            return "booking_link", texts.render(texts.BOOKING_LINK, language, name=name, link=link), None
        target = live[0]
        link = short_booking_url(session, settings, now, target.queue.key, phone, ref=target.ref)
        return "reschedule_link", texts.render(texts.RESCHEDULE_LINK, _language(target), link=link), target.id
    if parsed.command is Command.CALL_ME:
        return _call_me(session, phone, queue, now, settings)
    if parsed.command is Command.PICK:
        assert parsed.choice is not None
        offer = session.get(SmsOffer, phone)
        if offer is not None and offer.expires_at > now and parsed.choice <= len(offer.starts):
            return _pick(session, offer, parsed.choice, phone, now, settings)
    return _unknown(session, phone, queue, now)


def _cancel(session: Session, phone: str, queue: Queue, now: datetime) -> Reply:
    live = _cancellable(session, phone)
    if not live:
        return "nothing_booked", texts.render(texts.NOTHING_BOOKED, queue.language, name=queue.name), None
    target = live[0]  # the nearest
    when = _when(target)
    cancel(session, target.ref, now, ACTOR, reason="cancelled by text")
    body = texts.render(texts.CANCELLED, _language(target), when=when)
    if len(live) > 1:
        body += " " + texts.render(texts.ALSO_BOOKED, _language(target), when=_when(live[1]))
    return "cancel_confirmation", body, target.id


def _call_me(session: Session, phone: str, queue: Queue, now: datetime, settings: Settings) -> Reply:
    existing = session.scalars(
        select(Callback).where(
            Callback.queue_id == queue.id,
            Callback.phone == phone,
            Callback.state.in_([s.value for s in LIVE_STATES]),
        )
    ).first()
    if existing is not None:
        return (
            "already_booked",
            texts.render(texts.ALREADY_BOOKED, _language(existing), when=_when(existing)),
            existing.id,
        )
    return _offer(session, phone, queue, now, settings, texts.OFFER, exclude=())


def _offer(
    session: Session,
    phone: str,
    queue: Queue,
    now: datetime,
    settings: Settings,
    message: str,
    exclude: tuple[datetime, ...],
) -> Reply:
    """Offer the next bookable times and remember them for the digit reply."""
    found = next_bookable_starts(session, queue, now, OFFERED_TIMES + len(exclude))
    starts = [start for start in found if start not in exclude][:OFFERED_TIMES]
    if not starts:
        session.execute(delete(SmsOffer).where(SmsOffer.phone == phone))
        link = short_booking_url(session, settings, now, queue.key, phone)
        return "no_times", texts.render(texts.NO_TIMES, queue.language, name=queue.name, link=link), None
    offer = session.get(SmsOffer, phone)
    if offer is None:
        offer = SmsOffer(phone=phone)
        session.add(offer)
    offer.queue_id = queue.id
    offer.starts = [start.isoformat() for start in starts]
    offer.offered_at, offer.expires_at = now, now + OFFER_TTL
    options = texts.format_options(starts, queue.timezone, queue.language)
    return "offer", texts.render(message, queue.language, name=queue.name, options=options), None


def _pick(session: Session, offer: SmsOffer, choice: int, phone: str, now: datetime, settings: Settings) -> Reply:
    queue = session.get_one(Queue, offer.queue_id)
    start = datetime.fromisoformat(offer.starts[choice - 1])
    # Booked by text: the customer texts with us, so reminders follow by text (sms_consent).
    request = BookingRequest(
        queue=queue.key, phone=phone, kind="scheduled", source="sms", slot_start=start, sms_consent=True
    )
    try:
        result = book(session, request, now, ACTOR)
    except DomainError as error:  # the seat went meanwhile (or the time is now too soon): offer others
        log.info("text pick of %s failed: %s", start.isoformat(), error.type)
        return _offer(session, phone, queue, now, settings, texts.OFFER_AGAIN, exclude=(start,))
    session.execute(delete(SmsOffer).where(SmsOffer.phone == phone))
    callback = result.callback
    if not result.created:
        return (
            "already_booked",
            texts.render(texts.ALREADY_BOOKED, _language(callback), when=_when(callback)),
            callback.id,
        )
    when = texts.format_when(start, queue.timezone, queue.language)
    return "booking_confirmation", texts.render(texts.BOOKED, queue.language, name=queue.name, when=when), callback.id


def _unknown(session: Session, phone: str, queue: Queue, now: datetime) -> Reply | None:
    """One helpful reply per number per day at most: never a loop with another robot."""
    recent = session.scalar(
        select(func.count())
        .select_from(InboundText)
        .where(
            InboundText.from_ == phone,
            InboundText.reply_kind == "help_unknown",
            InboundText.received_at > now - UNKNOWN_REPLY_EVERY,
        )
    )
    if recent:
        return None
    return "help_unknown", texts.render(texts.HELP, queue.language, name=queue.name), None


def _opt_out(session: Session, phone: str, keyword: str, provider: str, now: datetime) -> None:
    table: Table = SmsOptOut.__table__  # type: ignore[assignment]
    session.execute(
        upsert_into(session, table)
        .values(phone=phone, opted_out_at=now, keyword=keyword[:32], provider=provider)
        .on_conflict_do_nothing(index_elements=["phone"])
    )


def _cancellable(session: Session, phone: str) -> list[Callback]:
    """This number's callbacks that a text may cancel, nearest first (any queue)."""
    return list(
        session.scalars(
            select(Callback)
            .where(Callback.phone == phone, Callback.state.in_(CANCELLABLE))
            .order_by(Callback.next_attempt_at.is_(None), Callback.next_attempt_at, Callback.id)
        )
    )


def _when(callback: Callback) -> str:
    instant = callback.promised_at
    if instant is None:
        return "-"
    return texts.format_when(instant, callback.queue.timezone, _language(callback))


def _language(callback: Callback) -> str:
    return callback.locale or callback.queue.language


def _queue_for(session: Session, number: str) -> Queue | None:
    """The queue a text to ``number`` is for: the queue that answers calls to it (its
    ``inbound_numbers``), else the queue whose caller id it is (the number its callbacks
    and texts come from, so the one customers reply to), else the only queue, else the demo
    queue "support". Queues are few: they are matched in Python rather than with a JSON
    query that differs per database."""
    queues = session.scalars(select(Queue).order_by(Queue.id)).all()
    for queue in queues:
        if number in (queue.inbound_numbers or ()):
            return queue
    for queue in queues:
        if queue.caller_id == number:
            return queue
    if len(queues) == 1:
        return queues[0]
    return next((queue for queue in queues if queue.key == "support"), None)


MAX_SENDER = 20  # E.164 is at most 16 characters; alphanumeric senders at most 11


def _e164(number: str, queue: Queue) -> str:
    try:
        return parse_phone(number, queue.region)
    except DomainError:
        return number


def _assemble(session: Session, part: InboundSms, now: datetime) -> InboundSms | None:
    """Keep a part of a concatenated text; the whole text once every part has come."""
    assert part.concat_ref is not None and part.concat_part is not None and part.concat_total is not None
    table: Table = InboundTextPart.__table__  # type: ignore[assignment]
    same = (
        InboundTextPart.provider == part.provider,
        InboundTextPart.from_ == part.from_[:20],
        InboundTextPart.concat_ref == part.concat_ref,
    )
    # The sender's phone reuses a reference (one byte on most phones) after a while: parts
    # of an older text under this reference that never completed are dropped, not mixed in.
    session.execute(delete(InboundTextPart).where(*same, InboundTextPart.received_at < now - PART_TTL))
    session.execute(
        upsert_into(session, table)
        .values(
            provider=part.provider,
            **{"from": part.from_[:20]},
            to=part.to[:20],
            concat_ref=part.concat_ref,
            part=part.concat_part,
            total=part.concat_total,
            message_id=part.message_id,
            body=part.text,
            received_at=now,
        )
        .on_conflict_do_nothing(index_elements=["provider", "from", "concat_ref", "part"])
    )
    if session.connection().dialect.name == "postgresql":
        # Two last parts delivered at once must not each see the other missing: one waits
        # for the other's commit, then counts again and finds the text complete.
        lock_key = f"sms-parts:{part.provider}:{part.from_}:{part.concat_ref}"
        session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": lock_key})
    parts = session.scalars(select(InboundTextPart).where(*same).order_by(InboundTextPart.part)).all()
    if len(parts) < part.concat_total:
        return None
    session.execute(delete(InboundTextPart).where(*same))
    return InboundSms(
        provider=part.provider,
        # The whole text's id: the same whichever part completed it, so it is handled once.
        message_id=f"concat:{part.from_}:{part.concat_ref}",
        from_=part.from_,
        to=part.to,
        text="".join(p.body for p in parts),
    )


def confirm_new_booking(session: Session, result: BookingResult, now: datetime, default_caller_id: str) -> None:
    """A new booking (not a repeat that got its live callback back) whose customer agreed
    to texts is confirmed by text, from its queue's number (else ``default_caller_id``)."""
    callback = result.callback
    if result.created and callback.sms_consent:
        queue_booking_confirmation(session, callback, now, callback.queue.caller_id or default_caller_id)


def queue_booking_confirmation(session: Session, callback: Callback, now: datetime, from_number: str | None) -> None:
    """The text confirming a new booking whose customer agreed to texts (``sms_consent``):
    when (for an ASAP callback: the range of times we said we would call in, and from
    which number, so that they pick up), and how to cancel or move it by text. Sent by the
    worker like every text; not at all when the queue's ``reminders.confirmation`` is off."""
    if not reminder_policy(callback.queue).confirmation:
        return
    language = _language(callback)
    name = callback.queue.name
    window = callback.promised_window
    if callback.kind == "asap" and window is not None:
        zone = callback.queue.timezone
        start, end = (texts.format_time_of_day(instant, zone) for instant in window)
        body = texts.render(texts.ASAP_BOOKED, language, name=name, start=start, end=end, number=from_number or "-")
    else:
        body = texts.render(texts.BOOKED, language, name=name, when=_when(callback))
    session.add(
        SmsMessage(
            callback_id=callback.id,
            kind="booking_confirmation",
            to=callback.phone,
            body=body,
            status="pending",
            created_at=now,
        )
    )

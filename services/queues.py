"""Loading queues and turning their rows into the domain's plain objects."""

from __future__ import annotations

import re
from collections import defaultdict
from datetime import date, time

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from infra.models import Queue
from scheduler.booking import BookingPolicy
from scheduler.calendar import Interval, QueueCalendar
from scheduler.dial_window import QuietHours
from scheduler.errors import QueueNotFound
from scheduler.reminders import ReminderPolicy, leads_from_minutes
from scheduler.retry import DEFAULT_RULES, Outcome, OutcomeRule, RetryPolicy

QUEUE_KEY = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")


# Built once: every booking and availability request runs it.
QUEUE_BY_KEY = select(Queue).where(Queue.key == bindparam("key"))
QUEUE_BY_KEY_FOR_UPDATE = QUEUE_BY_KEY.with_for_update()


def get_queue(session: Session, key: str, *, for_update: bool = False) -> Queue:
    if not QUEUE_KEY.match(key):  # not even the shape of a key: no need to ask the database
        raise QueueNotFound(f"no queue {key!r}", {"queue": key})
    stmt = QUEUE_BY_KEY_FOR_UPDATE if for_update else QUEUE_BY_KEY
    queue = session.scalars(stmt, {"key": key}).one_or_none()
    if queue is None:
        raise QueueNotFound(f"no queue {key!r}", {"queue": key})
    return queue


QUEUE_NUMBERS = select(Queue.key, Queue.inbound_numbers)


def queue_key_for_number(session: Session, number: str) -> str | None:
    """The queue answering calls to ``number`` (E.164), if any. Queues are few and each
    lists its numbers, so they are read and matched here rather than by a dialect's JSON
    operators; import_queue keeps a number on one queue only."""
    for key, numbers in session.execute(QUEUE_NUMBERS):
        if number in (numbers or []):
            return str(key)
    return None


_CALENDARS: dict[tuple[int, str], QueueCalendar] = {}
_CALENDAR_CACHE_SIZE = 256


def queue_calendar(queue: Queue) -> QueueCalendar:
    """The queue's calendar, cached per process by (queue, calendar_tag): the hours
    change rarely and every retry decision needs them. Anything that changes weekly
    hours or overrides must give the queue a new ``calendar_tag``."""
    key = (queue.id, queue.calendar_tag)
    cached = _CALENDARS.get(key)
    if cached is None:
        if len(_CALENDARS) >= _CALENDAR_CACHE_SIZE:
            _CALENDARS.clear()
        cached = _CALENDARS[key] = _load_calendar(queue)
    return cached


def _load_calendar(queue: Queue) -> QueueCalendar:
    weekly: dict[int, list[Interval]] = defaultdict(list)
    for row in queue.weekly_hours:
        weekly[row.weekday].append(Interval(row.opens, row.closes, row.slot_minutes, row.capacity))
    overrides: dict[date, list[Interval]] = {}
    for o in queue.date_overrides:
        intervals = overrides.setdefault(o.day, [])
        if not o.closed:
            assert o.opens and o.closes and o.slot_minutes is not None and o.capacity is not None
            intervals.append(Interval(o.opens, o.closes, o.slot_minutes, o.capacity))
    return QueueCalendar(queue.timezone, dict(weekly), overrides)


def retry_policy(queue: Queue) -> RetryPolicy:
    document = queue.retry_policy or {}
    rules = {
        Outcome(name): OutcomeRule(rule["delay_seconds"], rule["max_attempts"])
        for name, rule in document.get("rules", {}).items()
    }
    quiet = document.get("quiet_hours") or {}
    return RetryPolicy(
        rules={**DEFAULT_RULES, **rules},
        quiet=QuietHours(
            starts=time.fromisoformat(quiet.get("starts", "21:00")),
            ends=time.fromisoformat(quiet.get("ends", "08:00")),
            enabled=quiet.get("enabled", True),
        ),
    )


def reminder_policy(queue: Queue) -> ReminderPolicy:
    """The queue's reminder settings (defaults for what its document leaves out), with the
    customer's quiet hours of its retry policy: one definition of when not to disturb."""
    document = queue.reminders or {}
    return ReminderPolicy(
        confirmation=document.get("confirmation", True),
        leads=leads_from_minutes(document.get("before_minutes", [1440, 15])),
        in_quiet_hours=document.get("in_quiet_hours", "earlier"),
        quiet=retry_policy(queue).quiet,
    )


def booking_policy(queue: Queue) -> BookingPolicy:
    return BookingPolicy(
        timezone=queue.timezone,
        lead_minutes=queue.lead_minutes,
        horizon_days=queue.horizon_days,
        asap_reserve_percent=queue.asap_reserve_percent,
    )

"""When to text a reminder of a scheduled callback, and whether a planned one still holds.

Pure: the caller passes the callback's time, ``now``, the queue's ``ReminderPolicy`` and
the customer's zone (from their number, ``scheduler.dial_window.customer_zone``); nothing
here reads a clock, a database or a provider.

Rules:
- one reminder per lead (default 24 h and 15 min before the callback);
- a reminder that would fall inside the customer's quiet hours (their own zone, the
  queue's ``retry_policy.quiet_hours``) is sent earlier, just before those quiet hours
  began (``in_quiet_hours = "earlier"``), or not at all (``"skip"``);
- a reminder is not planned when its time is less than ``MIN_GAP`` after the booking (the
  confirmation has just said it) or less than ``MIN_GAP`` after another reminder (two texts
  saying the same thing), nor when it would come after the callback;
- at send time a reminder still holds only while its callback is live, still at the time
  it reminds of, not yet begun, not past half of the reminder's lead (a worker that was
  down for hours sends no stale "in 15 minutes"), and not inside the quiet hours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from scheduler.dial_window import QuietHours

MIN_GAP = timedelta(minutes=15)
DEFAULT_LEADS = (timedelta(hours=24), timedelta(minutes=15))
# How far before the quiet hours an "earlier" reminder goes out.
BEFORE_QUIET = timedelta(minutes=1)

InQuietHours = Literal["earlier", "skip"]


@dataclass(frozen=True)
class ReminderPolicy:
    confirmation: bool = True  # a text when the callback is booked
    leads: tuple[timedelta, ...] = DEFAULT_LEADS  # a reminder this long before a scheduled callback
    in_quiet_hours: InQuietHours = "earlier"
    quiet: QuietHours = field(default_factory=QuietHours)


@dataclass(frozen=True)
class PlannedReminder:
    kind: str  # "reminder_1440m", "reminder_15m": one per lead
    send_at: datetime
    about: datetime  # the callback time it reminds of


REMINDER_PREFIX = "reminder_"  # every reminder's kind starts so


def kind_for(lead: timedelta) -> str:
    return f"{REMINDER_PREFIX}{int(lead.total_seconds() // 60)}m"


def plan(policy: ReminderPolicy, callback_at: datetime, now: datetime, zone: ZoneInfo) -> list[PlannedReminder]:
    """The reminders of a callback at ``callback_at`` booked (or moved) at ``now``, earliest first."""
    planned: list[PlannedReminder] = []
    for lead in sorted(set(policy.leads), reverse=True):  # the longest lead is the earliest text
        at = callback_at - lead
        if policy.quiet.is_quiet(at, zone):
            if policy.in_quiet_hours == "skip":
                continue
            at = quiet_began(at, policy.quiet, zone) - BEFORE_QUIET
        if at < now + MIN_GAP or at >= callback_at:
            continue
        if planned and at < planned[-1].send_at + MIN_GAP:
            continue  # moved earlier onto the previous one: one text is enough
        planned.append(PlannedReminder(kind_for(lead), at, callback_at))
    return planned


def quiet_began(instant: datetime, quiet: QuietHours, zone: ZoneInfo) -> datetime:
    """When the quiet hours that ``instant`` falls in began (an aware UTC instant).

    Local wall-clock arithmetic in the customer's zone: on a clock-change night the start
    is the local ``quiet.starts`` of that evening (or morning), whatever the offset."""
    local = instant.astimezone(zone)
    start = local.replace(hour=quiet.starts.hour, minute=quiet.starts.minute, second=0, microsecond=0)
    if start > local:
        start -= timedelta(days=1)
    # Re-attach the zone at that wall time (the offset of the day it falls on).
    start = datetime(start.year, start.month, start.day, start.hour, start.minute, tzinfo=zone)
    return start.astimezone(instant.tzinfo)


def why_not_send(
    reminder_about: datetime,
    planned_send_at: datetime,
    callback_at: datetime | None,
    live: bool,
    now: datetime,
    quiet: QuietHours,
    zone: ZoneInfo,
) -> str | None:
    """None when a planned reminder still holds at ``now``; else why not, for the outbox's record."""
    if not live:
        return "the callback is no longer booked"
    if callback_at != reminder_about:
        return "the callback has moved to another time"
    if now >= reminder_about:
        return "the callback time has come"
    lead = reminder_about - planned_send_at
    if now - planned_send_at > lead / 2:
        return "too late to remind (the worker was not running)"
    if quiet.is_quiet(now, zone):
        return "inside the customer's quiet hours"
    return None


def leads_from_minutes(minutes: Sequence[int]) -> tuple[timedelta, ...]:
    return tuple(timedelta(minutes=m) for m in minutes)

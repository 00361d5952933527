"""When we may ring a customer: inside the queue's opening hours and outside the
customer's quiet hours (by default no calls before 08:00 or from 21:00 in the
customer's own zone, which comes from their number)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import phonenumbers
from phonenumbers import timezone as number_timezones

from scheduler.calendar import QueueCalendar, is_open

DEFAULT_QUIET_START = time(21, 0)
DEFAULT_QUIET_END = time(8, 0)


@dataclass(frozen=True)
class QuietHours:
    """Local times between ``starts`` and ``ends`` (across midnight) when nobody is called."""

    starts: time = DEFAULT_QUIET_START
    ends: time = DEFAULT_QUIET_END
    enabled: bool = True

    def is_quiet(self, instant: datetime, zone: ZoneInfo) -> bool:
        if not self.enabled:
            return False
        local = instant.astimezone(zone).time()
        if self.starts <= self.ends:
            return self.starts <= local < self.ends
        return local >= self.starts or local < self.ends


# Instants at which zones are compared: winter and summer, either hemisphere.
_PROBES = (datetime(2027, 1, 15, 12, tzinfo=ZoneInfo("UTC")), datetime(2027, 7, 15, 12, tzinfo=ZoneInfo("UTC")))


@lru_cache(maxsize=4096)
def customer_zone(phone_e164: str, fallback: str) -> str:
    """The customer's time zone from their number.

    A number may map to several zones that keep the same clock (a UK mobile: London,
    Jersey, Guernsey, Isle of Man): any of them will do, the queue's own if listed.
    When they keep different clocks (a Russian mobile) or none is known, the queue's
    zone is the best guess."""
    try:
        number = phonenumbers.parse(phone_e164)
    except phonenumbers.NumberParseException:
        return fallback
    zones = sorted(z for z in number_timezones.time_zones_for_number(number) if z != "Etc/Unknown")
    if not zones:
        return fallback
    clocks = {tuple(p.astimezone(ZoneInfo(z)).utcoffset() for p in _PROBES) for z in zones}
    if len(clocks) > 1:
        return fallback
    return fallback if fallback in zones else zones[0]


def may_dial(at: datetime, calendar: QueueCalendar, customer_tz: str, quiet: QuietHours) -> bool:
    return is_open(calendar, at) and not quiet.is_quiet(at, ZoneInfo(customer_tz))


def next_dial_time(
    earliest: datetime,
    calendar: QueueCalendar,
    customer_tz: str,
    quiet: QuietHours,
    *,
    not_after: datetime,
    step: timedelta = timedelta(minutes=5),
) -> datetime | None:
    """The first instant at or after ``earliest`` (on a ``step`` grid) when we may dial,
    or None when there is none before ``not_after``."""
    at = earliest
    while at < not_after:
        if may_dial(at, calendar, customer_tz, quiet):
            return at
        at += step
    return None

"""Booking rules: what a customer may book, and when, given a queue's policy and ``now``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from scheduler.errors import TooFar, TooSoon, ValidationFailed

MAX_AVAILABILITY_DAYS = 62


@dataclass(frozen=True)
class BookingPolicy:
    timezone: str
    lead_minutes: int
    horizon_days: int
    asap_reserve_percent: int = 0


def reserved_seats(capacity: int, reserve_percent: int) -> int:
    """Seats of a slot held back for ASAP callbacks (rounded down, so scheduled customers keep at least as many)."""
    return capacity * reserve_percent // 100


def scheduled_seats_left(capacity: int, reserved: int, booked: int) -> int:
    """Seats a scheduled booking may still take: the reserve is for ASAP callbacks only."""
    return max(0, capacity - reserved - booked)


def bookable_window(policy: BookingPolicy, now: datetime) -> tuple[datetime, datetime]:
    """[earliest, latest) start instants a customer may book now.

    Earliest is now + lead time; the horizon counts whole local days, so a 14-day
    horizon offers every slot up to the end of the 14th local day after today.
    """
    zone = ZoneInfo(policy.timezone)
    today = now.astimezone(zone).date()
    earliest = now + timedelta(minutes=policy.lead_minutes)
    return earliest, local_midnight(today + timedelta(days=policy.horizon_days + 1), zone)


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=zone)


def check_bookable(policy: BookingPolicy, slot_start: datetime, now: datetime) -> None:
    earliest, latest = bookable_window(policy, now)
    zone = ZoneInfo(policy.timezone)
    if slot_start < earliest:
        shown = earliest.astimezone(zone).isoformat()
        raise TooSoon(f"slots can be booked from {shown} ({policy.lead_minutes} minutes ahead)", {"earliest": shown})
    if slot_start >= latest:
        raise TooFar(
            f"slots can be booked up to {policy.horizon_days} days ahead",
            {"latest": latest.astimezone(zone).isoformat()},
        )


def availability_range(
    policy: BookingPolicy, now: datetime, first_day: date | None, days: int
) -> tuple[datetime, datetime] | None:
    """The UTC range of slot starts to show for local days first_day..first_day+days-1,
    clipped to what is bookable now; None when nothing in it can be booked."""
    if not 1 <= days <= MAX_AVAILABILITY_DAYS:
        raise ValidationFailed(f"days must be between 1 and {MAX_AVAILABILITY_DAYS}", {"days": "out of range"})
    zone = ZoneInfo(policy.timezone)
    start_day = first_day or now.astimezone(zone).date()
    earliest, latest = bookable_window(policy, now)
    try:
        lower = max(local_midnight(start_day, zone), earliest)
        upper = min(local_midnight(start_day + timedelta(days=days), zone), latest)
    except OverflowError:  # a date near the year 9999
        raise ValidationFailed("from is out of range", {"from": "out of range"}) from None
    return (lower, upper) if lower < upper else None


def same_slots_shown(
    shown: tuple[datetime, datetime] | None,
    first_start: datetime | None,
    next_start: datetime | None,
    wanted: tuple[datetime, datetime] | None,
) -> bool:
    """Whether the bookable slots of the range ``wanted`` are those read for ``shown``, when
    no slot row has changed since: ``first_start`` is the first slot read for ``shown``
    (None: none), ``next_start`` the first bookable one starting at or after its end (None:
    none). A range only moves later as time goes on (the lead time, the horizon, the day):
    it shows the same slots while the first one shown has not dropped out of its start and
    no further one has come into its end."""
    if shown is None or wanted is None:
        return shown is None and wanted is None
    if wanted[0] < shown[0] or wanted[1] < shown[1]:
        return False
    dropped = first_start is not None and first_start < wanted[0]
    came = next_start is not None and next_start < wanted[1]
    return not dropped and not came


def spread_in_slot(starts_at: datetime, ends_at: datetime, seat_number: int, capacity: int) -> datetime:
    """When to ring the n-th booking of a slot: spread evenly across it, so that a slot's
    callbacks do not all reach the agents in its first minute (seat 1 at the start)."""
    if capacity <= 1 or seat_number <= 1:
        return starts_at
    step = (ends_at - starts_at) / capacity
    return starts_at + step * min(seat_number - 1, capacity - 1)

"""The slot calendar: which slots a queue has, computed from its weekly template and
date overrides in the queue's own time zone, returned as UTC instants.

Wall-clock times are walked in the queue's zone, so a DST day has the slots its clock
shows: a local time that does not exist (spring forward) is skipped, and a local time
that happens twice (fall back) is offered twice, as the two instants it names (its first
occurrence, ``fold=0``, and its second, ``fold=1``), each a slot with its own seats, so a
queue open through the night loses no hour. A second occurrence is left out only when it
would fall after the interval closes (an opening or closing time in the repeated hour
means its first occurrence, as ``is_open`` reads it) or overlap a slot already offered
(slots longer than the hour the clock goes back).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

MINUTES_PER_DAY = 24 * 60


@dataclass(frozen=True)
class Interval:
    """Open from ``opens`` to ``closes`` (local wall clock), cut into slots."""

    opens: time
    closes: time
    slot_minutes: int
    capacity: int

    def __post_init__(self) -> None:
        if self.slot_minutes <= 0 or self.slot_minutes > MINUTES_PER_DAY:
            raise ValueError("slot_minutes must be between 1 and 1440")
        if self.capacity < 0:
            raise ValueError("capacity cannot be negative")
        if _minutes(self.closes) <= _minutes(self.opens) and self.closes != time(0, 0):
            raise ValueError("an interval must close after it opens (use 00:00 for midnight)")

    @property
    def open_minutes(self) -> tuple[int, int]:
        """(opens, closes) as minutes after midnight; a close of 00:00 means midnight."""
        end = _minutes(self.closes) or MINUTES_PER_DAY
        return _minutes(self.opens), end


@dataclass(frozen=True)
class QueueCalendar:
    """A queue's hours: per weekday (0 = Monday) its intervals, and per date an override.

    An override replaces the weekday's intervals for that date; an empty override
    means closed (a holiday).
    """

    timezone: str
    weekly: Mapping[int, Sequence[Interval]]
    overrides: Mapping[date, Sequence[Interval]] = field(default_factory=dict)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def intervals_on(self, day: date) -> Sequence[Interval]:
        if day in self.overrides:
            return self.overrides[day]
        return self.weekly.get(day.weekday(), ())


@dataclass(frozen=True)
class SlotSpec:
    starts_at: datetime  # UTC
    ends_at: datetime  # UTC
    capacity: int


def _minutes(t: time) -> int:
    return t.hour * 60 + t.minute


def local_instants(day: date, minute_of_day: int, zone: ZoneInfo) -> tuple[datetime, ...]:
    """The UTC instants at which the local clock reads ``day`` + ``minute_of_day``, earliest
    first: none for a time in the spring-forward gap, two for a time the clock shows twice
    (fall back: the first occurrence, then the second), else one."""
    wall = datetime.combine(day, time(minute_of_day // 60, minute_of_day % 60))
    instants: list[datetime] = []
    for fold in (0, 1):
        as_utc = wall.replace(tzinfo=zone, fold=fold).astimezone(UTC)
        # A time in the spring-forward gap does not survive the round trip.
        if as_utc.astimezone(zone).replace(tzinfo=None) == wall and as_utc not in instants:
            instants.append(as_utc)
    return tuple(instants)


def _overlaps(start: datetime, end: datetime, slots: Sequence[SlotSpec]) -> bool:
    return any(start < s.ends_at and s.starts_at < end for s in slots)


def _interval_slots(interval: Interval, day: date, zone: ZoneInfo) -> list[SlotSpec]:
    start, end = interval.open_minutes
    step = timedelta(minutes=interval.slot_minutes)
    closes = _wall_instant(day, end, zone)
    firsts: list[SlotSpec] = []
    seconds: list[datetime] = []
    for minute in range(start, end - interval.slot_minutes + 1, interval.slot_minutes):
        instants = local_instants(day, minute, zone)
        if instants:
            firsts.append(SlotSpec(instants[0], instants[0] + step, interval.capacity))
            seconds.extend(instants[1:])
    again = [
        SlotSpec(s, s + step, interval.capacity)
        for s in seconds
        if s + step <= closes and not _overlaps(s, s + step, firsts)
    ]
    return firsts + again


def _day_slots(calendar: QueueCalendar, day: date, zone: ZoneInfo) -> Iterator[SlotSpec]:
    taken: set[datetime] = set()
    for interval in sorted(calendar.intervals_on(day), key=lambda i: i.open_minutes):
        for slot in _interval_slots(interval, day, zone):
            if slot.starts_at not in taken:
                taken.add(slot.starts_at)
                yield slot


def slots_between(calendar: QueueCalendar, first_day: date, last_day: date) -> list[SlotSpec]:
    """Every slot of the local dates first_day..last_day (inclusive), in start order."""
    zone = calendar.zone
    slots: list[SlotSpec] = []
    day = first_day
    while day <= last_day:
        slots.extend(_day_slots(calendar, day, zone))
        day += timedelta(days=1)
    slots.sort(key=lambda s: s.starts_at)
    return slots


def local_date(instant: datetime, timezone: str) -> date:
    return instant.astimezone(ZoneInfo(timezone)).date()


def is_open(calendar: QueueCalendar, now: datetime) -> bool:
    """Whether ``now`` falls inside one of the queue's open intervals."""
    zone = calendar.zone
    today = now.astimezone(zone).date()
    # An interval that runs to midnight belongs to its opening day; look at yesterday too.
    for day in (today - timedelta(days=1), today):
        for interval in calendar.intervals_on(day):
            start, end = interval.open_minutes
            opens = _wall_instant(day, start, zone)
            closes = _wall_instant(day, end, zone)
            if opens <= now < closes:
                return True
    return False


def _wall_instant(day: date, minute_of_day: int, zone: ZoneInfo) -> datetime:
    """The UTC instant at which the local clock reads day + minutes (a gap time maps past the gap)."""
    moment = datetime.combine(day, time(0, 0)) + timedelta(minutes=minute_of_day)
    return moment.replace(tzinfo=zone).astimezone(UTC)


def repeated_occurrence(instant: datetime, zone: ZoneInfo) -> int | None:
    """For a local time the clock shows twice (the hour repeated when the clocks go back):
    0 for its first occurrence, 1 for its second; None for every other time."""
    local = instant.astimezone(zone)
    other = local.replace(fold=1 - local.fold)
    return local.fold if other.utcoffset() != local.utcoffset() else None


def wall_time_label(instant: datetime, zone: ZoneInfo) -> str:
    """The local clock time of ``instant``, "01:30"; each of the two occurrences of a time
    the clock shows twice (fall back) says its zone, "01:30 BST" then "01:30 GMT", to tell
    them apart (the texts do the same: sms/texts.py)."""
    local = instant.astimezone(zone)
    label = local.strftime("%H:%M")
    return f"{label} {local.tzname()}" if repeated_occurrence(instant, zone) is not None else label


def wall_time_row(instant: datetime, zone: ZoneInfo) -> str:
    """The row of a grid of local times a slot sits in (the console's capacity grid): "01:30",
    with the other days' 01:30; the second occurrence of a repeated time has a row of its own,
    "01:30 GMT"."""
    local = instant.astimezone(zone)
    label = local.strftime("%H:%M")
    return f"{label} {local.tzname()}" if local.fold else label


def weekly_schedule(calendar: QueueCalendar) -> dict[str, list[dict[str, str]]]:
    """The weekly hours as {"monday": [{"opens": "09:00", "closes": "17:00"}], ...}."""
    names = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
    return {
        names[wd]: [
            {"opens": i.opens.strftime("%H:%M"), "closes": i.closes.strftime("%H:%M")}
            for i in sorted(calendar.weekly.get(wd, ()), key=lambda i: i.open_minutes)
        ]
        for wd in range(7)
    }

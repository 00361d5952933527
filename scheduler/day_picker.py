"""The customer's picker as days, then parts of a day: the bookable slot starts of a window
grouped by local day (how many times each), and one day's times by morning, afternoon and
evening. The hosted booking page shows it without JavaScript; the widget does the same in
the visitor's browser (web_widget/static/widget.js), with the same bounds.

Pure: the slot starts and the zone are passed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from scheduler.calendar import wall_time_label

# Morning before 12:00, afternoon before 17:00, evening after (local time).
PARTS = ("morning", "afternoon", "evening")
AFTERNOON_FROM = 12
EVENING_FROM = 17


def part_of_day(local: datetime) -> str:
    if local.hour < AFTERNOON_FROM:
        return "morning"
    return "afternoon" if local.hour < EVENING_FROM else "evening"


@dataclass(frozen=True)
class Time:
    start: datetime  # the instant, UTC
    value: str  # what the form sends: the local ISO time with its offset
    label: str  # "14:30"; the second occurrence of a repeated time "01:30 GMT"
    part: str  # "morning", "afternoon" or "evening"


@dataclass
class Day:
    day: date
    times: list[Time] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len(self.times)

    def parts(self) -> list[tuple[str, list[Time]]]:
        """The day's times by part of the day, in order, leaving out the empty parts."""
        grouped: dict[str, list[Time]] = {part: [] for part in PARTS}
        for time in self.times:
            grouped[time.part].append(time)
        return [(part, times) for part, times in grouped.items() if times]


def days_of(starts: Iterable[datetime], zone: ZoneInfo) -> list[Day]:
    """The local days that have a bookable time, in order, each with its times in order."""
    days: dict[date, Day] = {}
    for start in sorted(starts):
        local = start.astimezone(zone)
        days.setdefault(local.date(), Day(local.date())).times.append(
            Time(start, local.isoformat(), wall_time_label(start, zone), part_of_day(local))
        )
    return list(days.values())


def chosen_day(days: list[Day], wanted: date | None) -> Day | None:
    """The day to show the times of: the one asked for if it has times, else the first."""
    for day in days:
        if day.day == wanted:
            return day
    return days[0] if days else None

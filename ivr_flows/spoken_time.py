"""Slot times, phone numbers and waits written the way a person says them, for the
provider's text-to-speech: in the queue's zone and the caller's language, never ISO.

Pure: ``now`` is an argument. The sentence frames ("today at {time}", the weekdays with
the preposition a language puts before them) are catalog messages (``i18n.py``); month
names, their grammatical case and the day periods come from CLDR through Babel. Babel does
not ship CLDR's "today"/"tomorrow" words (only "in {0} days"), so those are in the
catalogs too. How each language reads a clock is below: English in words, the way people
say it ("half past ten"), because en-GB voices read "10:30" as "ten thirty" and "14:00"
unpredictably; Russian and French as digits, which their voices read as people say them
("14:15" is "четырнадцать пятнадцать", "14 h 15" is "quatorze heures quinze").
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Callable
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from babel.dates import format_time, get_month_names

from ivr_flows.i18n import language_code, translations
from scheduler.calendar import repeated_occurrence

WEEKDAY_ONLY_WITHIN_DAYS = 6  # a week ahead "Monday" would name today's weekday: say the date


def spoken_slot(start: datetime, now: datetime, zone: str, language: str) -> str:
    """How the IVR reads a slot's start: "tomorrow at half past ten", "в понедельник, 3 декабря,
    в 14:15", "lundi 3 décembre à 14 h 15". The day is named relative to ``now`` in ``zone``:
    today, tomorrow, the weekday within the week, the weekday and the date beyond it. A time
    the clock shows twice (fall back) says which of the two it is."""
    if start.tzinfo is None or now.tzinfo is None:
        raise ValueError("spoken_slot needs timezone-aware datetimes")
    tz = ZoneInfo(zone)
    local = start.astimezone(tz)
    code = language_code(language)
    t = translations(code)
    clock = _CLOCKS.get(code, _short_clock(code))(local.time())
    occurrence = repeated_occurrence(start, tz)
    if occurrence is not None:  # the hour the clocks go back shows twice: say which
        clock = (
            t.gettext("{time}, before the clocks go back")
            if occurrence == 0
            else t.gettext("{time}, after the clocks go back")
        ).format(time=clock)
    day = local.date()
    if code == "en" and local.time() == time(0):
        day -= timedelta(days=1)  # "Monday at midnight" is the midnight that ends Monday
    days_ahead = (day - now.astimezone(tz).date()).days
    if days_ahead == 0:
        return t.gettext("today at {time}").format(time=clock)
    if days_ahead == 1:
        return t.gettext("tomorrow at {time}").format(time=clock)
    weekday = _weekday(t, day.weekday())
    if 1 < days_ahead <= WEEKDAY_ONLY_WITHIN_DAYS:
        return t.gettext("{weekday} at {time}").format(weekday=weekday, time=clock)
    # TRANSLATORS: a date beyond the coming week. {weekday} is your
    # translation of the weekday (context "weekday before a time");
    # {day} is the day of the month as your language writes it
    # (English "3rd", French "1er", otherwise digits); {month} is the
    # month's name in the form a date takes (from CLDR: Russian
    # genitive "декабря").
    template = t.gettext("{weekday} the {day} of {month} at {time}")
    month = get_month_names("wide", "format", locale=code)[day.month]
    return template.format(weekday=weekday, day=_day_of_month(day.day, code), month=month, time=clock)


def spoken_digits(phone_e164: str, language: str, *, home_region: str | None = None) -> str:
    """A number read back digit by digit to confirm it: "plus 44, 7 4 0 0, 1 2 3 4 5 6".

    Digits are spaced so that a voice says each one; the groups are the number's usual
    grouping, separated by commas so the voice pauses between them. A number from
    ``home_region`` (the queue's region) is read as its owner dials it at home:
    "0 7 4 0 0, 1 2 3 4 5 6".
    """
    t = translations(language)
    try:
        number = phonenumbers.parse(phone_e164, None)
    except phonenumbers.NumberParseException:
        digits = re.sub(r"\D", "", phone_e164)
        groups = [digits[i : i + 3] for i in range(0, len(digits), 3)]
        # TRANSLATORS: the "+" read out before a country code ("plus 44").
        prefix = [t.pgettext("phone number", "plus")] if phone_e164.strip().startswith("+") else []
        return ", ".join(prefix + [" ".join(group) for group in groups])
    if home_region and phonenumbers.region_code_for_number(number) == home_region.upper():
        groups = re.findall(r"\d+", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
        return ", ".join(" ".join(group) for group in groups)
    groups = re.findall(r"\d+", phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL))
    country = t.pgettext("phone number", "plus") + " " + groups[0]  # "plus 44": the voice says "forty-four"
    return ", ".join([country] + [" ".join(group) for group in groups[1:]])


def spoken_minutes(n: int, language: str) -> str:
    """An estimated wait, for "we will call you back {…}": "in about 5 minutes", "примерно
    через 5 минут", "dans environ 5 minutes". Under a minute is said as about a minute."""
    if n < 0:
        raise ValueError("a wait cannot be negative")
    n = max(n, 1)
    t = translations(language)
    # TRANSLATORS: completes "we will call you back …". Russian takes
    # the accusative after "через": 1 минуту, 2 минуты, 5 минут, 21 минуту.
    return t.ngettext("in about {n} minute", "in about {n} minutes", n).format(n=n)


def spoken_range(low: int, high: int, language: str) -> str:
    """An estimated callback time as a range of whole minutes (scheduler/ecbt.py), for "we
    will call you back {…}": "between 8 and 10 minutes from now", "через 8–10 минут",
    "dans 8 à 10 minutes"; from 0, "within 2 minutes". The plural follows the last number."""
    if low < 0 or high <= low:
        raise ValueError("a range runs from a wait to a longer one")
    t = translations(language)
    if low == 0:
        # TRANSLATORS: completes "we will call you back …" when the callback may come
        # at once. Russian takes the genitive after "в течение": 1 минуты, 2 минут.
        return t.ngettext("within {n} minute", "within {n} minutes", high).format(n=high)
    # TRANSLATORS: completes "we will call you back …": a range of minutes. The
    # plural form follows {high}, the last number said (Russian "через 8–10 минут").
    template = t.ngettext("between {low} and {high} minute from now", "between {low} and {high} minutes from now", high)
    return template.format(low=low, high=high)


def _weekday(t: gettext.NullTranslations, weekday: int) -> str:
    # TRANSLATORS: a weekday as it is said before a time ("Monday at
    # 10:30"), with the preposition your language needs there: Russian
    # "в понедельник", "во вторник", "в среду".
    names = (
        t.pgettext("weekday before a time", "Monday"),
        t.pgettext("weekday before a time", "Tuesday"),
        t.pgettext("weekday before a time", "Wednesday"),
        t.pgettext("weekday before a time", "Thursday"),
        t.pgettext("weekday before a time", "Friday"),
        t.pgettext("weekday before a time", "Saturday"),
        t.pgettext("weekday before a time", "Sunday"),
    )
    return names[weekday]


def _day_of_month(day: int, code: str) -> str:
    if code == "en":
        suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
        return f"{day}{suffix}"
    if code == "fr" and day == 1:
        return "1er"  # "lundi 1er décembre": French says the first of the month as an ordinal
    return str(day)


_EN_SMALL = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
    "twenty",
]
# Day-time hours (08:00-17:59) are said without "in the morning/afternoon": the listener
# assumes them, as a receptionist would. Outside them CLDR's day period is added.
_EN_ASSUMED_HOURS = range(8, 18)


def _en_number(n: int) -> str:
    return _EN_SMALL[n] if n <= 20 else f"twenty-{_EN_SMALL[n - 20]}"


def english_clock(t: time) -> str:
    """A British speaker's clock: "half past ten", "quarter to six in the evening",
    "twenty past midnight", "noon"."""
    hour, minute = t.hour, t.minute
    if minute == 0 and hour in (0, 12):
        return format_time(t, "b", locale="en")  # CLDR: "midnight", "noon"
    named = hour if minute <= 30 else (hour + 1) % 24  # "quarter to three" names the next hour
    hour_word = "midnight" if named == 0 else _en_number(named % 12 or 12)
    if minute == 0:
        phrase = f"{hour_word} o'clock"
    elif minute in (15, 45):
        phrase = f"quarter {'past' if minute == 15 else 'to'} {hour_word}"
    elif minute == 30:
        phrase = f"half past {hour_word}"
    else:
        count = minute if minute < 30 else 60 - minute
        unit = "" if count % 5 == 0 else (" minute" if count == 1 else " minutes")  # "ten past", "seven minutes past"
        phrase = f"{_en_number(count)}{unit} {'past' if minute < 30 else 'to'} {hour_word}"
    if named == 0 or named in _EN_ASSUMED_HOURS:
        return phrase
    return f"{phrase} {format_time(t, 'B', locale='en')}"  # CLDR: "in the evening", "at night"


def _russian_clock(t: time) -> str:
    return format_time(t, "H:mm", locale="ru")


def _french_clock(t: time) -> str:
    # "14 h 15", "10 h": how French writes a time to be read aloud ("quatorze heures quinze")
    return format_time(t, "H 'h'" if t.minute == 0 else "H 'h' mm", locale="fr")


def _short_clock(code: str) -> Callable[[time], str]:
    """A language without its own rule: CLDR's short time format."""
    return lambda t: format_time(t, "short", locale=code)


_CLOCKS: dict[str, Callable[[time], str]] = {"en": english_clock, "ru": _russian_clock, "fr": _french_clock}

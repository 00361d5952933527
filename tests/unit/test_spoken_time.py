"""Slot times, phone numbers and waits as the IVR says them (ivr_flows/spoken_time.py)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ivr_flows.spoken_time import english_clock, spoken_digits, spoken_minutes, spoken_range, spoken_slot

LONDON = "Europe/London"
NEW_YORK = "America/New_York"


def at(zone: str, year: int, month: int, day: int, hour: int, minute: int) -> datetime:
    """A local wall-clock time in ``zone``, as the aware UTC instant a slot row stores."""
    return datetime(year, month, day, hour, minute, tzinfo=ZoneInfo(zone)).astimezone(UTC)


# Monday 30 November 2026, 09:00 in London (GMT, so also 09:00 UTC).
NOW = at(LONDON, 2026, 11, 30, 9, 0)


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "today at quarter past two"),
        ("ru", "сегодня в 14:15"),
        ("fr", "aujourd'hui à 14 h 15"),
    ],
)
def test_a_slot_later_today_is_today(language: str, expected: str) -> None:
    assert spoken_slot(at(LONDON, 2026, 11, 30, 14, 15), NOW, LONDON, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "tomorrow at half past ten"),
        ("ru", "завтра в 10:30"),
        ("fr", "demain à 10 h 30"),
    ],
)
def test_a_slot_tomorrow_is_tomorrow(language: str, expected: str) -> None:
    assert spoken_slot(at(LONDON, 2026, 12, 1, 10, 30), NOW, LONDON, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Thursday at quarter to seven in the evening"),
        ("ru", "в четверг в 18:45"),
        ("fr", "jeudi à 18 h 45"),
    ],
)
def test_a_slot_within_the_week_is_its_weekday(language: str, expected: str) -> None:
    assert spoken_slot(at(LONDON, 2026, 12, 3, 18, 45), NOW, LONDON, language) == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Monday the 7th of December at quarter past two"),
        ("ru", "в понедельник, 7 декабря, в 14:15"),
        ("fr", "lundi 7 décembre à 14 h 15"),
    ],
)
def test_a_slot_beyond_the_week_is_its_weekday_and_date(language: str, expected: str) -> None:
    assert spoken_slot(at(LONDON, 2026, 12, 7, 14, 15), NOW, LONDON, language) == expected


def test_six_days_ahead_is_the_weekday_and_seven_days_ahead_needs_the_date() -> None:
    assert spoken_slot(at(LONDON, 2026, 12, 6, 11, 0), NOW, LONDON, "en") == "Sunday at eleven o'clock"
    assert spoken_slot(at(LONDON, 2026, 12, 7, 11, 0), NOW, LONDON, "en") == (
        "Monday the 7th of December at eleven o'clock"
    )


@pytest.mark.parametrize(
    ("day", "english", "russian", "french"),
    [
        (1, "Friday the 1st of January", "в пятницу, 1 января,", "vendredi 1er janvier"),
        (2, "Saturday the 2nd of January", "в субботу, 2 января,", "samedi 2 janvier"),
        (3, "Sunday the 3rd of January", "в воскресенье, 3 января,", "dimanche 3 janvier"),
        (11, "Monday the 11th of January", "в понедельник, 11 января,", "lundi 11 janvier"),
        (12, "Tuesday the 12th of January", "во вторник, 12 января,", "mardi 12 janvier"),
        (13, "Wednesday the 13th of January", "в среду, 13 января,", "mercredi 13 janvier"),
        (21, "Thursday the 21st of January", "в четверг, 21 января,", "jeudi 21 janvier"),
        (22, "Friday the 22nd of January", "в пятницу, 22 января,", "vendredi 22 janvier"),
        (23, "Saturday the 23rd of January", "в субботу, 23 января,", "samedi 23 janvier"),
    ],
)
def test_dates_use_each_languages_ordinals_and_cases(day: int, english: str, russian: str, french: str) -> None:
    start = at(LONDON, 2027, 1, day, 10, 0)
    assert spoken_slot(start, NOW, LONDON, "en") == f"{english} at ten o'clock"
    assert spoken_slot(start, NOW, LONDON, "ru") == f"{russian} в 10:00"
    assert spoken_slot(start, NOW, LONDON, "fr") == f"{french} à 10 h"


def test_the_time_is_read_in_the_queues_zone() -> None:
    start = datetime(2026, 11, 30, 13, 15, tzinfo=UTC)
    assert spoken_slot(start, NOW, "Europe/Paris", "fr") == "aujourd'hui à 14 h 15"
    assert spoken_slot(start, NOW, "Europe/Moscow", "ru") == "сегодня в 16:15"
    assert spoken_slot(start, NOW, NEW_YORK, "en") == "today at quarter past eight"


def test_a_language_variant_or_a_language_without_catalog() -> None:
    start = at(LONDON, 2026, 12, 1, 10, 30)
    assert spoken_slot(start, NOW, LONDON, "fr-FR") == "demain à 10 h 30"
    assert spoken_slot(start, NOW, LONDON, "ru_RU") == "завтра в 10:30"
    assert spoken_slot(start, NOW, LONDON, "de") == "tomorrow at half past ten"


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        spoken_slot(datetime(2026, 12, 1, 10, 30), NOW, LONDON, "en")
    with pytest.raises(ValueError, match="timezone-aware"):
        spoken_slot(at(LONDON, 2026, 12, 1, 10, 30), datetime(2026, 11, 30, 9, 0), LONDON, "en")


# --- clock changes ---------------------------------------------------------------------


def test_london_spring_forward_day_reads_summer_time_after_the_change() -> None:
    now = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # 00:30 GMT, before the clocks go forward at 01:00
    assert spoken_slot(datetime(2026, 3, 29, 0, 45, tzinfo=UTC), now, LONDON, "ru") == "сегодня в 0:45"
    assert spoken_slot(datetime(2026, 3, 29, 1, 30, tzinfo=UTC), now, LONDON, "ru") == "сегодня в 2:30"
    assert spoken_slot(datetime(2026, 3, 29, 9, 30, tzinfo=UTC), now, LONDON, "en") == "today at half past ten"
    assert spoken_slot(datetime(2026, 3, 29, 13, 15, tzinfo=UTC), now, LONDON, "fr") == "aujourd'hui à 14 h 15"


def test_london_fall_back_day_reads_winter_time_after_the_change() -> None:
    now = datetime(2026, 10, 24, 12, 0, tzinfo=UTC)  # Saturday, 13:00 BST
    assert spoken_slot(datetime(2026, 10, 24, 13, 15, tzinfo=UTC), now, LONDON, "ru") == "сегодня в 14:15"
    assert spoken_slot(datetime(2026, 10, 25, 14, 15, tzinfo=UTC), now, LONDON, "ru") == "завтра в 14:15"
    assert spoken_slot(datetime(2026, 10, 25, 14, 15, tzinfo=UTC), now, LONDON, "en") == (
        "tomorrow at quarter past two"
    )
    # 01:30 happens twice that night: each is read with which of the two it is
    first, second = datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 1, 30, tzinfo=UTC)
    assert spoken_slot(first, now, LONDON, "fr") == "demain à 1 h 30, avant le changement d'heure"
    assert spoken_slot(second, now, LONDON, "fr") == "demain à 1 h 30, après le changement d'heure"
    assert (
        spoken_slot(first, now, LONDON, "en") == "tomorrow at half past one in the morning, before the clocks go back"
    )
    assert spoken_slot(second, now, LONDON, "ru") == "завтра в 1:30, после перевода часов"
    assert spoken_slot(datetime(2026, 10, 25, 2, 30, tzinfo=UTC), now, LONDON, "fr") == "demain à 2 h 30"


def test_new_york_clock_change_days() -> None:
    saturday = datetime(2026, 3, 7, 15, 0, tzinfo=UTC)  # 10:00 EST
    assert spoken_slot(datetime(2026, 3, 8, 18, 15, tzinfo=UTC), saturday, NEW_YORK, "en") == (
        "tomorrow at quarter past two"  # 14:15 EDT (UTC-4) on the day the clocks went forward
    )
    assert spoken_slot(datetime(2026, 3, 8, 6, 30, tzinfo=UTC), saturday, NEW_YORK, "ru") == "завтра в 1:30"  # EST
    assert spoken_slot(datetime(2026, 3, 8, 7, 30, tzinfo=UTC), saturday, NEW_YORK, "ru") == "завтра в 3:30"  # EDT
    halloween = datetime(2026, 10, 31, 16, 0, tzinfo=UTC)  # Saturday 12:00 EDT
    assert spoken_slot(datetime(2026, 11, 1, 19, 15, tzinfo=UTC), halloween, NEW_YORK, "fr") == "demain à 14 h 15"


# --- midnight --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "tomorrow at quarter past midnight"),
        ("ru", "завтра в 0:15"),
        ("fr", "demain à 0 h 15"),
    ],
)
def test_just_before_midnight_a_slot_after_it_is_tomorrow(language: str, expected: str) -> None:
    now = at(NEW_YORK, 2026, 12, 1, 23, 59)  # already 2 December in UTC
    assert spoken_slot(at(NEW_YORK, 2026, 12, 2, 0, 15), now, NEW_YORK, language) == expected
    assert spoken_slot(at(NEW_YORK, 2026, 12, 1, 23, 59), now, NEW_YORK, "ru") == "сегодня в 23:59"


def test_just_after_midnight_the_same_evening_is_today() -> None:
    now = at(LONDON, 2026, 12, 2, 0, 1)
    assert spoken_slot(at(LONDON, 2026, 12, 2, 23, 45), now, LONDON, "en") == "today at quarter to midnight"
    assert spoken_slot(at(LONDON, 2026, 12, 3, 9, 0), now, LONDON, "en") == "tomorrow at nine o'clock"


def test_today_and_tomorrow_are_the_queues_days_not_utcs() -> None:
    now = datetime(2026, 12, 6, 23, 59, tzinfo=UTC)  # Sunday 23:59 in London, Monday 02:59 in Moscow
    start = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)
    assert spoken_slot(start, now, LONDON, "ru") == "завтра в 7:00"
    assert spoken_slot(start, now, "Europe/Moscow", "ru") == "сегодня в 10:00"


def test_english_midnight_belongs_to_the_day_it_ends() -> None:
    # "Monday at midnight" is the night between Monday and Tuesday, as people hear it
    assert spoken_slot(at(LONDON, 2026, 12, 1, 0, 0), NOW, LONDON, "en") == "today at midnight"
    assert spoken_slot(at(LONDON, 2026, 12, 3, 0, 0), NOW, LONDON, "en") == "Wednesday at midnight"
    assert spoken_slot(at(LONDON, 2026, 12, 3, 0, 0), NOW, LONDON, "ru") == "в четверг в 0:00"


# --- the English clock -----------------------------------------------------------------

_EN_WORDS = {
    word: n
    for n, word in enumerate(
        [
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
    )
}
_EN_PERIODS = {" in the morning": "am", " in the afternoon": "pm", " in the evening": "pm", " at night": "pm"}


def _en_count(words: str) -> int:
    if words.startswith("twenty-"):
        return 20 + _EN_WORDS[words.removeprefix("twenty-")]
    return _EN_WORDS[words]


def parse_english_clock(phrase: str) -> tuple[int, int]:
    """An independent reading of the English clock back into (hour, minute), the way a
    listener resolves it: day-time (08:00-17:59) unless a day period is said."""
    if phrase in ("midnight", "noon"):
        return (0, 0) if phrase == "midnight" else (12, 0)
    period = None
    for suffix, half in _EN_PERIODS.items():
        if phrase.endswith(suffix):
            phrase, period = phrase.removesuffix(suffix), half
    if phrase.endswith(" o'clock"):
        offset, hour_word = 0, phrase.removesuffix(" o'clock")
    elif match := re.fullmatch(r"(quarter|half|[a-z-]+?)(?: minutes?)? (past|to) ([a-z]+)", phrase):
        amount = {"quarter": 15, "half": 30}.get(match[1]) or _en_count(match[1])
        offset, hour_word = (amount if match[2] == "past" else -amount), match[3]
    else:
        raise AssertionError(f"not an English clock: {phrase!r}")
    if hour_word == "midnight":
        named = 0 if offset >= 0 else 24
    else:
        h12 = _EN_WORDS[hour_word]
        if period == "am":
            named = h12 % 12
        elif period == "pm":
            named = h12 % 12 + 12
        else:
            named = h12 if 8 <= h12 <= 12 else h12 + 12  # the assumed day-time hours
    total = (named * 60 + offset) % (24 * 60)
    return divmod(total, 60)


def test_every_minute_of_the_day_reads_back_to_itself_in_english() -> None:
    phrases = set()
    for minute_of_day in range(24 * 60):
        clock = time(*divmod(minute_of_day, 60))
        phrase = english_clock(clock)
        assert parse_english_clock(phrase) == (clock.hour, clock.minute), phrase
        assert not re.search(r"\d", phrase), phrase  # words only: every voice says them the same
        phrases.add(phrase)
    assert len(phrases) == 24 * 60


@pytest.mark.parametrize(
    ("clock", "spoken"),
    [
        (time(10, 30), "half past ten"),
        (time(14, 15), "quarter past two"),
        (time(9, 0), "nine o'clock"),
        (time(12, 0), "noon"),
        (time(0, 0), "midnight"),
        (time(17, 45), "quarter to six in the afternoon"),
        (time(18, 0), "six o'clock in the evening"),
        (time(7, 50), "ten to eight"),
        (time(7, 30), "half past seven in the morning"),
        (time(21, 30), "half past nine at night"),
        (time(14, 7), "seven minutes past two"),
        (time(14, 59), "one minute to three"),
        (time(15, 25), "twenty-five past three"),
        (time(0, 20), "twenty past midnight"),
        (time(0, 45), "quarter to one in the morning"),
        (time(11, 45), "quarter to twelve"),
    ],
)
def test_english_clock_phrases(clock: time, spoken: str) -> None:
    assert english_clock(clock) == spoken


# --- property --------------------------------------------------------------------------

ISO_LIKE = re.compile(r"\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2}:\d{2}|T\d{2}:|[+-]\d{2}:\d{2}\b|UTC|Z\b")
ZONES = (LONDON, NEW_YORK, "Europe/Paris", "Europe/Moscow", "Asia/Kolkata", "Australia/Sydney")


@settings(max_examples=300, deadline=None)
@given(
    offset=st.integers(min_value=0, max_value=60 * 24 * 60 * 60),
    now_offset=st.integers(min_value=0, max_value=400 * 24 * 60 * 60),
    zone=st.sampled_from(ZONES),
    language=st.sampled_from(("en", "ru", "fr")),
)
def test_any_slot_in_the_next_60_days_is_said_at_its_local_hour_and_never_as_iso(
    offset: int, now_offset: int, zone: str, language: str
) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=now_offset)
    start = (now + timedelta(seconds=offset)).replace(second=0, microsecond=0)
    local = start.astimezone(ZoneInfo(zone))
    spoken = spoken_slot(start, now, zone, language)
    assert not ISO_LIKE.search(spoken), spoken
    if language == "ru":
        assert f"в {local.hour}:{local.minute:02d}" in spoken
    elif language == "fr":
        clock = f"à {local.hour} h" + (f" {local.minute:02d}" if local.minute else "")
        assert spoken.endswith(clock)
    else:
        clock = spoken.split(" at ", 1)[1]
        assert parse_english_clock(clock) == (local.hour, local.minute), spoken


# --- waits -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "russian"),
    [
        (1, "примерно через 1 минуту"),
        (2, "примерно через 2 минуты"),
        (4, "примерно через 4 минуты"),
        (5, "примерно через 5 минут"),
        (11, "примерно через 11 минут"),
        (12, "примерно через 12 минут"),
        (21, "примерно через 21 минуту"),
        (22, "примерно через 22 минуты"),
        (25, "примерно через 25 минут"),
        (101, "примерно через 101 минуту"),
        (111, "примерно через 111 минут"),
    ],
)
def test_russian_minutes_take_the_right_plural_form(n: int, russian: str) -> None:
    assert spoken_minutes(n, "ru") == russian


def test_english_and_french_minutes() -> None:
    assert spoken_minutes(1, "en") == "in about 1 minute"
    assert spoken_minutes(5, "en") == "in about 5 minutes"
    assert spoken_minutes(1, "fr") == "dans environ 1 minute"
    assert spoken_minutes(5, "fr") == "dans environ 5 minutes"


def test_a_wait_under_a_minute_is_about_a_minute_and_a_negative_one_is_a_bug() -> None:
    assert spoken_minutes(0, "ru") == "примерно через 1 минуту"
    with pytest.raises(ValueError, match="negative"):
        spoken_minutes(-1, "en")


# --- phone numbers ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "plus 44, 7 4 0 0, 1 2 3 4 5 6"),
        ("ru", "плюс 44, 7 4 0 0, 1 2 3 4 5 6"),
        ("fr", "plus 44, 7 4 0 0, 1 2 3 4 5 6"),
    ],
)
def test_a_number_is_read_back_digit_by_digit_in_its_groups(language: str, expected: str) -> None:
    assert spoken_digits("+447400123456", language) == expected


def test_a_number_from_the_queues_region_is_read_as_dialled_at_home() -> None:
    assert spoken_digits("+447400123456", "en", home_region="GB") == "0 7 4 0 0, 1 2 3 4 5 6"
    assert spoken_digits("+12015550123", "en", home_region="us") == "2 0 1, 5 5 5, 0 1 2 3"
    assert spoken_digits("+12015550123", "en", home_region="GB") == "plus 1, 2 0 1, 5 5 5, 0 1 2 3"


@pytest.mark.parametrize("phone", ["+447400123456", "+79123456789", "+33612345678", "+12015550123"])
def test_every_national_digit_is_said_alone_and_in_order(phone: str) -> None:
    spoken = spoken_digits(phone, "en")
    country, rest = spoken.split(", ", 1)
    assert country.startswith("plus ")
    tokens = rest.replace(",", "").split()
    assert all(len(token) == 1 for token in tokens)
    assert "+" + country.removeprefix("plus ") + "".join(tokens) == phone


def test_a_number_phonenumbers_cannot_parse_is_still_read_digit_by_digit() -> None:
    assert spoken_digits("+0001234", "ru") == "плюс, 0 0 0, 1 2 3, 4"


@pytest.mark.parametrize(
    ("low", "high", "language", "said"),
    [
        (8, 10, "en", "between 8 and 10 minutes from now"),
        (0, 2, "en", "within 2 minutes"),
        (0, 1, "en", "within 1 minute"),
        (8, 10, "ru", "через 8–10 минут"),
        (2, 4, "ru", "через 2–4 минуты"),
        (19, 21, "ru", "через 19–21 минуту"),
        (0, 2, "ru", "в течение 2 минут"),
        (0, 1, "ru", "в течение 1 минуты"),
        (8, 10, "fr", "dans 8 à 10 minutes"),
        (0, 1, "fr", "d'ici 1 minute"),
    ],
)
def test_an_ecbt_range_is_said_with_the_plural_of_its_last_number(
    low: int, high: int, language: str, said: str
) -> None:
    assert spoken_range(low, high, language) == said


def test_a_range_must_run_forward() -> None:
    with pytest.raises(ValueError):
        spoken_range(5, 5, "en")

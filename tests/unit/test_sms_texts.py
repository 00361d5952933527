"""The SMS texts: every one translated into every language with the same placeholders, and
every rendered reply within two segments (Cyrillic is UCS-2: 67 characters a segment)."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from ivr_flows import inbound
from services.links import CODE_LENGTH, new_code
from sms import texts
from sms.commands import Command, parse
from sms.encoding import MAX_REPLY_SEGMENTS, encode_info

LANGUAGES = ("en", "ru", "fr")
WHEN = datetime(2027, 1, 6, 14, 45, tzinfo=UTC)


def _fields(template: str) -> set[str]:
    return {name for _t, name, _spec, _conv in string.Formatter().parse(template) if name is not None}


def _render(message: str, language: str, values: dict[str, str]) -> str:
    used = {k: v for k, v in values.items() if k in _fields(message)}
    return texts.render(message, language, **used)


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_every_text_is_translated_with_the_same_placeholders(language: str) -> None:
    with texts.CATALOGS.path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
    assert set(translated) == set(texts.ALL_TEXTS)
    for msgid, msgstr in translated.items():
        assert msgstr and all(msgstr) and _fields(msgstr) == _fields(msgid), msgid


# Texts carry the short link (services/links.py: short_booking_url), never the ~150-character
# signed URL: a realistic public https host and a real code.
LINK = f"https://callbacks.example.com/b/{new_code()}"


def test_the_link_in_texts_is_short() -> None:
    assert len(LINK) == len("https://callbacks.example.com/b/") + CODE_LENGTH <= 45


@pytest.mark.parametrize("message", texts.ALL_TEXTS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_reply_fits_in_two_segments(language: str, message: str) -> None:
    link = LINK
    when = texts.format_when(WHEN, "Europe/London", language)
    options = texts.format_options([WHEN, WHEN, WHEN], "Europe/London", language)
    values = {
        "name": "Support",
        "when": when,
        "link": link,
        "options": options,
        "time": texts.format_time_of_day(WHEN, "Europe/London"),
        "start": "10:38",
        "end": "10:48",
        "number": "+441632960000",
    }
    body = _render(message, language, values)
    assert encode_info(body).segments <= MAX_REPLY_SEGMENTS, (body, encode_info(body))


# Each text about a callback that is still booked says how to cancel it and, but for the
# reschedule link (which is the way to move it), how to move it: with keywords that the
# parser takes for those commands, in every language.
KEYWORDS = {
    "en": ("CANCEL CALL", "CHANGE"),
    "ru": ("ОТМЕНА", "ПЕРЕНЕСТИ"),
    "fr": ("ANNULER", "CHANGER"),
}
ABOUT_A_BOOKED_CALLBACK = {
    texts.BOOKED: True,
    texts.ALREADY_BOOKED: True,
    texts.REBOOKED: True,
    texts.RESCHEDULE_LINK: False,
    texts.ALSO_BOOKED: False,
}


@pytest.mark.parametrize("message", list(ABOUT_A_BOOKED_CALLBACK))
@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_about_a_booked_callback_say_how_to_cancel_or_change_it(language: str, message: str) -> None:
    cancel_word, change_word = KEYWORDS[language]
    assert parse(cancel_word).command is Command.CANCEL
    assert parse(change_word).command is Command.CHANGE
    values = {"name": "Support", "when": "Mon 4 Jan 10:30", "link": LINK}
    body = _render(message, language, values)
    assert cancel_word in body, body
    if ABOUT_A_BOOKED_CALLBACK[message]:
        assert change_word in body, body


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_ivr_s_link_text_fits_in_two_segments(language: str) -> None:
    # The IVR's "text me a link" (ivr_flows/inbound.py, its own catalog) carries the same short link.
    body = inbound.text("link_sms", language, queue="Support", link=LINK)
    assert LINK in body and encode_info(body).segments <= MAX_REPLY_SEGMENTS, body


def test_the_two_times_of_the_repeated_hour_say_their_zone_in_a_text() -> None:
    first = datetime(2027, 10, 31, 0, 30, tzinfo=UTC)  # London's clocks go back at 02:00 BST
    second = datetime(2027, 10, 31, 1, 30, tzinfo=UTC)
    assert texts.format_when(first, "Europe/London", "en") == "Sun 31 Oct 01:30 BST"
    assert texts.format_when(second, "Europe/London", "fr") == "dim. 31 oct. 01:30 GMT"
    assert [texts.format_time_of_day(t, "Europe/London") for t in (first, second)] == ["01:30 BST", "01:30 GMT"]
    assert texts.format_time_of_day(datetime(2027, 10, 31, 2, 30, tzinfo=UTC), "Europe/London") == "02:30"

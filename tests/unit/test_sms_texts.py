"""The SMS texts: every one translated into every language with the same placeholders, and
every rendered reply within two segments (Cyrillic is UCS-2: 67 characters a segment)."""

from __future__ import annotations

import string
from datetime import UTC, datetime

import pytest
from babel.messages.pofile import read_po

from app.links import booking_url
from sms import texts
from sms.encoding import MAX_REPLY_SEGMENTS, encode_info

LANGUAGES = ("en", "ru", "fr")
WHEN = datetime(2027, 1, 6, 14, 45, tzinfo=UTC)


def _fields(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None}


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_every_text_is_translated_with_the_same_placeholders(language: str) -> None:
    with texts.catalog_path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
    assert set(translated) == set(texts.ALL_TEXTS)
    for msgid, msgstr in translated.items():
        assert msgstr and _fields(msgstr) == _fields(msgid), msgid


LINK_TOO_LONG = pytest.mark.xfail(
    strict=True,
    reason="no short links yet (issue 5 part 3): a 150-character signed link leaves a Cyrillic text 3-4 segments",
)
CASES = [
    pytest.param(language, message, marks=LINK_TOO_LONG if language == "ru" and "{link}" in message else ())
    for language in LANGUAGES
    for message in texts.ALL_TEXTS
]


@pytest.mark.parametrize(("language", "message"), CASES)
def test_every_reply_fits_in_two_segments(language: str, message: str) -> None:
    # A realistic worst case: a public https host, a reschedule link with a callback ref.
    link = booking_url("https://callbacks.example.com", "k" * 32, "support", "+447400000001", ref="ABCDEFGHJK")
    when = texts.format_when(WHEN, "Europe/London", language)
    options = texts.format_options([WHEN, WHEN, WHEN], "Europe/London", language)
    values = {
        "name": "Support",
        "when": when,
        "link": link,
        "options": options,
        "time": texts.format_time_of_day(WHEN, "Europe/London"),
        "minutes": "25",
        "number": "+441632960000",
    }
    body = texts.render(message, language, **{k: v for k, v in values.items() if k in _fields(message)})
    assert encode_info(body).segments <= MAX_REPLY_SEGMENTS, (body, encode_info(body))

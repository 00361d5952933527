"""A phone number said aloud, read as digits in each language we speak."""

from __future__ import annotations

import pytest

from ivr_flows.speech import spoken_phone_digits


@pytest.mark.parametrize(
    ("speech", "language", "digits"),
    [
        ("07700 900123", "en", "07700900123"),  # what recognisers mostly write
        ("+44 7700 900123", "en", "+447700900123"),
        ("oh seven seven double oh, nine hundred, one two three", "en", "07700900123"),
        ("My number is zero seven four triple one, twenty three, forty-five", "en", "0741112345"),
        ("plus four four, seven four double oh", "en", "+447400"),
        ("zéro six, douze, trente-quatre, cinquante-six, soixante-dix-huit", "fr", "0612345678"),
        ("zéro sept, quatre-vingt-dix-neuf, soixante et onze, quatre-vingts, dix-sept", "fr", "0799718017"),
        ("zéro un, double deux, nonante", "fr", "012290"),
        ("восемь девятьсот шестнадцать сто двадцать три сорок пять шестьдесят семь", "ru", "89161234567"),
        ("плюс семь, девятьсот три, ноль ноль один, двенадцать, ноль девять", "ru", "+79030011209"),
        ("Восемь, девять, один, шесть", "ru", "8916"),
    ],
)
def test_a_number_said_aloud_becomes_its_digits(speech: str, language: str, digits: str) -> None:
    assert spoken_phone_digits(speech, language) == digits


@pytest.mark.parametrize(
    ("speech", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("hello?", "en"),
        ("plus", "en"),
        ("seven thousand two hundred", "en"),  # not a way to say a phone number: ask again
        ("deux mille", "fr"),
        ("две тысячи", "ru"),
    ],
)
def test_no_number_or_one_we_cannot_read_is_nothing(speech: str | None, language: str) -> None:
    assert spoken_phone_digits(speech, language) == ""


def test_a_plus_only_counts_at_the_start() -> None:
    assert spoken_phone_digits("seven plus four", "en") == "74"

"""Segment counting: GSM-7 for Latin texts, UCS-2 as soon as one character needs it."""

from __future__ import annotations

from sms.encoding import encode_info


def test_a_short_latin_text_is_one_gsm7_segment() -> None:
    info = encode_info("Your callback is booked for Mon 4 Jan 10:30.")
    assert (info.encoding, info.segments) == ("GSM-7", 1)


def test_gsm7_fits_160_then_153_per_segment() -> None:
    assert encode_info("a" * 160).segments == 1
    assert encode_info("a" * 161).segments == 2
    assert encode_info("a" * 306).segments == 2
    assert encode_info("a" * 307).segments == 3


def test_extension_characters_take_two_septets() -> None:
    info = encode_info("€" * 80)
    assert (info.encoding, info.units, info.segments) == ("GSM-7", 160, 1)
    assert encode_info("€" * 81).segments == 2


def test_cyrillic_is_ucs2_70_then_67_per_segment() -> None:
    info = encode_info("Ваш звонок отменён.")
    assert info.encoding == "UCS-2"
    assert encode_info("я" * 70).segments == 1
    assert encode_info("я" * 71).segments == 2
    assert encode_info("я" * 134).segments == 2
    assert encode_info("я" * 135).segments == 3


def test_one_curly_quote_makes_a_latin_text_ucs2() -> None:
    assert encode_info("We\u2019ll call you").encoding == "UCS-2"

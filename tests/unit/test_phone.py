from __future__ import annotations

import pytest

from scheduler.errors import PhoneCountryNotAllowed, PhoneInvalid
from scheduler.phone import mask_phone, parse_phone


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("07400 123456", "GB", "+447400123456"),
        ("+44 7400 123456", "FR", "+447400123456"),
        ("(212) 555-0199", "US", "+12125550199"),
        ("8 (912) 345-67-89", "RU", "+79123456789"),
        ("06 12 34 56 78", "FR", "+33612345678"),
    ],
)
def test_numbers_are_stored_in_e164(raw: str, region: str, expected: str) -> None:
    assert parse_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["", "   ", "abc", "123", "+44 7400", "0" * 40])
def test_bad_numbers_are_refused_with_phone_invalid(raw: str) -> None:
    with pytest.raises(PhoneInvalid) as caught:
        parse_phone(raw, "GB")
    assert caught.value.type == "phone_invalid"


def test_a_queue_may_call_only_some_countries() -> None:
    assert parse_phone("07400 123456", "GB", ["GB", "IE"]) == "+447400123456"
    with pytest.raises(PhoneCountryNotAllowed) as caught:
        parse_phone("+33612345678", "GB", ["GB"])
    assert caught.value.details["country"] == "FR"


def test_logs_see_masked_numbers() -> None:
    assert mask_phone("+447400123456") == "+44********56"
    assert "123" not in mask_phone("+447400123456")

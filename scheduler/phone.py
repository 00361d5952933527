"""Phone numbers: parsed once at the edge into E.164, checked against a queue's countries."""

from __future__ import annotations

from collections.abc import Collection

import phonenumbers

from scheduler.errors import PhoneCountryNotAllowed, PhoneInvalid

MAX_PHONE_LENGTH = 32


def parse_phone(raw: str, default_region: str, allowed_countries: Collection[str] = ()) -> str:
    """E.164 form of ``raw`` (national numbers are read in ``default_region``).

    ``allowed_countries`` is a set of ISO 3166 region codes; empty allows any.
    """
    text = raw.strip()
    if not text or len(text) > MAX_PHONE_LENGTH:
        raise PhoneInvalid("enter a phone number", {"phone": "empty or too long"})
    try:
        number = phonenumbers.parse(text, default_region.upper())
    except phonenumbers.NumberParseException:
        raise PhoneInvalid("that does not look like a phone number", {"phone": "unparseable"}) from None
    if not phonenumbers.is_valid_number(number):
        raise PhoneInvalid("that phone number is not valid", {"phone": "invalid"})
    region = phonenumbers.region_code_for_number(number)
    if allowed_countries and region not in {c.upper() for c in allowed_countries}:
        raise PhoneCountryNotAllowed(
            f"this queue does not call numbers in {region}",
            {"phone": "country_not_allowed", "country": region, "allowed": sorted(allowed_countries)},
        )
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def mask_phone(e164: str) -> str:
    """For logs: keep the country code and the last two digits (+4420*******34)."""
    if len(e164) <= 6:
        return "*" * len(e164)
    return e164[:3] + "*" * (len(e164) - 5) + e164[-2:]


def is_mobile(e164: str) -> bool:
    """Whether a text to this number can reach a phone: mobiles, and the numbers a
    numbering plan does not tell apart from mobiles (the US, Canada)."""
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        return False
    kind = phonenumbers.number_type(number)
    return kind in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE)

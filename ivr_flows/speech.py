"""Spoken answers to a keypad menu: "two", "deux", "два" count as pressing 2.

The words are the digits and the star key as people say them in each language we speak;
the recogniser may also hand us the digit itself ("2"). The first word that names a key
wins, so "number two please" is 2. Pure; no catalogs (these are what callers say, not
what we say).
"""

from __future__ import annotations

import re

from ivr_flows.i18n import language_code

WORDS: dict[str, dict[str, str]] = {
    "en": {
        "one": "1", "two": "2", "three": "3", "four": "4", "nine": "9",
        "star": "*", "hold": "*", "holding": "*", "wait": "*",
    },
    "ru": {
        "один": "1", "одна": "1", "два": "2", "две": "2", "три": "3", "четыре": "4", "девять": "9",
        "звёздочка": "*", "звездочка": "*", "звёздочку": "*", "звездочку": "*", "ждать": "*", "подожду": "*",
    },
    "fr": {
        "un": "1", "une": "1", "deux": "2", "trois": "3", "quatre": "4", "neuf": "9",
        "étoile": "*", "attendre": "*", "patienter": "*",
    },
}  # fmt: skip


def spoken_key(speech: str | None, language: str) -> str:
    """The key a spoken answer names, or "" when it names none."""
    words = WORDS[language_code(language)]
    for token in re.findall(r"[\w*]+", (speech or "").lower()):
        if token in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*"):
            return str(token)
        if token in words:
            return words[token]
    return ""

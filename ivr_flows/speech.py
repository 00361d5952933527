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
    words = WORDS.get(language_code(language), {})  # a language without words: digits still count
    for token in re.findall(r"[\w*]+", (speech or "").lower()):
        if token in ("1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "*"):
            return str(token)
        if token in words:
            return words[token]
    return ""


# --- a phone number said aloud -------------------------------------------------------
#
# Recognisers mostly write digits ("07700 900123"), but may spell words: "oh seven seven
# double oh", French pairs ("zéro six, douze, soixante-dix-huit"), Russian groups
# ("восемь девятьсот шестнадцать"). Each word is a value of a kind: a digit (unit), 10-19
# (teen), a multiple of ten (tens) or of a hundred (hundreds); a group of tens or hundreds
# takes the smaller words after it ("seventy" + "eight" = 78) and is written with as many
# digits as it spans (zero-padded: "oh seven" stays 0 then 7, "cent deux" is 102).

_UNIT, _TEEN, _TENS, _HUNDREDS = "unit", "teen", "tens", "hundreds"


def _words(kind: str, first: int, step: int, words: str) -> dict[str, tuple[str, int]]:
    return {word: (kind, first + step * i) for i, word in enumerate(words.split())}


_NUMBER_WORDS: dict[str, dict[str, tuple[str, int]]] = {
    "en": {
        **_words(_UNIT, 0, 1, "zero one two three four five six seven eight nine"),
        **_words(_UNIT, 0, 0, "oh o nought nil"),
        **_words(_TEEN, 10, 1, "ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen"),
        **_words(_TENS, 20, 10, "twenty thirty forty fifty sixty seventy eighty ninety"),
    },
    "fr": {
        **_words(_UNIT, 0, 1, "zéro un deux trois quatre cinq six sept huit neuf"),
        "zero": (_UNIT, 0),
        "une": (_UNIT, 1),
        **_words(_TEEN, 10, 1, "dix onze douze treize quatorze quinze seize"),
        **_words(_TENS, 20, 10, "vingt trente quarante cinquante soixante septante huitante nonante"),
        "vingts": (_TENS, 20),
        "octante": (_TENS, 80),
        "cent": (_HUNDREDS, 100),
        "cents": (_HUNDREDS, 100),
    },
    "ru": {
        **_words(_UNIT, 0, 1, "ноль один два три четыре пять шесть семь восемь девять"),
        "нуль": (_UNIT, 0),
        "одна": (_UNIT, 1),
        "две": (_UNIT, 2),
        **_words(
            _TEEN,
            10,
            1,
            "десять одиннадцать двенадцать тринадцать четырнадцать пятнадцать шестнадцать семнадцать"
            " восемнадцать девятнадцать",
        ),
        **_words(_TENS, 20, 10, "двадцать тридцать сорок пятьдесят шестьдесят семьдесят восемьдесят девяносто"),
        **_words(_HUNDREDS, 100, 100, "сто двести триста четыреста пятьсот шестьсот семьсот восемьсот девятьсот"),
    },
}

_REPEAT_WORDS: dict[str, dict[str, int]] = {
    "en": {"double": 2, "triple": 3, "treble": 3},
    "fr": {"double": 2, "triple": 3},
    "ru": {},
}
_HUNDRED_WORDS = frozenset({"hundred"})  # "seven hundred": multiplies the digit said before it
_PLUS_WORDS = frozenset({"plus", "плюс"})
# Words we cannot turn into digits faithfully: better to ask again than to guess.
_REFUSED = re.compile(r"^(thousand|million|mille|millions?|тысяч\w*|миллион\w*)$")


def spoken_phone_digits(speech: str | None, language: str) -> str:
    """The digits of a phone number said aloud ("+" first when "plus" or "+" leads), or ""
    when the answer holds none, or holds words we cannot read as digits. Other words
    ("my number is", "please") are ignored: the number is read back for confirmation."""
    code = language_code(language)
    words = _NUMBER_WORDS.get(code, {})
    repeats = _REPEAT_WORDS.get(code, {})
    out: list[str] = []
    group: list[int] | None = None  # [value, width, kind of its smallest part so far]
    kinds = (_UNIT, _TEEN, _TENS, _HUNDREDS)
    repeat = 1

    def flush() -> None:
        nonlocal group
        if group is not None:
            out.append(str(group[0]).zfill(group[1]))
            group = None

    for token in re.findall(r"\+|\d+|[^\W\d_]+|[,.;]", (speech or "").lower()):
        if token in ",.;":  # a pause the recogniser wrote down: "quatre-vingts, dix-sept" is 80 17
            flush()
            continue
        if _REFUSED.match(token):
            return ""
        if token == "+" or token in _PLUS_WORDS:
            if not out and group is None:
                out.append("+")
            continue
        if token.isdigit():
            flush()
            out.append(token * repeat)
            repeat = 1
            continue
        if token in repeats:
            flush()
            repeat = repeats[token]
            continue
        if token in _HUNDRED_WORDS or (code == "fr" and token in ("cent", "cents")):
            if group is not None and kinds[group[2]] == _UNIT and group[1] == 1 and group[0] > 0:
                group = [group[0] * 100, 3, kinds.index(_HUNDREDS)]
                if code == "en":  # "nine hundred, one two three": a British 900, then 1 2 3
                    flush()
                continue
            if code == "fr":
                flush()
                group = [100, 3, kinds.index(_HUNDREDS)]
                continue
            return ""
        found = words.get(token)
        if found is None:
            continue  # a filler word
        kind, value = found
        if repeat > 1 and kind == _UNIT:
            flush()
            out.append(str(value) * repeat)
            repeat = 1
            continue
        repeat = 1
        if group is not None and _joins(code, group, kind, value):
            group[0] += value
            group[2] = kinds.index(kind)
            continue
        if code == "fr" and token.startswith("vingt") and group is not None and group[:2] == [4, 1]:
            group = [80, 2, kinds.index(_TENS)]  # quatre-vingt(s)
            continue
        flush()
        width = {_UNIT: 1, _TEEN: 2, _TENS: 2, _HUNDREDS: 3}[kind]
        group = [value, width, kinds.index(kind)]
    flush()
    digits = "".join(out)
    return digits if digits.strip("+") else ""


def _joins(code: str, group: list[int], kind: str, value: int) -> bool:
    """Whether a word adds to the group before it: "seventy" + "eight", "девятьсот" +
    "шестнадцать", French "soixante" + "dix" + "sept"."""
    last = (_UNIT, _TEEN, _TENS, _HUNDREDS)[group[2]]
    total = group[0]
    if last == _HUNDREDS:
        return kind in (_UNIT, _TEEN, _TENS) and value > 0
    if last == _TENS and total % 10 == 0:
        if kind == _UNIT:
            return value > 0
        # French counts on from sixty and eighty: soixante-dix (70), quatre-vingt-onze (91);
        # "dix" is a teen of value 10 here, and 17-19 are "dix-sept"... (dix then a unit).
        return code == "fr" and kind == _TEEN and total % 100 in (60, 80)
    if last == _TEEN and code == "fr" and total % 100 in (10, 70, 90) and total % 10 == 0:
        return kind == _UNIT and value >= 7  # dix-sept, soixante-dix-huit, quatre-vingt-dix-neuf
    return False

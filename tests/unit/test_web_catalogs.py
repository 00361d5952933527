"""The booking page's words: every one it says is translated into Russian and French,
with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from web_widget.booking_page import CATALOGS, ERROR_TEXT, PART_TEXT

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
PLURAL_SAID = ("%(num)d time", "%(num)d times")  # web_widget/booking_page.py, times_count
TEMPLATES = Path(__file__).parents[2] / "web_widget" / "templates"


def said() -> set[str]:
    found = set(ERROR_TEXT.values()) | set(PART_TEXT.values())
    for template in TEMPLATES.glob("book*.html"):
        found |= set(re.findall(r'_\("([^"]+)"\)', template.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_every_word_of_the_page_is_translated(language: str) -> None:
    with CATALOGS.path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    singular = {m.id: m.string for m in catalog if isinstance(m.id, str) and m.id and not m.fuzzy}
    assert said() <= set(singular), said() - set(singular)
    for msgid, msgstr in singular.items():
        assert msgstr and PLACEHOLDER.findall(msgstr) == PLACEHOLDER.findall(msgid), msgid
    # Plural messages: every form the language has (Babel's rules), each with the placeholders.
    plurals = {m.id: m.string for m in catalog if isinstance(m.id, tuple) and not m.fuzzy}
    assert set(plurals) == {PLURAL_SAID}
    for (one, _other), forms in plurals.items():
        assert len(forms) == catalog.num_plurals and all(forms), one
        assert all(PLACEHOLDER.findall(form) == PLACEHOLDER.findall(one) for form in forms), one


def test_the_count_of_times_follows_each_language_s_plural_rules() -> None:
    def count(n: int, language: str) -> str:
        return CATALOGS.ngettext(*PLURAL_SAID, n, language) % {"num": n}

    assert [count(n, "en") for n in (1, 2)] == ["1 time", "2 times"]
    assert [count(n, "ru") for n in (1, 3, 5, 21)] == ["1 вариант", "3 варианта", "5 вариантов", "21 вариант"]
    assert [count(n, "fr") for n in (1, 2)] == ["1 horaire", "2 horaires"]


def test_a_language_without_a_catalog_is_english() -> None:
    assert CATALOGS.language_code("de-DE") == "en"
    assert CATALOGS.language_code("fr_CA") == "fr"
    assert CATALOGS.gettext("Book a callback", "ru") == "Заказать обратный звонок"

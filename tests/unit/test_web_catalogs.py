"""The booking page's words: every one it says is translated into Russian and French,
with the same placeholders."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from web_widget.booking_page import CATALOGS, ERROR_TEXT

TEMPLATES = Path(__file__).parents[2] / "web_widget" / "templates"


def said() -> set[str]:
    found = set(ERROR_TEXT.values())
    for template in TEMPLATES.glob("book*.html"):
        found |= set(re.findall(r'_\("([^"]+)"\)', template.read_text(encoding="utf-8")))
    return found


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_every_word_of_the_page_is_translated(language: str) -> None:
    with CATALOGS.path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    translated = {m.id: m.string for m in catalog if m.id and not m.fuzzy}
    assert said() <= set(translated), said() - set(translated)
    for msgid, msgstr in translated.items():
        assert msgstr and re.findall(r"%\(\w+\)s", msgstr) == re.findall(r"%\(\w+\)s", msgid), msgid


def test_a_language_without_a_catalog_is_english() -> None:
    assert CATALOGS.language_code("de-DE") == "en"
    assert CATALOGS.language_code("fr_CA") == "fr"
    assert CATALOGS.gettext("Book a callback", "ru") == "Заказать обратный звонок"

"""The console's words: every one in its views and templates is marked for translation
and translated into Russian and French, with the same placeholders and every plural form."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from console.i18n import CATALOGS

ROOT = Path(__file__).resolve().parents[2]
TEMPLATES = ROOT / "console" / "templates"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")
# Words a page may show untranslated: names, units and codes read alike in every language.
UNTRANSLATED = {"UTC", "HTTP", "CSV", "ECBT", "SMS", "IVR", "API", "URL", "ID", "ms", "ASA", "SLA", "JSON"}
# Attributes a person reads (or a screen reader says).
READ_ATTRIBUTES = {"title", "placeholder", "aria-label", "alt", "aria-description"}


def extracted() -> dict[str, str | None]:
    """What `make messages` extracts (babel-console.cfg): msgid -> msgid_plural."""
    with (ROOT / "babel-console.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[str, str | None] = {}
    for _file, _line, message, _comments, _context in extract_from_dir(
        ROOT, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        if isinstance(message, tuple):
            assert message[0] is not None
            found[message[0]] = message[1]
        else:
            found[message] = None
    return found


def test_the_views_and_templates_have_words_to_translate() -> None:
    found = extracted()
    assert "Sign in" in found and "Audit log" in found and len(found) > 300


@pytest.mark.parametrize("language", ["ru", "fr"])
def test_every_word_of_the_console_is_translated(language: str) -> None:
    with CATALOGS.path(language).open("rb") as po:
        catalog = read_po(po, locale=language)
    entries = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    missing = [msgid for msgid in extracted() if msgid not in entries or entries[msgid].fuzzy]
    assert not missing, missing
    for msgid, plural in extracted().items():
        message = entries[msgid]
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        if plural is None:
            assert isinstance(message.id, str), msgid
        else:
            assert isinstance(message.id, tuple) and len(strings) == catalog.num_plurals, msgid
        for form in strings:
            assert form, msgid
            assert sorted(PLACEHOLDER.findall(form)) == sorted(PLACEHOLDER.findall(msgid)), (msgid, form)


class _Words(HTMLParser):
    """The words a person reads in a template once its Jinja tags are taken out."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.words: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("style", "script"):
            self._skipping += 1
        for name, value in attrs:
            if name in READ_ATTRIBUTES or (name == "value" and tag == "input" and ("type", "submit") in attrs):
                self.words += re.findall(r"[^\W\d_]{2,}", value or "")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "script"):
            self._skipping -= 1

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.words += re.findall(r"[^\W\d_]{2,}", data)


def bare_words(template: str) -> list[str]:
    text = re.sub(r"\{#.*?#\}|\{%.*?%\}|\{\{.*?\}\}", " ", template, flags=re.S)
    parser = _Words()
    parser.feed(text)
    return [word for word in parser.words if word not in UNTRANSLATED]


@pytest.mark.parametrize("template", sorted(TEMPLATES.glob("*.html")), ids=lambda path: path.name)
def test_no_template_has_words_outside_the_translators(template: Path) -> None:
    assert bare_words(template.read_text(encoding="utf-8")) == []


def test_a_bare_word_is_found() -> None:
    assert bare_words('<h1>{{ _("Audit") }}</h1><p title="Hello">{{ x }} ms</p><style>a {}</style>') == ["Hello"]


def test_a_language_without_a_catalog_is_english() -> None:
    assert CATALOGS.language_code("de-DE") == "en"
    assert CATALOGS.gettext("Sign in", "fr") == "Se connecter"
    assert CATALOGS.gettext("Sign in", "ru") == "Войти"

"""The IVR's gettext catalogs: every prompt in the code is translated into every language,
with the same placeholders, and an untranslated prompt is said in English."""

from __future__ import annotations

import string
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po

from ivr_flows import i18n
from ivr_flows.callback_script import PROMPTS, VOICES, CallContext, menu, text, voice
from telephony.script import Gather, Say

ROOT = Path(__file__).resolve().parents[2]
TRANSLATED = ("ru", "fr")

MessageKey = tuple[str | None, str]  # (msgctxt, msgid)


def _extracted() -> dict[MessageKey, str | None]:
    """What `make messages` would extract from the code: (context, msgid) -> msgid_plural."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[MessageKey, str | None] = {}
    for _file, _line, message, _comments, context in extract_from_dir(
        ROOT / "ivr_flows", method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        if isinstance(message, tuple):
            singular, plural = message[0], message[1]
            assert singular is not None and plural is not None
            found[(context, singular)] = plural
        else:
            found[(context, message)] = None
    return found


def _read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as po:
        return read_po(po, locale=locale)


def _fields(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name is not None}


def _entries(catalog: Catalog) -> Iterator[tuple[MessageKey, tuple[str, ...], tuple[str, ...]]]:
    """(key, msgids, msgstrs) of every real entry (not the header)."""
    for message in catalog:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        yield (message.context, ids[0]), tuple(ids), tuple(s or "" for s in strings)


def test_the_code_has_prompts_to_translate() -> None:
    extracted = _extracted()
    assert (None, PROMPTS["greeting"]) in extracted
    assert len(extracted) >= len(PROMPTS)


@pytest.mark.parametrize("language", TRANSLATED)
def test_every_prompt_in_the_code_is_translated(language: str) -> None:
    catalog = _read(i18n.catalog_path(language), language)
    translated = {key: strings for key, _ids, strings in _entries(catalog)}
    fuzzy = {(m.context, m.id if isinstance(m.id, str) else m.id[0]) for m in catalog if m.id and m.fuzzy}
    missing = [key for key in _extracted() if key not in translated or not all(translated[key])]
    assert missing == [], f"{language}: untranslated (run `make messages`, then translate)"
    assert [key for key in _extracted() if key in fuzzy] == [], f"{language}: fuzzy entries need review"


@pytest.mark.parametrize("language", TRANSLATED)
def test_catalogs_hold_no_message_the_code_no_longer_says(language: str) -> None:
    stale = [key for key, _ids, _strings in _entries(_read(i18n.catalog_path(language), language))]
    assert sorted(set(stale) - set(_extracted()), key=str) == []


def test_the_template_matches_the_code() -> None:
    template = _read(i18n.LOCALES_DIR / "messages.pot")
    assert {key for key, _ids, _strings in _entries(template)} == set(_extracted()), "run `make messages`"


@pytest.mark.parametrize("language", TRANSLATED)
def test_translations_keep_the_placeholders(language: str) -> None:
    catalog = _read(i18n.catalog_path(language), language)
    for key, ids, strings in _entries(catalog):
        expected = set().union(*(_fields(msgid) for msgid in ids))
        for translated in strings:
            assert _fields(translated) == expected, f"{language} {key}: {translated!r}"


@pytest.mark.parametrize("language", TRANSLATED)
def test_plural_forms_are_cldr_plural_rules(language: str) -> None:
    catalog = _read(i18n.catalog_path(language), language)
    rule = get_plural(language)
    assert catalog.plural_forms == rule.plural_forms
    for _key, ids, strings in _entries(catalog):
        if len(ids) > 1:
            assert len(strings) == rule.num_plurals


def test_every_language_with_prompts_has_a_voice() -> None:
    assert set(i18n.available_languages()) == set(VOICES) == {"en", "ru", "fr"}


def test_prompts_are_said_in_the_queue_language() -> None:
    assert text("greeting", "en", company="Acme") == "Hello, this is Acme returning your call, as you asked."
    assert text("greeting", "ru", company="Acme") == "Здравствуйте, это Acme, мы перезваниваем вам, как вы просили."
    assert text("greeting", "fr", company="Acme") == "Bonjour, ici Acme, nous vous rappelons comme vous l'avez demandé."
    assert text("goodbye", "fr-FR") == "Au revoir."


def test_a_language_without_prompts_is_english_in_an_english_voice() -> None:
    assert text("goodbye", "de") == "Goodbye."
    assert voice("de") == "en-GB"
    assert voice("ru") == "ru-RU"


def test_the_menu_is_said_in_the_callers_language_and_voice() -> None:
    ctx = CallContext("Acme", "ru", "/menu/{step}", "/dial", "sim:agent", None, None)
    gather = menu(ctx, step=1).actions[0]
    assert isinstance(gather, Gather)
    says = [action for action in gather.prompt if isinstance(action, Say)]
    assert [say.language for say in says] == ["ru-RU", "ru-RU"]
    assert says[1].text.startswith("Чтобы соединиться с оператором, нажмите 1.")


def test_an_untranslated_or_fuzzy_prompt_falls_back_to_english(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    po = tmp_path / "ru" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Goodbye."\nmsgstr "До свидания."\n\n'
        '#, fuzzy\nmsgid "Thank you. Connecting you now."\nmsgstr "Спасибо?"\n\n'
        'msgid "Your callback is cancelled. Thank you, goodbye."\nmsgstr ""\n',
        encoding="utf-8",
    )
    monkeypatch.setattr(i18n.PROMPT_CATALOGS, "locales_dir", tmp_path)
    i18n.PROMPT_CATALOGS.clear()
    try:
        assert text("goodbye", "ru") == "До свидания."
        assert text("connecting", "ru") == "Thank you. Connecting you now."
        assert text("cancelled", "ru") == "Your callback is cancelled. Thank you, goodbye."
        assert text("goodbye", "fr") == "Goodbye."  # no French catalog here at all
    finally:
        monkeypatch.undo()
        i18n.PROMPT_CATALOGS.clear()

"""Translated prompts: gettext catalogs in ``ivr_flows/locales/<lang>/LC_MESSAGES/messages.po``.

The English text is the msgid, written in the code where it is used and found by
``pybabel extract`` (``make messages``). The ``.po`` files are read directly when a
language is first needed and compiled in memory: there is no ``.mo`` build step, so a
fresh clone, ``make run`` and CI all work without one, and no compiled file can go stale
behind its source. Fuzzy or empty entries are left out, so an untranslated prompt is
said in English.
"""

from __future__ import annotations

import functools
import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:
    """Marks a prompt for extraction where it is defined; it is translated where it is said."""
    return message


def catalog_path(language: str) -> Path:
    return LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po"


@functools.cache
def available_languages() -> frozenset[str]:
    """English (the source) and every language with a catalog."""
    found = {path.parent.parent.name for path in LOCALES_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return frozenset({SOURCE_LANGUAGE, *found})


def language_code(language: str | None) -> str:
    """``fr-FR``, ``fr_FR`` and ``FR`` are French; a language without a catalog is English,
    so that prompts, times and the voice all agree."""
    code = (language or "").replace("-", "_").split("_")[0].lower()
    return code if code in available_languages() else SOURCE_LANGUAGE


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The gettext object for a language, cached per process (a catalog is read once)."""
    code = language_code(language)
    if code == SOURCE_LANGUAGE:
        return gettext.NullTranslations()
    return load_po(catalog_path(code), code)


def load_po(path: Path, code: str) -> gettext.GNUTranslations:
    """A ``.po`` file compiled in memory (fuzzy entries left out): the one way catalogs are
    read, by the IVR's prompts here and by the SMS texts (``sms/texts.py``)."""
    with path.open("rb") as po:
        catalog = read_po(po, locale=code, domain=path.stem)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Catalogs:
    """One set of gettext catalogs (``<locales_dir>/<lang>/LC_MESSAGES/<domain>.po``), read
    at run time with ``load_po``: the IVR's prompts above, the SMS texts and the booking
    pages each have one."""

    def __init__(self, locales_dir: Path, domain: str) -> None:
        self.locales_dir = locales_dir
        self.domain = domain
        self._translations: dict[str, gettext.NullTranslations] = {}

    def path(self, language: str) -> Path:
        return self.locales_dir / language / "LC_MESSAGES" / f"{self.domain}.po"

    def language_code(self, language: str | None) -> str:
        """``fr-FR``, ``fr_FR`` and ``FR`` are French; a language without a catalog is English."""
        code = (language or "").replace("-", "_").split("_")[0].lower()
        return code if code == SOURCE_LANGUAGE or self.path(code).exists() else SOURCE_LANGUAGE

    def translations(self, language: str | None) -> gettext.NullTranslations:
        """Cached per process: a catalog is read once."""
        code = self.language_code(language)
        if code not in self._translations:
            self._translations[code] = (
                gettext.NullTranslations() if code == SOURCE_LANGUAGE else load_po(self.path(code), code)
            )
        return self._translations[code]

    def gettext(self, message: str, language: str | None) -> str:
        return self.translations(language).gettext(message)

    def clear(self) -> None:
        """Forget what was read (tests that edit a catalog)."""
        self._translations.clear()

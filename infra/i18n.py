"""Translations: gettext catalogs (``<locales>/<lang>/LC_MESSAGES/<domain>.po``) for the
IVR's prompts (ivr_flows/i18n.py), the SMS texts (sms/texts.py) and the booking page.

The English text is the msgid, written in the code where it is used and found by
``pybabel extract`` (``make messages``). The ``.po`` files are read directly when a
language is first needed and compiled in memory: there is no ``.mo`` build step, so a
fresh clone, ``make run`` and CI all work without one, and no compiled file can go stale
behind its source. Fuzzy or empty entries are left out, so an untranslated prompt is
said in English.
"""

from __future__ import annotations

import gettext
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

SOURCE_LANGUAGE = "en"


def N_(message: str) -> str:
    """Marks a prompt for extraction where it is defined; it is translated where it is said."""
    return message


def load_po(path: Path, code: str) -> gettext.GNUTranslations:
    """A ``.po`` file compiled in memory (fuzzy entries left out): the one way catalogs are
    read, for the IVR's prompts, the SMS texts and the booking page."""
    with path.open("rb") as po:
        catalog = read_po(po, locale=code, domain=path.stem)
    compiled = BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


class Catalogs:
    """One set of gettext catalogs (``<locales_dir>/<lang>/LC_MESSAGES/<domain>.po``), read
    at run time with ``load_po`` and cached per process: the IVR's prompts (ivr_flows/i18n.py), the
    SMS texts (sms/texts.py) and the booking page (web_widget/booking_page.py) each have one."""

    def __init__(self, locales_dir: Path, domain: str) -> None:
        self.locales_dir = locales_dir
        self.domain = domain
        self._available: frozenset[str] | None = None
        self._translations: dict[str, gettext.NullTranslations] = {}

    def path(self, language: str) -> Path:
        return self.locales_dir / language / "LC_MESSAGES" / f"{self.domain}.po"

    def available(self) -> frozenset[str]:
        """English (the source) and every language with a catalog here."""
        if self._available is None:
            found = {path.parent.parent.name for path in self.locales_dir.glob(f"*/LC_MESSAGES/{self.domain}.po")}
            self._available = frozenset({SOURCE_LANGUAGE, *found})
        return self._available

    def language_code(self, language: str | None) -> str:
        """``fr-FR``, ``fr_FR`` and ``FR`` are French; a language without a catalog is English."""
        code = (language or "").replace("-", "_").split("_")[0].lower()
        return code if code in self.available() else SOURCE_LANGUAGE

    def translations(self, language: str | None) -> gettext.NullTranslations:
        code = self.language_code(language)
        if code not in self._translations:
            self._translations[code] = (
                gettext.NullTranslations() if code == SOURCE_LANGUAGE else load_po(self.path(code), code)
            )
        return self._translations[code]

    def gettext(self, message: str, language: str | None) -> str:
        return self.translations(language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int, language: str | None) -> str:
        """The form for ``n`` by the language's plural rules (Babel's, for its catalog)."""
        return self.translations(language).ngettext(singular, plural, n)

    def clear(self) -> None:
        """Forget what was read (tests that point a set at other catalogs)."""
        self._available = None
        self._translations.clear()

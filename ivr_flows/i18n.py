"""The IVR's prompts in every language: gettext catalogs in
``ivr_flows/locales/<lang>/LC_MESSAGES/messages.po``, read by infra/i18n.py's ``Catalogs``
(``make messages`` extracts the prompts marked with ``N_`` into them)."""

from __future__ import annotations

import gettext
from pathlib import Path

from infra.i18n import Catalogs

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"


def catalog_path(language: str) -> Path:
    return PROMPT_CATALOGS.path(language)


def available_languages() -> frozenset[str]:
    """English (the source) and every language with a prompt catalog."""
    return PROMPT_CATALOGS.available()


def language_code(language: str | None) -> str:
    """``fr-FR``, ``fr_FR`` and ``FR`` are French; a language without a catalog is English,
    so that prompts, times and the voice all agree."""
    return PROMPT_CATALOGS.language_code(language)


def translations(language: str | None) -> gettext.NullTranslations:
    """The gettext object for a language, cached per process (a catalog is read once)."""
    return PROMPT_CATALOGS.translations(language)


PROMPT_CATALOGS = Catalogs(LOCALES_DIR, DOMAIN)

__all__ = ["PROMPT_CATALOGS", "available_languages", "catalog_path", "language_code", "translations"]

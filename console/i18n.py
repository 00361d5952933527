"""The console's language: English, Russian or French, like the IVR, the texts and the
booking page (one ``infra.i18n.Catalogs`` set, domain ``console``, in console/locales).

Which language a page is in: the one the user picked (``POST /console/language``, kept in
the ``console_lang`` cookie so it outlives signing out), else the browser's best
``Accept-Language`` match among the catalogs, else English.

In templates ``_("…")`` and ``ngettext(…)`` are the request's (a context processor); in
views ``_`` translates now and ``N_`` marks a text defined ahead (a form's messages) that
is translated where it is shown with ``_``. ``make messages`` extracts both (babel-console.cfg).
Dates and numbers go through Babel with ``locale()``.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from flask import g, has_request_context, request

from infra.i18n import N_, SOURCE_LANGUAGE, Catalogs

__all__ = ["CATALOGS", "COOKIE", "LANGUAGES", "N_", "_", "language", "ngettext"]

CATALOGS = Catalogs(Path(__file__).parent / "locales", "console")
COOKIE = "console_lang"
COOKIE_SECONDS = 365 * 24 * 3600
# The picker's choices, each named in its own language.
LANGUAGES = {"en": "English", "ru": "Русский", "fr": "Français"}
# The roles (services/accounts.py ROLES) as the console names them.
ROLE_NAMES = {
    "wallboard": N_("wallboard"),
    "viewer": N_("viewer"),
    "supervisor": N_("supervisor"),
    "admin": N_("admin"),
}


def language() -> str:
    """This request's console language (cached on ``g``); English outside a request."""
    if not has_request_context():
        return SOURCE_LANGUAGE
    chosen = g.get("console_language")
    if chosen is None:
        picked = request.cookies.get(COOKIE)
        if picked in LANGUAGES and picked in CATALOGS.available():
            chosen = picked
        else:
            best = request.accept_languages.best_match(sorted(CATALOGS.available()))
            chosen = CATALOGS.language_code(best)
        g.console_language = chosen
    return str(chosen)


def _(message: str, **values: Any) -> str:
    """``message`` in this request's language, with ``%(name)s`` filled from ``values``."""
    text = CATALOGS.gettext(message, language())
    return text % values if values else text


def ngettext(singular: str, plural: str, n: int, **values: Any) -> str:
    """The form for ``n`` by the language's plural rules; ``%(num)d`` is ``n``."""
    return CATALOGS.ngettext(singular, plural, n, language()) % {"num": n, **values}


def day(value: date, form: str = "EEE d MMM") -> str:
    """A day in words, in the console's language (``Mon 7 Dec``, ``пн 7 дек.``)."""
    return format_date(value, form, locale=language())


def moment(value: datetime, form: str = "medium") -> str:
    """A date and time in the console's language, in ``value``'s own zone."""
    return format_datetime(value, form, tzinfo=value.tzinfo, locale=language())


def number(value: float) -> str:
    return format_decimal(value, locale=language())


def role_name(role: str) -> str:
    return _(ROLE_NAMES[role]) if role in ROLE_NAMES else role


def template_globals() -> dict[str, Any]:
    """What every console template has: the translators and the language picker's state."""
    return {
        "_": _,
        "ngettext": ngettext,
        "day": day,
        "moment": moment,
        "number": number,
        "role_name": role_name,
        "console_language": language(),
        "console_languages": LANGUAGES,
    }

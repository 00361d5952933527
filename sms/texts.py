"""The texts we send, in the queue's language: gettext catalogs in
``sms/locales/<lang>/LC_MESSAGES/sms.po``, read at run time like the IVR's (``ivr_flows/i18n.py``).

English is the msgid. Placeholders: ``{name}`` the queue's name, ``{when}`` a time as
``format_when`` writes it, ``{link}`` a booking link, ``{options}`` the numbered times,
``{start}``/``{end}`` times of day.
Keywords a customer should reply are in capitals; English texts say CANCEL CALL, never a
bare CANCEL, because Twilio's default opt-out handling takes a bare CANCEL as STOP
(docs/sms.md). Every text stays within two segments (``sms/encoding.py``, tested).
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from babel.dates import format_datetime

from infra.i18n import N_, Catalogs
from scheduler.calendar import repeated_occurrence

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "sms"

CANCELLED = N_("Your callback on {when} is cancelled.")
ALSO_BOOKED = N_("You also have a callback on {when}. Reply CANCEL CALL to cancel it too.")
NOTHING_BOOKED = N_("You have no callback booked with {name}. Reply CALL ME to book one.")
RESCHEDULE_LINK = N_("Pick another time for your callback: {link} Reply CANCEL CALL to cancel it.")
BOOKING_LINK = N_("Book a callback with {name} here: {link}")
ALREADY_BOOKED = N_(
    "You already have a callback on {when}. Reply CANCEL CALL to cancel it or CHANGE to pick another time."
)
OFFER = N_("Reply 1, 2 or 3 to book a callback from {name}: {options}")
OFFER_AGAIN = N_("Sorry, that time has just been taken. Reply 1, 2 or 3 to book another: {options}")
NO_TIMES = N_("Sorry, {name} has no free time for a callback soon. Book here: {link}")
BOOKED = N_("Booked: {name} will call you on {when}. Reply CANCEL CALL to cancel or CHANGE for another time.")
REMINDER = N_("Reminder: {name} will call you on {when}. Reply CANCEL CALL to cancel or CHANGE for another time.")
# TRANSLATORS: a reminder shortly before the callback; {time} is the time of day, "14:45".
REMINDER_SOON = N_("{name} will call you soon, at {time}. Reply CANCEL CALL to cancel or CHANGE for another time.")
# TRANSLATORS: the confirmation of an "as soon as possible" callback: {start} and {end} are
# times of day ("10:38"), the range we said we would call in; {number} is the number we call from.
ASAP_BOOKED = N_("{name} will call you between {start} and {end} from {number}. Reply CANCEL CALL to cancel.")
HELP = N_("{name}: reply CALL ME to book a callback, CANCEL CALL to cancel it, CHANGE to move it, STOP to opt out.")
OPTED_OUT = N_("You will get no more texts from {name}. Reply START to get them again.")
OPTED_IN = N_("You will get texts from {name} again. Reply STOP to stop them.")
# The dialer's texts (services/dialer/call_reports.py). A rebooked callback is still booked, so its text says
# how to cancel or move it; after "unreachable" or a "choose another time" on the call
# the callback is over, and the link books a new one.
REBOOKED = N_(
    "Sorry we missed you. {name} will call you again on {when}. Reply CANCEL CALL to cancel or CHANGE for another time."
)
UNREACHABLE = N_("Sorry we could not reach you. Book another callback from {name} here: {link}")
CHOOSE_ANOTHER_TIME = N_("Choose another time for your callback from {name}: {link}")

ALL_TEXTS = (
    CANCELLED,
    ALSO_BOOKED,
    NOTHING_BOOKED,
    RESCHEDULE_LINK,
    BOOKING_LINK,
    ALREADY_BOOKED,
    OFFER,
    OFFER_AGAIN,
    NO_TIMES,
    BOOKED,
    REMINDER,
    REMINDER_SOON,
    ASAP_BOOKED,
    HELP,
    OPTED_OUT,
    OPTED_IN,
    REBOOKED,
    UNREACHABLE,
    CHOOSE_ANOTHER_TIME,
)


CATALOGS = Catalogs(LOCALES_DIR, DOMAIN)


def language_code(language: str | None) -> str:
    return CATALOGS.language_code(language)


def render(message: str, language: str | None, **values: str) -> str:
    return CATALOGS.gettext(message, language).format(**values)


def _zone_if_repeated(instant: datetime, zone: ZoneInfo) -> str:
    """ " BST" / " GMT" after a time the clock shows twice (fall back), to tell the two apart."""
    repeated = repeated_occurrence(instant, zone) is not None
    return f" {instant.astimezone(zone).tzname()}" if repeated else ""


def format_when(instant: datetime, zone: str, language: str | None) -> str:
    """A time in the queue's zone, short: "Mon 4 Jan 10:30", "пн 4 янв. 10:30"; each of the
    two times of the repeated hour with its zone, "Sun 31 Oct 01:30 BST"."""
    tz = ZoneInfo(zone)
    shown = format_datetime(instant.astimezone(tz), "EEE d MMM HH:mm", locale=language_code(language))
    return shown + _zone_if_repeated(instant, tz)


def format_time_of_day(instant: datetime, zone: str) -> str:
    """The time alone, 24-hour, in the queue's zone: "14:45" ("01:30 GMT" in the repeated hour)."""
    tz = ZoneInfo(zone)
    return instant.astimezone(tz).strftime("%H:%M") + _zone_if_repeated(instant, tz)


def format_options(starts: list[datetime], zone: str, language: str | None) -> str:
    return " ".join(f"{n}) {format_when(start, zone, language)}" for n, start in enumerate(starts, 1))

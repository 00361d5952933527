"""What an inbound text asks for. Pure: no database, no provider, no clock.

Tolerant of case, spacing, punctuation, accents and polite filler ("cancel please",
"Cancel.", "ARRÊT", "rappelez-moi svp"), in English, Russian and French. The opt-out
keywords follow the carriers' conventions (CTIA/Twilio/Vonage): the keyword is the whole
message, give or take punctuation and filler.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum


class Command(StrEnum):
    CANCEL = "cancel"
    CHANGE = "change"
    CALL_ME = "call_me"
    PICK = "pick"
    OPT_OUT = "opt_out"
    OPT_IN = "opt_in"
    HELP = "help"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class ParsedText:
    command: Command
    choice: int | None = None  # PICK: the number the customer replied with (1-based)
    keyword: str = ""  # the normalized words the command was recognized from


# Words that change nothing about what the customer asks for.
FILLER = frozenset(
    {
        *("please", "pls", "plz", "thanks", "thank", "you", "thx", "my", "the", "a", "an", "now", "ok", "okay"),
        *("пожалуйста", "пжл", "спасибо", "мой", "мне"),
        *("svp", "stp", "merci", "s", "il", "vous", "plait", "mon", "ma", "le", "la"),
    }
)

PHRASES: dict[str, Command] = {}
for _command, _phrases in (
    (
        Command.CANCEL,
        "cancel|cancel call|cancel callback|cancel the call|cancel it|отмена|отменить|отмените|annuler|annule|annulez",
    ),
    (Command.CHANGE, "change|change time|reschedule|another time|перенести|перенесите|changer|modifier"),
    (
        Command.CALL_ME,
        "call me|callback|call back|call me back|ring me|перезвоните|перезвонить|позвоните"
        "|rappelez moi|rappeler|rappel|appelez moi",
    ),
    (Command.OPT_OUT, "stop|stopall|stop all|unsubscribe|end|quit|revoke|optout|opt out|стоп|arret|arreter"),
    (Command.OPT_IN, "start|unstop|yes|старт"),
    (Command.HELP, "help|info|aide|помощь|справка"),
):
    for _phrase in _phrases.split("|"):
        PHRASES[_phrase] = _command

_PICK = re.compile(r"^\s*#?\s*([1-9])\s*[.!)]?\s*$")


def _strip_latin_accents(text: str) -> str:
    """Drop accents ("arrêt" -> "arret"), leaving Cyrillic whole (NFKD would split "й" into "и" + breve)."""
    out = []
    for char in text:
        if char < "\u0250":
            decomposed = unicodedata.normalize("NFKD", char)
            char = "".join(c for c in decomposed if not unicodedata.combining(c))
        out.append(char)
    return "".join(out)


def words(text: str) -> list[str]:
    """The message as lower-case words, punctuation dropped, filler removed."""
    cleaned = _strip_latin_accents(unicodedata.normalize("NFC", text).casefold()).replace("ё", "е")
    tokens = re.split(r"[^\w]+|_", cleaned)
    return [t for t in tokens if t and t not in FILLER]


def parse(text: str) -> ParsedText:
    pick = _PICK.match(text)
    if pick:
        return ParsedText(Command.PICK, choice=int(pick.group(1)), keyword=pick.group(1))
    phrase = " ".join(words(text))
    command = PHRASES.get(phrase)
    if command is None:
        return ParsedText(Command.UNKNOWN, keyword=phrase)
    return ParsedText(command, keyword=phrase)

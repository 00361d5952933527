"""Parsing inbound texts: tolerant of case, spacing, punctuation, accents and language."""

from __future__ import annotations

import pytest

from sms.commands import Command, parse


@pytest.mark.parametrize(
    ("text", "command"),
    [
        ("CANCEL", Command.CANCEL),
        ("cancel please", Command.CANCEL),
        ("Cancel.", Command.CANCEL),
        ("  cancel   call!! ", Command.CANCEL),
        ("ОТМЕНА", Command.CANCEL),
        ("Отмена, пожалуйста", Command.CANCEL),
        ("annuler svp", Command.CANCEL),
        ("Annuler s'il vous plaît", Command.CANCEL),
        ("CHANGE", Command.CHANGE),
        ("reschedule", Command.CHANGE),
        ("Перенести", Command.CHANGE),
        ("changer", Command.CHANGE),
        ("CALL ME", Command.CALL_ME),
        ("call me please", Command.CALL_ME),
        ("Callback", Command.CALL_ME),
        ("Перезвоните!", Command.CALL_ME),
        ("Rappelez-moi", Command.CALL_ME),
        ("rappelez moi svp", Command.CALL_ME),
        ("STOP", Command.OPT_OUT),
        ("stopall", Command.OPT_OUT),
        ("Unsubscribe", Command.OPT_OUT),
        ("end", Command.OPT_OUT),
        ("QUIT", Command.OPT_OUT),
        ("СТОП", Command.OPT_OUT),
        ("ARRET", Command.OPT_OUT),
        ("Arrêt", Command.OPT_OUT),
        ("START", Command.OPT_IN),
        ("unstop", Command.OPT_IN),
        ("yes", Command.OPT_IN),
        ("HELP", Command.HELP),
        ("aide", Command.HELP),
        ("ПОМОЩЬ", Command.HELP),
        ("what time is it?", Command.UNKNOWN),
        ("", Command.UNKNOWN),
        ("stop calling me at dinner", Command.UNKNOWN),
    ],
)
def test_commands_are_recognized_in_any_case_spacing_and_language(text: str, command: Command) -> None:
    assert parse(text).command is command


@pytest.mark.parametrize(("text", "choice"), [("2", 2), (" 1 ", 1), ("3.", 3), ("#2", 2)])
def test_a_digit_picks_an_offered_time(text: str, choice: int) -> None:
    parsed = parse(text)
    assert parsed.command is Command.PICK
    assert parsed.choice == choice


def test_a_number_that_is_not_one_digit_is_not_a_pick() -> None:
    assert parse("12").command is Command.UNKNOWN
    assert parse("0").command is Command.UNKNOWN

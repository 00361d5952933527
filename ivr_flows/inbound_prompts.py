"""The inbound IVR's prompts (ivr_flows/inbound.py says them): the catalogue of English
templates, marked for translation (``make messages``), which of them a queue may replace by
a recording, and ``text``, a prompt in a caller's language with its placeholders filled."""

from __future__ import annotations

import string

from infra.i18n import N_
from ivr_flows.i18n import translations

PROMPTS: dict[str, str] = {
    # TRANSLATORS: the first thing a caller to a queue's number hears.
    "welcome": N_("Thank you for calling {queue}."),
    "unknown_number": N_("Sorry, this number is not in service. Please check the number and call again. Goodbye."),
    # TRANSLATORS: {time} is a spoken slot time such as "tomorrow at half past ten".
    "existing": N_(
        "You have a callback booked for {time}. Press 1 to keep it, 2 to change it, 3 to cancel it and hold now."
    ),
    "existing_asap": N_(
        "You have asked us to call you back {wait}. Press 1 to keep it, 2 to choose a time instead,"
        " 3 to cancel it and hold now."
    ),
    "kept": N_("Your callback stays booked. Thank you, goodbye."),
    "cancelled_hold": N_("Your callback is cancelled."),
    # TRANSLATORS: {wait} completes the sentence, e.g. "in about 5 minutes".
    "wait": N_("An agent should be with you {wait}."),
    "offer": N_(
        "To be called back as soon as possible, keeping your place, press 1. To choose a time for a callback,"
        " press 2. To get a text with a link to choose a time, press 3. To keep holding, press star."
    ),
    "offer_closed": N_(
        "We are closed now. To choose a time for a callback, press 2. To get a text with a link to choose a time,"
        " press 3."
    ),
    "which_number": N_(
        "To be called back on the number you are calling from, press 1. To enter another number, press 2."
    ),
    "enter_number": N_("Please enter your phone number, then press the hash key."),
    "number_invalid": N_("Sorry, that number is not valid."),
    # TRANSLATORS: {number} is the phone number read digit by digit.
    "confirm_number": N_("You entered {number}. If that is right, press 1. To enter it again, press 2."),
    "slots_intro": N_("The next available times are:"),
    # TRANSLATORS: one choice in a list of times: "Press 1 for tomorrow at half past ten."
    "slot_choice": N_("Press {key} for {time}."),
    "slots_more": N_("For later times, press 4. To hear these again, press 9."),
    "no_more_slots": N_("There are no later times. Here are the first ones again."),
    "no_slots": N_("Sorry, there are no free times for a callback in the coming days."),
    "slot_taken": N_("Sorry, that time has just been taken by another caller."),
    # TRANSLATORS: {time} is a spoken slot time; {number} the number read digit by digit.
    "booked": N_("Thank you. We will call you back {time}, on {number}."),
    # TRANSLATORS: {wait} completes the sentence, e.g. "between 8 and 10 minutes from now".
    "booked_asap": N_("Thank you. You keep your place: we will call you back {wait}, on {number}."),
    "text_offer": N_("To get a text confirming this, press 1."),
    "texted_confirmation": N_("We have sent you a text. Goodbye."),
    # TRANSLATORS: a text message; {time} is written like "Monday 4 January 10:30".
    "confirmation_sms": N_(
        "Your callback from {queue} is booked for {time}. Reply CANCEL CALL to cancel or CHANGE for another time."
    ),
    # TRANSLATORS: a text message; {start} and {end} are clock times like "10:38".
    "confirmation_sms_asap": N_("{queue} will call you back between {start} and {end}. Reply CANCEL CALL to cancel."),
    "bye": N_("Goodbye."),
    "texted_link": N_("We have sent you a text with a link to choose a time. Goodbye."),
    "link_sms": N_("Choose a time for your callback from {queue}: {link}"),
    "connecting": N_("Please hold, we are putting you through."),
    # TRANSLATORS: said to a caller waiting in line whose call is the next to be answered.
    "next_in_line": N_("Your call is next in line."),
    "still_busy": N_("Sorry to keep you waiting: all our agents are still busy."),
    "callbacks_paused": N_("We are not taking callback requests at the moment."),
    "callbacks_busy": N_("We cannot offer a callback at the moment: too many callers are waiting for one."),
    "no_agents": N_("Sorry, nobody can take your call right now. Please call again later. Goodbye."),
    "not_understood": N_("Sorry, I did not get that."),
    "cannot_book": N_("Sorry, we could not book that callback."),
    "goodbye": N_("Thank you for calling. Goodbye."),
}


# Texts we send rather than say: never played from a recording.
TEXT_MESSAGES = frozenset({"confirmation_sms", "confirmation_sms_asap", "link_sms"})


def _placeholders(template: str) -> set[str]:
    return {name for _text, name, _spec, _conv in string.Formatter().parse(template) if name}


# The prompts a queue may have pre-recorded (``prompt_audio`` in its document): those said
# the same way on every call of the queue. The queue's own name is fixed, so "welcome" may
# be recorded; times, waits, numbers and keys change from call to call, so prompts that say
# them are always text-to-speech. "unknown_number" is said when no queue answers.
RECORDABLE_PROMPTS = frozenset(
    name
    for name, template in PROMPTS.items()
    if name not in TEXT_MESSAGES and name != "unknown_number" and _placeholders(template) <= {"queue"}
)


class PromptText(str):
    """A prompt as said, remembering which prompt it is (so that a queue's recording of it
    can be played instead)."""

    key: str

    def __new__(cls, value: str, key: str) -> PromptText:
        made = super().__new__(cls, value)
        made.key = key
        return made


def text(name: str, language: str, **values: str) -> PromptText:
    """A prompt in ``language`` (English when it has no translation), placeholders filled."""
    return PromptText(translations(language).gettext(PROMPTS[name]).format(**values), name)

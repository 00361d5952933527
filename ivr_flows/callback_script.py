"""The outbound callback call: greet, say it is the callback they asked for, and offer
1 = connect now, 2 = another time (a text with a link), 3 = cancel. Silence: repeat
once, then leave the voicemail text (if the queue has one) and hang up."""

from __future__ import annotations

from dataclasses import dataclass

from infra.i18n import N_
from ivr_flows.i18n import language_code, translations
from telephony.script import Connect, Gather, Hangup, Say, VoiceScript, script

VOICES = {"en": "en-GB", "ru": "ru-RU", "fr": "fr-FR"}

# The English prompts are the msgids of the catalogs in ivr_flows/locales (see i18n.py).
PROMPTS: dict[str, str] = {
    # TRANSLATORS: the first thing the customer hears when they pick up our callback.
    "greeting": N_("Hello, this is {company} returning your call, as you asked."),
    "menu": N_("To be connected to an agent now, press 1. For another time, press 2. To cancel, press 3."),
    "connecting": N_("Thank you. Connecting you now."),
    "no_agent": N_("Sorry, nobody is free to take your call right now. We will call you back shortly. Goodbye."),
    "texted_link": N_("We have sent you a text with a link to choose another time. Goodbye."),
    "cancelled": N_("Your callback is cancelled. Thank you, goodbye."),
    "goodbye": N_("Goodbye."),
    # TRANSLATORS: heard by the agent (agent-first calls) when they pick up; nobody is rung before they press 1.
    "agent_offer": N_("Callback for a customer who asked us to call them. To take it and ring them now, press 1."),
    # TRANSLATORS: heard by the agent (agent-first calls) once they took the callback, as the customer is rung.
    "agent_intro": N_("Callback for a customer who asked us to call them. Connecting now."),
}


@dataclass(frozen=True)
class CallContext:
    company: str
    language: str
    menu_url: str  # the gather action, with {step} to fill
    dial_url: str
    agent_target: str | None  # None: the queue names no agent and its provider has no stand-in
    caller_id: str | None
    voicemail_text: str | None


def text(key: str, language: str, **values: str) -> str:
    """A prompt in ``language`` (English when it has no translation), placeholders filled."""
    return translations(language).gettext(PROMPTS[key]).format(**values)


def voice(language: str) -> str:
    """The text-to-speech language for ``language``; English for a language we have no prompts in."""
    return VOICES.get(language_code(language), VOICES["en"])


def _t(ctx: CallContext, key: str) -> str:
    return text(key, ctx.language, company=ctx.company)


def _say(ctx: CallContext, spoken: str) -> Say:
    return Say(spoken, voice(ctx.language))


def menu(ctx: CallContext, step: int) -> VoiceScript:
    prompt = (
        (_say(ctx, _t(ctx, "greeting")), _say(ctx, _t(ctx, "menu"))) if step == 1 else (_say(ctx, _t(ctx, "menu")),)
    )
    # Answered by key or aloud ("one", "deux"): services/dialer/voice_answers.py reads speech with spoken_key.
    gather = Gather(
        prompt=prompt,
        action_url=ctx.menu_url.format(step=step),
        num_digits=1,
        timeout_seconds=6,
        speech=True,
        speech_language=voice(ctx.language),
    )
    return script(gather)


def connect(ctx: CallContext) -> VoiceScript:
    if ctx.agent_target is None:
        return no_agent(ctx)  # nowhere to put the call through (the queue's agent_target is unset)
    return script(
        _say(ctx, _t(ctx, "connecting")),
        Connect(ctx.agent_target, caller_id=ctx.caller_id, timeout_seconds=30, status_url=ctx.dial_url),
    )


def no_agent(ctx: CallContext) -> VoiceScript:
    return script(_say(ctx, _t(ctx, "no_agent")), Hangup())


def texted_link(ctx: CallContext) -> VoiceScript:
    return script(_say(ctx, _t(ctx, "texted_link")), Hangup())


def cancelled(ctx: CallContext) -> VoiceScript:
    return script(_say(ctx, _t(ctx, "cancelled")), Hangup())


def voicemail(ctx: CallContext) -> VoiceScript:
    """For a machine, or a person who never answered the menu: the queue's short message."""
    if ctx.voicemail_text:
        return script(_say(ctx, ctx.voicemail_text), Hangup())
    return script(Hangup())


def for_machine(language: str, voicemail_text: str | None, leave_message: bool) -> VoiceScript:
    """For an answering machine whose greeting ended (scheduler/machine.py decides): the
    queue's short message, then hang up; or hang up at once. Never the menu."""
    if leave_message and voicemail_text:
        return script(Say(voicemail_text, voice(language)), Hangup())
    return script(Hangup())


def goodbye(ctx: CallContext) -> VoiceScript:
    return script(_say(ctx, _t(ctx, "goodbye")), Hangup())


def agent_offer(ctx: CallContext, step: int) -> VoiceScript:
    """Agent-first: the agent who picked up is offered the callback; pressing 1 takes it
    (the agent is theirs, reserved before the customer is rung). Silence: once more."""
    gather = Gather(
        prompt=(_say(ctx, _t(ctx, "agent_offer")),),
        action_url=ctx.menu_url.format(step=step),
        num_digits=1,
        timeout_seconds=6,
        speech=True,
        speech_language=voice(ctx.language),
    )
    return script(gather)


def agent_intro(ctx: CallContext, customer: str) -> VoiceScript:
    """Agent-first, the agent took the callback: they hear so, then the customer is rung."""
    return script(
        _say(ctx, _t(ctx, "agent_intro")),
        Connect(customer, caller_id=ctx.caller_id, timeout_seconds=30, status_url=ctx.dial_url),
    )

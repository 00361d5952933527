"""The outbound callback call: greet, say it is the callback they asked for, and offer
1 = connect now, 2 = another time (a text with a link), 3 = cancel. Silence: repeat
once, then leave the voicemail text (if the queue has one) and hang up."""

from __future__ import annotations

from dataclasses import dataclass

from telephony.script import Connect, Gather, Hangup, Say, VoiceScript, script

VOICES = {"en": "en-GB", "ru": "ru-RU", "fr": "fr-FR"}

TEXTS: dict[str, dict[str, str]] = {
    "en": {
        "greeting": "Hello, this is {company} returning your call, as you asked.",
        "menu": "To be connected to an agent now, press 1. For another time, press 2. To cancel, press 3.",
        "connecting": "Thank you. Connecting you now.",
        "no_agent": "Sorry, nobody is free to take your call right now. We will call you back shortly. Goodbye.",
        "texted_link": "We have sent you a text with a link to choose another time. Goodbye.",
        "cancelled": "Your callback is cancelled. Thank you, goodbye.",
        "goodbye": "Goodbye.",
        "agent_intro": "Callback for a customer who asked us to call them. Connecting now.",
    },
    "ru": {
        "greeting": "Здравствуйте, это {company}, мы перезваниваем вам, как вы просили.",
        "menu": "Чтобы соединиться с оператором, нажмите 1. Чтобы выбрать другое время, нажмите 2. "
        "Чтобы отменить звонок, нажмите 3.",
        "connecting": "Спасибо. Соединяем.",
        "no_agent": "К сожалению, сейчас все операторы заняты. Мы скоро перезвоним вам. До свидания.",
        "texted_link": "Мы отправили вам СМС со ссылкой, чтобы выбрать другое время. До свидания.",
        "cancelled": "Обратный звонок отменён. Спасибо, до свидания.",
        "goodbye": "До свидания.",
        "agent_intro": "Обратный звонок клиенту, который просил перезвонить. Соединяем.",
    },
    "fr": {
        "greeting": "Bonjour, ici {company}, nous vous rappelons comme vous l'avez demandé.",
        "menu": "Pour parler à un conseiller maintenant, tapez 1. Pour un autre moment, tapez 2. "
        "Pour annuler, tapez 3.",
        "connecting": "Merci. Nous vous mettons en relation.",
        "no_agent": "Désolés, aucun conseiller n'est disponible pour le moment. "
        "Nous vous rappelons bientôt. Au revoir.",
        "texted_link": "Nous vous avons envoyé un SMS avec un lien pour choisir un autre moment. Au revoir.",
        "cancelled": "Votre rappel est annulé. Merci, au revoir.",
        "goodbye": "Au revoir.",
        "agent_intro": "Rappel d'un client qui nous a demandé de le rappeler. Mise en relation.",
    },
}


@dataclass(frozen=True)
class CallContext:
    company: str
    language: str
    menu_url: str  # the gather action, with {step} to fill
    dial_url: str
    agent_target: str
    caller_id: str | None
    voicemail_text: str | None


def _t(ctx: CallContext, key: str) -> str:
    return TEXTS.get(ctx.language, TEXTS["en"])[key].format(company=ctx.company)


def _say(ctx: CallContext, text: str) -> Say:
    return Say(text, VOICES.get(ctx.language, "en-GB"))


def menu(ctx: CallContext, step: int) -> VoiceScript:
    prompt = (
        (_say(ctx, _t(ctx, "greeting")), _say(ctx, _t(ctx, "menu"))) if step == 1 else (_say(ctx, _t(ctx, "menu")),)
    )
    return script(Gather(prompt=prompt, action_url=ctx.menu_url.format(step=step), num_digits=1, timeout_seconds=6))


def connect(ctx: CallContext) -> VoiceScript:
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


def goodbye(ctx: CallContext) -> VoiceScript:
    return script(_say(ctx, _t(ctx, "goodbye")), Hangup())


def agent_intro(ctx: CallContext, customer: str) -> VoiceScript:
    """Agent-first: the agent hears that this is a callback, then the customer is rung."""
    return script(
        _say(ctx, _t(ctx, "agent_intro")),
        Connect(customer, caller_id=ctx.caller_id, timeout_seconds=30, status_url=ctx.dial_url),
    )

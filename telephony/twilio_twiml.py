"""Rendering the provider-neutral call script as TwiML (Say, Play, Pause, Gather, Dial,
Enqueue), for twilio_adapter.py."""

from __future__ import annotations

import re
from typing import Any, Final

from scheduler.phone import mask_phone
from telephony.script import Connect, Enqueue, Gather, Pause, Play, Say

_E164: Final = re.compile(r"^\+[1-9]\d{1,14}$")


# --- TwiML ------------------------------------------------------------------------


def _add_prompt(parent: Any, action: Say | Play | Pause) -> None:
    if isinstance(action, Say):
        parent.say(action.text, language=action.language)
    elif isinstance(action, Play):
        parent.play(action.url)
    else:
        parent.pause(length=action.seconds)


def _add_gather(response: Any, action: Gather) -> None:
    gather = response.gather(
        input="dtmf speech" if action.speech else "dtmf",
        num_digits=action.num_digits,
        action=action.action_url,
        method="POST",
        timeout=action.timeout_seconds,
        # Without it Twilio skips the action URL when nothing was pressed and runs
        # the next verb instead; the script promises the action URL hears "nothing".
        action_on_empty_result=True,
        language=action.speech_language if action.speech else None,
    )
    for prompt in action.prompt:
        _add_prompt(gather, prompt)


def _add_dial(response: Any, action: Connect) -> None:
    # With an action URL, Twilio asks it what to do when the Dial ends (DialCallStatus,
    # DialCallSid, DialCallDuration) and runs no verb after the Dial in this script.
    dial = response.dial(
        caller_id=action.caller_id,
        timeout=action.timeout_seconds,
        action=action.status_url,
        method="POST" if action.status_url else None,
    )
    target = action.target.strip()
    if target.startswith("queue:"):
        name = target.removeprefix("queue:").strip()
        if not name:
            raise ValueError("Connect target 'queue:' has no queue name")
        # <Dial><Queue> bridges to the member at the head of that Twilio queue.
        dial.queue(name)
    elif target.startswith(("sip:", "sips:")):
        dial.sip(target, **_answered_report(action))
    else:
        number = target.removeprefix("tel:")
        if not _E164.match(number):
            raise ValueError(f"Connect target {mask_phone(number)!r} is not +E.164, tel:, sip: or queue:")
        dial.number(number, **_answered_report(action))


def _answered_report(action: Connect) -> dict[str, str]:
    """The agent's leg reports when it is answered, to the same status URL (its CallSid
    is the agent's leg, ParentCallSid the call we bridge): so that we know an agent took
    the call at once, not only when the bridge ends (twilio_adapter.parse_dial_result)."""
    if not action.status_url:
        return {}
    return {"status_callback_event": "answered", "status_callback": action.status_url, "status_callback_method": "POST"}


def _add_enqueue(response: Any, action: Enqueue) -> None:
    # Twilio creates the queue on first use. It POSTs QueuePosition, QueueTime, AvgQueueTime
    # and CurrentQueueSize to the wait URL while the caller waits, and QueueResult (leave,
    # bridged, hangup, queue-full, error, ...) to the action URL once they are out of it.
    response.enqueue(
        action.name, action=action.action_url, method="POST", wait_url=action.wait_url, wait_url_method="POST"
    )

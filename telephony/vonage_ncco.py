"""Rendering the provider-neutral call script as a Vonage NCCO (the list of actions Vonage runs)."""

from __future__ import annotations

from typing import Any, Final

# The model classes come from vonage_voice.models.* (not vonage_utils.types, whose Dtmf
# is a plain string type that shadows the NCCO input model of the same name).
from telephony.script import Connect, Enqueue, Gather, Hangup, Leave, Pause, Play, Say, VoiceScript
from telephony.vonage_documents import (
    _E164,
)

# Vonage's text-to-speech breaks last at most 10 s; longer pauses are several breaks.
_MAX_BREAK_SECONDS: Final = 10

# input.dtmf.timeOut is 0-10 s at Vonage; speech.startTimeout starts at 1 s.
_MAX_INPUT_TIMEOUT_SECONDS: Final = 10

_MAX_DTMF_DIGITS: Final = 20

# A near-silent action that ends an NCCO which would otherwise be empty: an empty
# answer to an input webhook may mean "carry on with the old NCCO" rather than "hang up".
_END_OF_CALL: Final[dict[str, Any]] = {"action": "talk", "text": '<speak><break time="100ms"/></speak>'}


# --- NCCO -----------------------------------------------------------------------------


def render_ncco(script: VoiceScript) -> list[dict[str, Any]]:
    """The NCCO for ``script`` as a list of action objects."""
    ncco: list[dict[str, Any]] = []
    connected = False
    for action in script.actions:
        if isinstance(action, Hangup):
            break  # an NCCO ends the call after its last action
        if connected:
            raise ValueError(f"Vonage cannot run {type(action).__name__} after Connect: end the script there")
        if isinstance(action, Say | Play | Pause):
            ncco.extend(_prompt(action))
        elif isinstance(action, Gather):
            ncco.extend(_gather(action))
        elif isinstance(action, Connect):
            ncco.append(_connect(action))
            connected = True
        elif isinstance(action, Enqueue | Leave):
            raise ValueError("Vonage has no provider-side queue to hold a caller in: hold with a Connect")
        else:  # pragma: no cover - the Action union is exhaustive
            raise ValueError(f"unknown script action {action!r}")
    return ncco or [dict(_END_OF_CALL)]


def _prompt(action: Say | Play | Pause) -> list[dict[str, Any]]:
    if isinstance(action, Say):
        return [{"action": "talk", "text": action.text, "language": action.language}]
    if isinstance(action, Play):
        return [{"action": "stream", "streamUrl": [action.url]}]
    if action.seconds <= 0:
        return []
    full, rest = divmod(action.seconds, _MAX_BREAK_SECONDS)
    breaks = [_MAX_BREAK_SECONDS] * full + ([rest] if rest else [])
    ssml = "".join(f'<break time="{seconds}s"/>' for seconds in breaks)
    return [{"action": "talk", "text": f"<speak>{ssml}</speak>"}]


def _gather(gather: Gather) -> list[dict[str, Any]]:
    if not 1 <= gather.num_digits <= _MAX_DTMF_DIGITS:
        raise ValueError(f"Vonage collects 1 to {_MAX_DTMF_DIGITS} digits, not {gather.num_digits}")
    prompts = [rendered for prompt in gather.prompt for rendered in _prompt(prompt)]
    if prompts:
        # Barge-in on the last prompt only: once set it stays on until an input, and
        # Vonage requires the next non-talk/stream action to be that input.
        prompts[-1]["bargeIn"] = True
    timeout = min(max(gather.timeout_seconds, 1), _MAX_INPUT_TIMEOUT_SECONDS)
    collect: dict[str, Any] = {
        "action": "input",
        "type": ["dtmf", "speech"] if gather.speech else ["dtmf"],
        "dtmf": {"maxDigits": gather.num_digits, "timeOut": timeout, "submitOnHash": True},
        "eventUrl": [gather.action_url],
        "eventMethod": "POST",
    }
    if gather.speech:
        collect["speech"] = {"language": gather.speech_language, "startTimeout": timeout}
    return [*prompts, collect]


def _connect(connect: Connect) -> dict[str, Any]:
    target = connect.target
    endpoint: dict[str, str]
    if target.startswith("queue:"):
        raise ValueError("Vonage has no provider-side queue: connect to a number or SIP address")
    if target.startswith(("sip:", "sips:")):
        endpoint = {"type": "sip", "uri": target}
    else:
        number = target.removeprefix("tel:")
        if not _E164.fullmatch(number):
            raise ValueError(f"Connect target {target!r} is neither +E.164, tel: nor sip:")
        endpoint = {"type": "phone", "number": number[1:]}
    action: dict[str, Any] = {"action": "connect", "timeout": connect.timeout_seconds, "endpoint": [endpoint]}
    if connect.caller_id:
        if not _E164.fullmatch(connect.caller_id):
            raise ValueError(f"Connect caller id {connect.caller_id!r} is not E.164")
        action["from"] = connect.caller_id[1:]
    if connect.status_url:
        action["eventUrl"] = [connect.status_url]
        action["eventMethod"] = "POST"
        # Only a synchronous connect lets the status_url answer an NCCO when the agent
        # leg fails (busy, timeout, ...), as Twilio runs what its <Dial action> answers.
        action["eventType"] = "synchronous"
    return action

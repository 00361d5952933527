"""An answering machine took a callback call and its verdict came as a call event
(asynchronous detection): take the call away from the human menu.

Two halves, because a provider is never called inside a database transaction: while a
report is applied (the attempt locked), ``plan_redirect`` decides by scheduler/machine.py
and marks the attempt handled (``machine_handled_at``, once: a verdict delivered twice,
or applied by two workers, plans one redirect); after the commit, ``redirect_calls`` asks
the provider to play the machine's script. A redirect that fails is logged and left: the
machine then hears the menu, whose silence rules end the call (menu, then voicemail)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from infra.models import Attempt
from ivr_flows import callback_script
from scheduler.lifecycle import ON_CALL_STATES
from scheduler.machine import MachineAction, act_on_verdict, machine_action
from telephony.base import AnsweredBy, CallEvent, ProviderError
from telephony.registry import Providers
from telephony.script import VoiceScript

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MachineRedirect:
    attempt_id: int
    callback_ref: str
    provider: str
    call_id: str
    action: MachineAction
    script: VoiceScript


def plan_redirect(attempt: Attempt, event: CallEvent, now: datetime) -> MachineRedirect | None:
    """The redirect a machine verdict calls for, the attempt (locked by the caller) marked
    handled; None when there is nothing (more) to do."""
    if event.answered_by is not AnsweredBy.MACHINE or attempt.outcome is not None or attempt.call_id is None:
        return None
    if attempt.agent_first or attempt.menu_choice is not None:
        return None  # the call rang an agent; or someone answered the menu: a person after all
    callback = attempt.callback
    if callback.state not in ON_CALL_STATES:
        return None
    queue = callback.queue
    action = act_on_verdict(
        machine_action(queue.machine_action, queue.voicemail_text),
        event.greeting_ended,
        already_handled=attempt.machine_handled_at is not None,
    )
    if action is None:
        return None
    attempt.machine_handled_at, attempt.machine_handling = now, action.value
    language = callback.locale or queue.language
    leave = action is MachineAction.LEAVE_MESSAGE
    return MachineRedirect(
        attempt.id,
        callback.ref,
        attempt.provider,
        attempt.call_id,
        action,
        callback_script.for_machine(language, queue.voicemail_text, leave),
    )


def redirect_calls(providers: Providers, redirects: Iterable[MachineRedirect]) -> None:
    """Ask each provider to play the machine's script (outside any transaction)."""
    for redirect in redirects:
        where = {"callback": redirect.callback_ref, "attempt": redirect.attempt_id, "provider": redirect.provider}
        try:
            providers.get(redirect.provider).redirect_call(redirect.call_id, redirect.script)
        except (ProviderError, LookupError) as error:
            log.warning(
                "callback %s: could not take call %s away from the menu (%s): %s",
                redirect.callback_ref,
                redirect.call_id,
                redirect.action.value,
                getattr(error, "message", error),
                extra=where,
            )
            continue
        log.info(
            "callback %s: answering machine: %s (call %s)",
            redirect.callback_ref,
            redirect.action.value,
            redirect.call_id,
            extra=where,
        )

"""An answering machine took a callback call and its verdict came as a call event
(asynchronous detection): take the call away from the human menu.

Two halves, because a provider is never called inside a database transaction: while a
report is applied (the attempt locked), ``plan_redirect`` decides by scheduler/machine.py
and marks the attempt handled (``machine_handled_at``, once: a verdict delivered twice,
or applied by two workers, plans one redirect); after the commit, ``redirect_calls`` asks
the provider to play the machine's script, and records that it took it
(``machine_redirected_at``). A redirect not taken (the provider refused or was out of
reach, or the worker died between the commit and the request) is retried by
``retry_redirects`` while the call goes on, ``RETRY_AFTER`` apart, ``MAX_TRIES`` in all;
past those, the machine hears the menu, whose silence rules end the call (menu, then
voicemail)."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update

from infra.clock import Clock
from infra.db import Database
from infra.models import Attempt, Callback
from ivr_flows import callback_script
from scheduler.lifecycle import ON_CALL_STATES
from scheduler.machine import MachineAction, act_on_verdict, machine_action
from telephony.base import AnsweredBy, CallEvent, ProviderError
from telephony.registry import Providers
from telephony.script import VoiceScript

log = logging.getLogger(__name__)

RETRY_AFTER = timedelta(seconds=20)  # a redirect not taken by then is asked again
MAX_TRIES = 3


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
    return _redirect_of(attempt, action)


def _redirect_of(attempt: Attempt, action: MachineAction) -> MachineRedirect:
    callback = attempt.callback
    queue = callback.queue
    assert attempt.call_id is not None
    leave = action is MachineAction.LEAVE_MESSAGE
    return MachineRedirect(
        attempt.id,
        callback.ref,
        attempt.provider,
        attempt.call_id,
        action,
        callback_script.for_machine(callback.locale or queue.language, queue.voicemail_text, leave),
    )


def retry_redirects(db: Database, providers: Providers, clock: Clock) -> int:
    """Ask again for the machine redirects no provider took (see the module's note); returns
    how many were asked. Each is claimed by moving its ``machine_handled_at`` on, so that
    of several workers one asks, and the next try waits ``RETRY_AFTER`` again."""
    now = clock.now()
    with db.write() as session:
        lost = session.scalars(
            select(Attempt)
            .join(Callback, Callback.id == Attempt.callback_id)
            .where(
                Attempt.machine_handled_at <= now - RETRY_AFTER,
                Attempt.machine_redirected_at.is_(None),
                Attempt.machine_redirect_tries < MAX_TRIES,
                Attempt.outcome.is_(None),
                Attempt.call_id.is_not(None),
                Callback.state.in_(ON_CALL_STATES),
            )
            .order_by(Attempt.id)
            .limit(50)
        ).all()
        redirects = []
        for attempt in lost:
            claimed = session.execute(
                update(Attempt)
                .where(Attempt.id == attempt.id, Attempt.machine_handled_at == attempt.machine_handled_at)
                .values(machine_handled_at=now)
                .execution_options(synchronize_session=False)
            )
            taken = claimed.rowcount == 1  # type: ignore[attr-defined]
            if taken and attempt.machine_handling is not None:
                redirects.append(_redirect_of(attempt, MachineAction(attempt.machine_handling)))
    redirect_calls(db, providers, redirects, now)
    return len(redirects)


def redirect_calls(db: Database, providers: Providers, redirects: Iterable[MachineRedirect], now: datetime) -> None:
    """Ask each provider to play the machine's script (outside any transaction); record
    which it took, and count a try for each it did not."""
    for redirect in redirects:
        where = {"callback": redirect.callback_ref, "attempt": redirect.attempt_id, "provider": redirect.provider}
        try:
            providers.get(redirect.provider).redirect_call(redirect.call_id, redirect.script)
        except (ProviderError, LookupError) as error:
            _record(db, redirect.attempt_id, taken_at=None)
            log.warning(
                "callback %s: could not take call %s away from the menu (%s), asked again in %d s: %s",
                redirect.callback_ref,
                redirect.call_id,
                redirect.action.value,
                RETRY_AFTER.total_seconds(),
                getattr(error, "message", error),
                extra=where,
            )
            continue
        _record(db, redirect.attempt_id, taken_at=now)
        log.info(
            "callback %s: answering machine: %s (call %s)",
            redirect.callback_ref,
            redirect.action.value,
            redirect.call_id,
            extra=where,
        )


def _record(db: Database, attempt_id: int, taken_at: datetime | None) -> None:
    with db.write() as session:
        session.execute(
            update(Attempt)
            .where(Attempt.id == attempt_id)
            .values(machine_redirected_at=taken_at, machine_redirect_tries=Attempt.machine_redirect_tries + 1)
            .execution_options(synchronize_session=False)
        )

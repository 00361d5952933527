"""Applying a life-cycle step to a stored callback: the pure rule decides, this records it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from events.outbox import emit_step_on_commit
from infra.logs import note_callback
from infra.models import Callback, CallbackEvent
from scheduler.errors import IllegalTransition
from scheduler.lifecycle import BOOKED, next_state

log = logging.getLogger(__name__)
# Free text a person typed: stored, not logged.
_UNLOGGED_REASONS = frozenset({"note"})


def step_event(
    step: str,
    from_state: str | None,
    now: datetime,
    actor: str,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The event row of a life-cycle step, the rule checked: the one place a step's row is
    made, whether ``apply_step`` writes it or a bulk statement does (the dialer's claim,
    the booking's write). ``from_state`` None is a new callback, whose step is "book".
    None for an idempotent repeat; ``IllegalTransition`` (or the step's own error) when
    the rule does not allow the step."""
    if from_state is None or step == "book":
        if from_state is not None or step != "book":
            raise IllegalTransition(f"{step} needs a callback that is {'new' if step == 'book' else 'stored'}", {})
        target = BOOKED
    else:
        moved = next_state(from_state, step)
        if moved is None:
            return None
        target = moved
    return {
        "step": step,
        "from_state": from_state,
        "to_state": target.value,
        "at": now,
        "actor": actor,
        "reason": reason,
        "payload": payload or {},
    }


def apply_step(
    session: Session,
    callback: Callback,
    step: str,
    now: datetime,
    actor: str,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
) -> bool:
    """Move ``callback`` by ``step`` and write its event. False (and nothing written) for an
    idempotent repeat; ``IllegalTransition`` (or the step's own error) when not allowed."""
    row = step_event(step, callback.state, now, actor, reason, payload)
    if row is None:
        return False
    _write_event(session, callback, row)
    callback.state = row["to_state"]
    callback.updated_at = now
    return True


def record_event(
    session: Session,
    callback: Callback,
    step: str,
    from_state: str | None,
    to_state: str,
    now: datetime,
    actor: str,
    reason: str | None = None,
    payload: dict[str, Any] | None = None,
) -> None:
    """An event in a callback's history that moves no state (a note, a dial-now request)."""
    row = {"step": step, "from_state": from_state, "to_state": to_state, "at": now, "actor": actor}
    _write_event(session, callback, row | {"reason": reason, "payload": payload or {}})


def _write_event(session: Session, callback: Callback, row: dict[str, Any]) -> None:
    step, reason = row["step"], row["reason"]
    note_callback(callback.ref)
    log.info(
        "callback %s: %s %s -> %s by %s%s",
        callback.ref,
        step,
        row["from_state"] or "-",
        row["to_state"],
        row["actor"],
        f" ({reason})" if reason and step not in _UNLOGGED_REASONS else "",
        extra={"callback": callback.ref},
    )
    session.add(CallbackEvent(callback=callback, **row))
    # The step's CRM event (if it is one), written when this transaction commits.
    emit_step_on_commit(
        session, callback, step, row["from_state"], row["to_state"], row["at"], row["actor"], reason, row["payload"]
    )

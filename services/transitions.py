"""Applying a life-cycle step to a stored callback: the pure rule decides, this records it."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from events.outbox import emit_step_on_commit
from infra.logs import note_callback
from infra.models import Callback, CallbackEvent
from scheduler.lifecycle import next_state

log = logging.getLogger(__name__)
# Free text a person typed: stored, not logged.
_UNLOGGED_REASONS = frozenset({"note"})


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
    target = next_state(callback.state, step)
    if target is None:
        return False
    record_event(session, callback, step, callback.state, target.value, now, actor, reason, payload)
    callback.state = target.value
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
    note_callback(callback.ref)
    log.info(
        "callback %s: %s %s -> %s by %s%s",
        callback.ref,
        step,
        from_state or "-",
        to_state,
        actor,
        f" ({reason})" if reason and step not in _UNLOGGED_REASONS else "",
        extra={"callback": callback.ref},
    )
    session.add(
        CallbackEvent(
            callback=callback,
            step=step,
            from_state=from_state,
            to_state=to_state,
            at=now,
            actor=actor,
            reason=reason,
            payload=payload or {},
        )
    )
    # The step's CRM event (if it is one), written when this transaction commits.
    emit_step_on_commit(session, callback, step, from_state, to_state, now, actor, reason, payload or {})

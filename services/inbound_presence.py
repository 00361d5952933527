"""Who is on an inbound call with us now (infra/inbound_models.py): noted at each inbound
webhook, ended by the provider's report of the call's end or by a script that hangs up,
and read by the dialer, which never rings a number that is on the line with us (in the
IVR, holding, or with an agent): services/dialer/claims.py postpones it.

Any web process may note any call: one statement per webhook (INSERT … ON CONFLICT DO
UPDATE on the provider's call id), on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Exists, Table, and_, delete, exists, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql._typing import ColumnExpressionArgument

from infra.db import upsert_into
from infra.inbound_models import InboundCall
from scheduler.presence import ENDED, Presence, holding, in_ivr, in_queue
from telephony.script import Connect, Enqueue, Gather, Hangup, Leave, VoiceScript


def after_script(script: VoiceScript, now: datetime, *, queued: bool = False) -> Presence:
    """Where the caller is once ``script`` plays: ringing the agents, waiting in the
    provider's queue, still in the IVR, or gone. ``queued``: the script answers the queue's
    wait URL (or a menu played there), so the caller is still in that queue unless it leaves
    it or hangs up."""
    connect = next((a for a in script.actions if isinstance(a, Connect)), None)
    if connect is not None:
        return holding(now, connect.timeout_seconds)
    if any(isinstance(a, Enqueue) for a in script.actions):
        return in_queue(now)
    if any(isinstance(a, Leave) for a in script.actions):
        return in_ivr(now)  # out of the queue: its action URL comes next
    if any(isinstance(a, Gather) for a in script.actions):
        return in_queue(now) if queued else in_ivr(now)
    if any(isinstance(a, Hangup) for a in script.actions):
        return ENDED
    return in_queue(now) if queued else in_ivr(now)  # nothing said: the provider carries on with its call


def note(
    session: Session, provider: str, call_id: str, phone: str | None, queue_id: int, presence: Presence, now: datetime
) -> None:
    """The call is (still) up at ``presence``'s stage, or ended. A caller whose number we
    could not read (withheld) is not noted: no callback of theirs can be rung by mistake."""
    if presence.until is None:
        end(session, provider, call_id, now)
        return
    if phone is None:
        return
    table: Table = InboundCall.__table__  # type: ignore[assignment]
    values = {
        "provider": provider,
        "call_id": call_id[:64],
        "phone": phone,
        "queue_id": queue_id,
        "stage": presence.stage,
        "started_at": now,
        "last_seen_at": now,
        "presumed_until": presence.until,
    }
    statement = upsert_into(session, table).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["provider", "call_id"],
            set_={name: statement.excluded[name] for name in ("stage", "last_seen_at", "presumed_until")},
            where=table.c.ended_at.is_(None),
        )
    )


def end(session: Session, provider: str, call_id: str, now: datetime) -> None:
    session.execute(
        update(InboundCall)
        .where(InboundCall.provider == provider, InboundCall.call_id == call_id[:64], InboundCall.ended_at.is_(None))
        .values(ended_at=now),
        execution_options={"synchronize_session": False},
    )


def on_the_line(phone: ColumnExpressionArgument[str], now: ColumnExpressionArgument[datetime]) -> Exists:
    """Whether ``phone`` is on an inbound call with us at ``now`` (for a query's WHERE)."""
    return exists(
        select(InboundCall.id).where(
            and_(InboundCall.phone == phone, InboundCall.ended_at.is_(None), InboundCall.presumed_until > now)
        )
    )


KEPT = timedelta(days=1)  # an inbound call's row (the caller's number) after it stopped counting


def forget_old(session: Session, now: datetime) -> int:
    """Inbound calls a day past their end, or past the time they were presumed up until."""
    gone = session.execute(
        delete(InboundCall).where(or_(InboundCall.ended_at < now - KEPT, InboundCall.presumed_until < now - KEPT)),
        execution_options={"synchronize_session": False},
    )
    return int(getattr(gone, "rowcount", 0) or 0)

"""A queue's live agent figures: stored as their source reports them (the push API, one
row per queue), read back as the staffing the wait estimate uses (scheduler/agents.py).

Reports from several web processes and sources may cross: one statement
(INSERT … ON CONFLICT DO UPDATE … WHERE the stored report is not newer) keeps the latest
by the time it was measured, on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Table
from sqlalchemy.orm import Session

from infra.db import upsert_into
from infra.models import AgentFigureReport, Queue
from scheduler.agents import AgentFigures, Staffing, staffing


def report(session: Session, queue: Queue, figures: AgentFigures, now: datetime) -> None:
    """Store ``figures`` unless a report measured later is stored (``latest`` reads what is)."""
    table: Table = AgentFigureReport.__table__  # type: ignore[assignment]
    values = {
        "queue_id": queue.id,
        "signed_in": figures.signed_in,
        "available": figures.available,
        "average_handle_seconds": figures.average_handle_seconds,
        "longest_wait_seconds": figures.longest_wait_seconds,
        "callers_waiting": figures.callers_waiting,
        "source": figures.source,
        "reported_at": figures.reported_at,
        "received_at": now,
    }
    statement = upsert_into(session, table).values(**values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=["queue_id"],
            set_={name: statement.excluded[name] for name in values if name != "queue_id"},
            where=table.c.reported_at <= statement.excluded.reported_at,
        )
    )


def latest(session: Session, queue: Queue) -> AgentFigures | None:
    row = session.get(AgentFigureReport, queue.id)
    return _figures(row) if row is not None else None


def _figures(row: AgentFigureReport) -> AgentFigures:
    return AgentFigures(
        signed_in=row.signed_in,
        available=row.available,
        average_handle_seconds=row.average_handle_seconds,
        longest_wait_seconds=row.longest_wait_seconds,
        reported_at=row.reported_at,
        source=row.source,
        callers_waiting=row.callers_waiting,
    )


def queue_staffing(session: Session, queue: Queue, now: datetime, max_age: timedelta) -> Staffing:
    """The live figures when fresh, else the queue's static staffing."""
    return staffing_of(queue, latest(session, queue), now, max_age)


def staffing_of(queue: Queue, figures: AgentFigures | None, now: datetime, max_age: timedelta) -> Staffing:
    """``figures`` (the queue's last report) when fresh, else the queue's static staffing."""
    return staffing(
        figures, now, max_age, static_agents=queue.agents, static_average_handle_seconds=queue.average_handle_seconds
    )

"""The switches for every queue at once (infra/models.CentreSwitches): a supervisor stops
taking new callbacks everywhere (an outage, a storm of calls) while the waiting ones are
still dialled, or stops the dialling everywhere while callbacks are still taken. They
add to each queue's own ``register_enabled``/``process_enabled``: a queue takes or dials
only while both are on. Every change is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from infra.audit import audit
from infra.models import CentreSwitches

ROW_ID = 1
AUDIT_TARGET = "all queues"


@dataclass(frozen=True)
class Switches:
    register_enabled: bool = True
    process_enabled: bool = True
    changed_at: datetime | None = None
    changed_by: str | None = None

    def as_dict(self) -> dict[str, bool]:
        return {"register_enabled": self.register_enabled, "process_enabled": self.process_enabled}


def current(session: Session) -> Switches:
    """The switches now; both on until someone first sets them."""
    row = session.get(CentreSwitches, ROW_ID)
    if row is None:
        return Switches()
    return Switches(row.register_enabled, row.process_enabled, row.changed_at, row.changed_by)


def change(session: Session, register_enabled: bool, process_enabled: bool, actor: str, now: datetime) -> Switches:
    """Set both switches (audited when either changes); returns them as stored. The row is
    locked while it changes, so that two supervisors' changes are both audited in turn."""
    row = session.get(CentreSwitches, ROW_ID, with_for_update=True)
    if row is None:
        row = CentreSwitches(id=ROW_ID, register_enabled=True, process_enabled=True)
        session.add(row)
    before = {"register_enabled": row.register_enabled, "process_enabled": row.process_enabled}
    after = {"register_enabled": register_enabled, "process_enabled": process_enabled}
    if after != before:
        row.register_enabled, row.process_enabled = register_enabled, process_enabled
        row.changed_at, row.changed_by = now, actor
        audit(session, actor, "centre_switches.update", AUDIT_TARGET, now, before=before, after=after)
    session.flush()
    return current(session)


def dialling_on() -> ColumnElement[bool]:
    """For the dialer's claim: true while the dialling of every queue is on (no row: on),
    read in the claim's own statement."""
    stored = select(CentreSwitches.process_enabled).where(CentreSwitches.id == ROW_ID).scalar_subquery()
    return func.coalesce(stored, True).is_(True)

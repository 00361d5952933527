"""The audit log: who changed what, with the values before and after, in the same
transaction as the change (the console shows it; docs/console.md)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from infra.account_models import AuditEntry


def audit(
    session: Session,
    actor: str,
    action: str,
    target: str,
    now: datetime,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> None:
    session.add(AuditEntry(at=now, actor=actor, action=action, target=target[:200], before=before, after=after))

"""Inbound calls in progress: who is on the line with us now (in the IVR, holding for an
agent, or talking to one), so that the dialer never rings a number that is on an inbound
call with us (services/inbound_presence.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from infra.models import Base, UTCDateTime


class InboundCall(Base):
    __tablename__ = "inbound_call"
    __table_args__ = (
        UniqueConstraint("provider", "call_id"),
        # The dialer's question: is this number on a call with us now?
        Index(
            "ix_inbound_call_live_phone",
            "phone",
            "presumed_until",
            sqlite_where=text("ended_at IS NULL"),
            postgresql_where=text("ended_at IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    provider: Mapped[str] = mapped_column(String(32))
    call_id: Mapped[str] = mapped_column(String(64))
    phone: Mapped[str] = mapped_column(String(20))  # the caller, E.164
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), index=True)
    stage: Mapped[str] = mapped_column(String(16))  # ivr | holding | with_agent
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # When we stop presuming the call is up without hearing of it again: the provider's
    # report of its end may never come (no status URL set on the number).
    presumed_until: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

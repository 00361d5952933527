"""The wallboard's history: a queue's estimated callback time, sampled over time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from infra.models import Base, UTCDateTime


class EcbtSample(Base):
    """A queue's ECBT (the wait an ASAP callback booked then would be told) at the start of
    a bucket of time. One row per queue and bucket: every worker offers its sample, the
    first insert wins and the others are ignored (services/wallboard.py)."""

    __tablename__ = "ecbt_sample"
    __table_args__ = (UniqueConstraint("queue_id", "bucket", name="uq_ecbt_sample_queue_bucket"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"))
    bucket: Mapped[datetime] = mapped_column(UTCDateTime, index=True)  # the bucket's start
    wait_seconds: Mapped[int] = mapped_column(Integer)
    recorded_at: Mapped[datetime] = mapped_column(UTCDateTime)

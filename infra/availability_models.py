"""The queues' availability versions: a row per queue and stripe that database triggers
bump with every change to what the queue offers (migrations/versions/0039_availability_versions.py),
read by the API's kept slot lists (services/availability_cache.py)."""

from __future__ import annotations

from sqlalchemy import BigInteger, ForeignKey, SmallInteger
from sqlalchemy.orm import Mapped, mapped_column

from infra.models import Base


class AvailabilityVersion(Base):
    """How many times what a queue offers has changed, in stripes (a slot's id modulo 16;
    the sum over a queue's rows is its version): bumped by database triggers in the
    transaction that changes its slot rows or the queue's columns they depend on
    (migrations/versions/0039_availability_versions.py); the slot lists cached per
    process (services/availability_cache.py) are good while it holds."""

    __tablename__ = "availability_version"

    queue_id: Mapped[int] = mapped_column(ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True)
    stripe: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger, server_default="0")

"""The phone simulator's tables (its calls, its texts, the stand-in CRM's inbox and its
switches): the demo's own, beside the production schema of infra/models.py in the same
metadata, so that migrations create them too."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from infra.models import Base, UTCDateTime


class SimCall(Base):
    """A call placed through the built-in phone simulator, shown on /simulator."""

    __tablename__ = "sim_call"

    id: Mapped[int] = mapped_column(primary_key=True)
    call_id: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(8), default="out")  # "out": we call; "in": they dial a queue
    to: Mapped[str] = mapped_column(String(64))
    from_: Mapped[str] = mapped_column("from", String(64))
    answer_url: Mapped[str] = mapped_column(String(500))
    status_url: Mapped[str] = mapped_column(String(500))
    state: Mapped[str] = mapped_column(String(16))
    answered_by: Mapped[str | None] = mapped_column(String(16))
    script: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # An answering machine's recording: what was said after its beep; None before it (or a person).
    recording: Mapped[list[str] | None] = mapped_column(JSON)
    sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    agent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # when a (simulated) agent took it
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SimText(Base):
    """A text in the simulator's inbox (ours to the customer) or outbox (the customer's reply)."""

    __tablename__ = "sim_text"

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(64), unique=True)
    direction: Mapped[str] = mapped_column(String(8))  # "out" (to the customer), "in" (from them)
    to: Mapped[str] = mapped_column(String(64))
    from_: Mapped[str] = mapped_column("from", String(64))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SimCrmEvent(Base):
    """An event the simulator's stand-in CRM (``/simulator/crm``) received: what a real
    subscriber would get, whether its signature held, and what the stand-in answered."""

    __tablename__ = "sim_crm_event"

    id: Mapped[int] = mapped_column(primary_key=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime)
    event_id: Mapped[str | None] = mapped_column(String(64))
    type: Mapped[str | None] = mapped_column(String(40))
    callback_ref: Mapped[str | None] = mapped_column(String(16))
    signature_ok: Mapped[bool] = mapped_column(Boolean)
    answered: Mapped[int] = mapped_column(Integer)  # the HTTP status the stand-in answered
    body: Mapped[str] = mapped_column(Text)


class SimSwitch(Base):
    """A switch of the simulator shared by every web process (the stand-in CRM "down")."""

    __tablename__ = "sim_switch"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    on: Mapped[bool] = mapped_column(Boolean)

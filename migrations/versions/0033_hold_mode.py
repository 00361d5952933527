"""hold mode: a queue's holding callers may wait in a Twilio <Enqueue> queue; the IVR offer notes the callback booked

Revision ID: 0033_hold_mode
Revises: 0032_taskrouter_reservations
Create Date: 2026-12-07 12:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0033_hold_mode"
down_revision: str | None = "0032_taskrouter_reservations"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("hold_mode", sa.String(8), nullable=False, server_default="dial"))
        batch.add_column(sa.Column("twilio_queue", sa.String(64), nullable=True))
    with op.batch_alter_table("ivr_offer", recreate="never") as batch:
        batch.add_column(sa.Column("callback_ref", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ivr_offer", recreate="never") as batch:
        batch.drop_column("callback_ref")
    with op.batch_alter_table("queue", recreate="never") as batch:
        for column in ("twilio_queue", "hold_mode"):
            batch.drop_column(column)

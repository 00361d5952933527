"""inbound calls: a queue's inbound numbers and offer settings; simulated calls get a direction

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23 12:10:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("inbound_numbers", sa.JSON(), nullable=False, server_default=sa.text("'[]'")))
        batch_op.add_column(sa.Column("offer_at_entry", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch_op.add_column(sa.Column("offer_repeat_seconds", sa.Integer(), nullable=False, server_default="60"))
        batch_op.add_column(sa.Column("callers_waiting", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("agents", sa.Integer(), nullable=False, server_default="1"))
        batch_op.add_column(sa.Column("average_handle_seconds", sa.Integer(), nullable=False, server_default="300"))
    with op.batch_alter_table("sim_call", schema=None) as batch_op:
        batch_op.add_column(sa.Column("direction", sa.String(length=8), nullable=False, server_default="out"))


def downgrade() -> None:
    with op.batch_alter_table("sim_call", schema=None) as batch_op:
        batch_op.drop_column("direction")
    with op.batch_alter_table("queue", schema=None) as batch_op:
        batch_op.drop_column("average_handle_seconds")
        batch_op.drop_column("agents")
        batch_op.drop_column("callers_waiting")
        batch_op.drop_column("offer_repeat_seconds")
        batch_op.drop_column("offer_at_entry")
        batch_op.drop_column("inbound_numbers")

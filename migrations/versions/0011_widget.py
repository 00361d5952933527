"""widget: a queue's web widget settings (allowed origins, extra fields, tags, units, blocked numbers)

Revision ID: 0011_widget
Revises: 0010_sms_delivery
Create Date: 2026-11-23 16:45:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_widget"
down_revision: str | None = "0010_sms_delivery"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue") as batch:
        batch.add_column(sa.Column("widget", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("queue") as batch:
        batch.drop_column("widget")

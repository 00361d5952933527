"""a web booking keeps where the visitor came from (UTM values, referrer, landing page, session key)

Revision ID: 0036_callback_attribution
Revises: 0035_callers_waiting_figure
Create Date: 2026-12-07 20:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0036_callback_attribution"
down_revision: str | None = "0035_callers_waiting_figure"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback", recreate="never") as batch:
        batch.add_column(sa.Column("attribution", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback") as batch:
        batch.drop_column("attribution")

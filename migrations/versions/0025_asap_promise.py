"""ASAP promise: the estimated callback time range an ASAP callback's customer was told

Revision ID: 0025_asap_promise
Revises: 0024_simulated_agents
Create Date: 2026-12-07 09:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_asap_promise"
down_revision: str | None = "0024_simulated_agents"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback", recreate="never") as batch:
        batch.add_column(sa.Column("promised_from", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("promised_until", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("callback", recreate="never") as batch:
        batch.drop_column("promised_until")
        batch.drop_column("promised_from")

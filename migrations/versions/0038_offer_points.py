"""the IVR's offers keep where they were made and the wait a taken one spared the caller

Revision ID: 0038_offer_points
Revises: 0037_wallboard
Create Date: 2026-12-07 21:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0038_offer_points"
down_revision: str | None = "0037_wallboard"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ivr_offer", recreate="never") as batch:
        batch.add_column(sa.Column("offer_point", sa.String(8), nullable=True))
        batch.add_column(sa.Column("wait_avoided_seconds", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("ivr_offer") as batch:
        batch.drop_column("wait_avoided_seconds")
        batch.drop_column("offer_point")

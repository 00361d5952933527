"""machine redirects retried: when the provider took one, and how many tries

Revision ID: 0031_machine_redirect_retry
Revises: 0030_centre_switches
Create Date: 2026-12-07 11:50:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0031_machine_redirect_retry"
down_revision: str | None = "0030_centre_switches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.add_column(sa.Column("machine_redirected_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("machine_redirect_tries", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("attempt", recreate="never") as batch:
        batch.drop_column("machine_redirect_tries")
        batch.drop_column("machine_redirected_at")

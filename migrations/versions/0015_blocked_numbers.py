"""blocked numbers: numbers and prefixes no channel may book for, with the reason

Revision ID: 0015_blocked_numbers
Revises: 0014_reports
Create Date: 2026-11-23 17:20:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_blocked_numbers"
down_revision: str | None = "0014_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "blocked_number",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.String(length=200), nullable=False),
        sa.Column("created_by", sa.String(length=254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_blocked_number")),
        sa.UniqueConstraint("prefix", name=op.f("uq_blocked_number_prefix")),
    )


def downgrade() -> None:
    op.drop_table("blocked_number")

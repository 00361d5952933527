"""short links: short codes for signed booking links, used reschedule links

Revision ID: 0008_short_links
Revises: 0007_prompt_audio
Create Date: 2026-11-23 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_short_links"
down_revision: str | None = "0007_prompt_audio"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "short_link",
        sa.Column("code", sa.String(length=16), nullable=False),
        sa.Column("token", sa.Text(), nullable=False),
        sa.Column("queue_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("code", name=op.f("pk_short_link")),
    )
    op.create_index("ix_short_link_expires_at", "short_link", ["expires_at"])
    op.create_table(
        "used_link",
        sa.Column("nonce", sa.String(length=32), nullable=False),
        sa.Column("callback_ref", sa.String(length=16), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_used_link")),
    )
    op.create_index("ix_used_link_expires_at", "used_link", ["expires_at"])


def downgrade() -> None:
    op.drop_index("ix_used_link_expires_at", table_name="used_link")
    op.drop_table("used_link")
    op.drop_index("ix_short_link_expires_at", table_name="short_link")
    op.drop_table("short_link")

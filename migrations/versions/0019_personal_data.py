"""personal data: anonymisation mark, consent record, per-queue retention

Revision ID: 0019_personal_data
Revises: 0018_worker_heartbeat
Create Date: 2026-11-23 20:00:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019_personal_data"
down_revision: str | None = "0018_worker_heartbeat"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("callback", recreate="never") as batch:
        batch.add_column(sa.Column("sms_consent_channel", sa.String(16), nullable=True))
        batch.add_column(sa.Column("sms_consent_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("sms_consent_wording", sa.String(32), nullable=True))
        batch.add_column(sa.Column("anonymised_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "ix_callback_not_anonymised",
        "callback",
        ["queue_id", "updated_at"],
        sqlite_where=sa.text("anonymised_at IS NULL"),
        postgresql_where=sa.text("anonymised_at IS NULL"),
    )
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))


def downgrade() -> None:
    # ALTER TABLE … DROP COLUMN in place (SQLite 3.35+), never a copy of the table: with
    # foreign keys on, SQLite refuses to drop the old queue or callback table while rows
    # refer to it, so a copy-and-swap fails on any database that holds data.
    with op.batch_alter_table("queue", recreate="never") as batch:
        batch.drop_column("retention_days")
    op.drop_index("ix_callback_not_anonymised", table_name="callback")
    with op.batch_alter_table("callback", recreate="never") as batch:
        batch.drop_column("anonymised_at")
        batch.drop_column("sms_consent_wording")
        batch.drop_column("sms_consent_at")
        batch.drop_column("sms_consent_channel")

"""the live wallboard: ECBT samples per queue and bucket, and the read-only wallboard role

Revision ID: 0037_wallboard
Revises: 0036_callback_attribution
Create Date: 2026-12-07 20:40:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0037_wallboard"
down_revision: str | None = "0036_callback_attribution"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

ROLES_BEFORE = "role IN ('viewer', 'supervisor', 'admin')"
ROLES_AFTER = "role IN ('wallboard', 'viewer', 'supervisor', 'admin')"


def upgrade() -> None:
    op.create_table(
        "ecbt_sample",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("queue_id", sa.Integer(), nullable=False),
        sa.Column("bucket", sa.DateTime(timezone=True), nullable=False),
        sa.Column("wait_seconds", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["queue_id"], ["queue.id"], name=op.f("fk_ecbt_sample_queue_id_queue"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ecbt_sample")),
        sa.UniqueConstraint("queue_id", "bucket", name="uq_ecbt_sample_queue_bucket"),
    )
    op.create_index(op.f("ix_ecbt_sample_bucket"), "ecbt_sample", ["bucket"])
    # A check constraint is changed by copying the (small) table on SQLite.
    with op.batch_alter_table("console_user") as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), sa.text(ROLES_AFTER))


def downgrade() -> None:
    op.execute("DELETE FROM console_user WHERE role = 'wallboard'")
    with op.batch_alter_table("console_user") as batch:
        batch.drop_constraint(op.f("ck_console_user_role"), type_="check")
        batch.create_check_constraint(op.f("ck_console_user_role"), sa.text(ROLES_BEFORE))
    op.drop_index(op.f("ix_ecbt_sample_bucket"), table_name="ecbt_sample")
    op.drop_table("ecbt_sample")

"""prompt audio: a queue's pre-recorded prompts, played instead of text-to-speech

Revision ID: 0007_prompt_audio
Revises: 0006_sms_status
Create Date: 2026-11-23 16:30:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007_prompt_audio"
down_revision: str | None = "0006_sms_status"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prompt_audio", sa.JSON(), nullable=False, server_default=sa.text("'{}'")))


def downgrade() -> None:
    with op.batch_alter_table("queue", schema=None) as batch_op:
        batch_op.drop_column("prompt_audio")

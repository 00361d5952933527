"""a version per queue that every change to what it offers bumps, for the cached slot lists

Revision ID: 0039_availability_versions
Revises: 0038_offer_points
Create Date: 2026-12-08 00:00:00.000000

A queue's version is the sum of its ``availability_version`` rows, one per stripe (a
slot's id modulo STRIPES; the queue's own changes count in stripe 0), and goes up in the
same transaction as any change to a queue's slot rows (a seat taken or given back, a capacity, a slot made, moved, closed
or deleted) or to the queue's columns the slot list depends on. Database triggers do it,
so no code path that writes slots can forget it (services/availability_cache.py reads it).

The stripes keep concurrent bookings of different slots from queueing for one row at
their commits. On PostgreSQL the bump is a deferred constraint trigger: it runs at COMMIT,
after the transaction's other statements, so a version row is locked only for the commit itself
and never while the transaction waits for another lock (no deadlock with the worker's
slot sync, which locks the queue row before its slots); it is done by the committing
transaction, so a reader that reads the version before the slots can never cache a
slot list older than the version it holds. SQLite has one writer at a time: plain
triggers. A later migration that recreates ``slot`` or ``queue`` on SQLite (a batch
``recreate``) must create these triggers again.
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0039_availability_versions"
down_revision: str | None = "0038_offer_points"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STRIPES = 16
SLOT_COLUMNS = "booked, capacity, reserved, active, starts_at, ends_at, queue_id"
QUEUE_COLUMNS = "key, timezone, lead_minutes, horizon_days, asap_reserve_percent, slots_until"

POSTGRESQL = [
    f"""
    CREATE FUNCTION bump_availability_version() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        changed integer;
        part integer;
    BEGIN
        IF TG_TABLE_NAME = 'queue' THEN
            changed := NEW.id;
            part := 0;
        ELSIF TG_OP = 'DELETE' THEN
            changed := OLD.queue_id;
            part := OLD.id % {STRIPES};
        ELSE
            changed := NEW.queue_id;
            part := NEW.id % {STRIPES};
        END IF;
        INSERT INTO availability_version (queue_id, stripe, version)
            SELECT changed, part, 1 WHERE EXISTS (SELECT 1 FROM queue WHERE id = changed)
            ON CONFLICT (queue_id, stripe) DO UPDATE SET version = availability_version.version + 1;
        RETURN NULL;
    END $$
    """,
    f"""
    CREATE CONSTRAINT TRIGGER slot_availability_version
    AFTER INSERT OR DELETE OR UPDATE OF {SLOT_COLUMNS} ON slot
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_availability_version()
    """,
    f"""
    CREATE CONSTRAINT TRIGGER queue_availability_version
    AFTER UPDATE OF {QUEUE_COLUMNS} ON queue
    DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bump_availability_version()
    """,
]


def _sqlite_bump(row: str, stripe: str) -> str:
    return f"""
        INSERT OR IGNORE INTO availability_version (queue_id, stripe, version)
            SELECT {row}, {stripe}, 0 WHERE EXISTS (SELECT 1 FROM queue WHERE id = {row});
        UPDATE availability_version SET version = version + 1 WHERE queue_id = {row} AND stripe = {stripe};
    """


SQLITE = [
    f"""CREATE TRIGGER slot_inserted_availability AFTER INSERT ON slot
        BEGIN {_sqlite_bump("NEW.queue_id", f"NEW.id % {STRIPES}")} END""",
    f"""CREATE TRIGGER slot_deleted_availability AFTER DELETE ON slot
        BEGIN {_sqlite_bump("OLD.queue_id", f"OLD.id % {STRIPES}")} END""",
    f"""CREATE TRIGGER slot_updated_availability AFTER UPDATE OF {SLOT_COLUMNS} ON slot
        BEGIN {_sqlite_bump("NEW.queue_id", f"NEW.id % {STRIPES}")} {_sqlite_bump("OLD.queue_id", f"OLD.id % {STRIPES}")} END""",
    f"""CREATE TRIGGER queue_updated_availability AFTER UPDATE OF {QUEUE_COLUMNS} ON queue
        BEGIN {_sqlite_bump("NEW.id", "0")} END""",
]


def upgrade() -> None:
    op.create_table(
        "availability_version",
        sa.Column("queue_id", sa.Integer(), sa.ForeignKey("queue.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("stripe", sa.SmallInteger(), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False, server_default="0"),
    )
    statements = POSTGRESQL if op.get_bind().dialect.name == "postgresql" else SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER queue_availability_version ON queue")
        op.execute("DROP TRIGGER slot_availability_version ON slot")
        op.execute("DROP FUNCTION bump_availability_version()")
    else:
        for name in (
            "slot_inserted_availability",
            "slot_deleted_availability",
            "slot_updated_availability",
            "queue_updated_availability",
        ):
            op.execute(f"DROP TRIGGER {name}")
    op.drop_table("availability_version")

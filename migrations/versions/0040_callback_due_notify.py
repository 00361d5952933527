"""PostgreSQL tells the workers when a callback falls due (NOTIFY callback_due)

Revision ID: 0040_callback_due_notify
Revises: 0039_availability_versions
Create Date: 2026-12-08 00:10:00.000000

A row trigger on ``callback`` NOTIFYs the channel ``callback_due`` whenever a callback is
inserted or its state or due time changes into a due state (scheduled, retry_wait), due
within a minute of the change (of the row's ``updated_at``, the app's clock, or of the
database's, whichever is later: a few seconds' skew between the hosts changes nothing):
an ASAP booking, a retry, a supervisor's "dial now", whatever writes it. One due later
needs none: a sleeping worker looks at least every 5 seconds (app/worker.py
MAX_SLEEP_SECONDS); and a transaction that NOTIFYs takes a lock that every other
notifying commit waits for, which bookings of later slots are spared. PostgreSQL
delivers the notice at COMMIT (never for a rolled-back change) and sends one per
transaction however many rows fired it. The workers LISTEN (infra/wakeups.py) and sleep
until the next due time they know of or a notice, instead of polling. SQLite: nothing
(the workers poll its data_version).
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0040_callback_due_notify"
down_revision: str | None = "0039_availability_versions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(
        """
        CREATE FUNCTION notify_callback_due() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('callback_due', '');
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE TRIGGER callback_due_notify
        AFTER INSERT OR UPDATE OF state, next_attempt_at ON callback
        FOR EACH ROW WHEN (
            NEW.state IN ('scheduled', 'retry_wait')
            AND NEW.next_attempt_at <= greatest(now(), NEW.updated_at) + interval '1 minute'
        )
        EXECUTE FUNCTION notify_callback_due()
        """
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER callback_due_notify ON callback")
    op.execute("DROP FUNCTION notify_callback_due()")

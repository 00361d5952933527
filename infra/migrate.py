"""Running Alembic from code: ``callbacks init-db`` and the tests use the same path."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from sqlalchemy import Connection, Engine, text

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"
# PostgreSQL advisory lock key held while migrating ("cbmg"): `init-db` started on several
# machines at once (a deploy step on each) migrates once, the others wait and find the
# schema at head. SQLite needs none: its write lock already serialises them.
MIGRATION_LOCK_KEY = 0x63626D67


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


class DatabaseNotSupported(RuntimeError):
    """The database cannot hold this app's data as it is configured."""


def check_encoding(engine: Engine) -> None:
    """PostgreSQL must store UTF-8: under SQL_ASCII (initdb's default without a UTF-8 locale)
    psycopg hands back bytes instead of text, and SQLAlchemy fails on its first connection
    with a TypeError. Asked over a plain psycopg connection, before SQLAlchemy's first one,
    so that the answer is this message naming the way out."""
    if engine.dialect.name != "postgresql":
        return
    # The arguments SQLAlchemy itself would connect with, given to the driver directly.
    args, params = engine.dialect.create_connect_args(engine.url)
    with engine.dialect.loaded_dbapi.connect(*args, **params) as connection:
        row = connection.execute(
            "SELECT pg_encoding_to_char(encoding) FROM pg_database WHERE datname = current_database()"
        ).fetchone()
    value = row[0] if row else None
    encoding = value.decode() if isinstance(value, bytes) else str(value)
    if encoding != "UTF8":
        raise DatabaseNotSupported(
            f"the database's encoding is {encoding}, not UTF8: create it with "
            "CREATE DATABASE … ENCODING 'UTF8' TEMPLATE template0 (or initdb --encoding=UTF8)"
        )


def _take_migration_lock(connection: Connection) -> None:
    """Wait for any other migration of this database; held until the transaction ends."""
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY})


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate to ``revision`` over the app's own engine (so SQLite gets our pragmas)."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    check_encoding(engine)
    with engine.begin() as connection:
        _take_migration_lock(connection)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Migrate down to ``revision`` (``-1``: one step) before going back to an older release."""
    config = alembic_config(engine.url.render_as_string(hide_password=False))
    with engine.begin() as connection:
        _take_migration_lock(connection)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()

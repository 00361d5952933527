"""An online backup of a SQLite database (``callbacks backup PATH``).

SQLite's backup API copies the database inside one read transaction: with the app's WAL
journal, writers go on meanwhile and the copy is the consistent snapshot of the moment it
started. (Copied in steps, a busy database would restart the copy at every write; copied
with cp while the app writes, the file can be torn, and the WAL file left behind.) The
copy is one self-contained file (journal_mode DELETE): restoring it is copying it back.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine


class BackupNotPossible(RuntimeError):
    """Not a SQLite database (PostgreSQL: pg_dump), or the target cannot be written."""


def backup_sqlite(engine: Engine, target: Path) -> int:
    """Write a consistent copy of the engine's SQLite database to ``target`` (replaced if it
    exists). Returns the number of pages copied."""
    if engine.dialect.name != "sqlite" or not engine.url.database or engine.url.database == ":memory:":
        raise BackupNotPossible("callbacks backup copies a SQLite database; for PostgreSQL use pg_dump")
    source_path = Path(engine.url.database).resolve()
    target = target.resolve()
    if target == source_path:
        raise BackupNotPossible("the backup must not overwrite the database itself")
    partial = target.with_name(target.name + ".partial")
    try:
        source = sqlite3.connect(str(source_path), timeout=30)
        try:
            copy = sqlite3.connect(str(partial))
            try:
                source.backup(copy)
                copy.execute("PRAGMA journal_mode = DELETE")
                pages = int(copy.execute("PRAGMA page_count").fetchone()[0])
            finally:
                copy.close()
        finally:
            source.close()
        partial.replace(target)  # a finished copy or none: never a half-written file at PATH
    except (sqlite3.Error, OSError) as exc:
        partial.unlink(missing_ok=True)
        raise BackupNotPossible(f"backup to {target} failed: {exc}") from None
    return pages

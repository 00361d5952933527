"""An online backup of a SQLite database (``callbacks backup PATH``).

SQLite's backup API copies the database page by page while other connections keep
writing: the copy is a consistent snapshot (it restarts when a writer changes a page it
has copied). Copying the file with cp while the app writes can give a torn database.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine

PAGES_PER_STEP = 256  # then let writers in before the next step


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
                source.backup(copy, pages=PAGES_PER_STEP, sleep=0.005)
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

"""No module of ours outside tests and migrations grows past 600 lines (docs/architecture.md):
one that does has more than one job, and is split by job."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LIMIT = 600
OUTSIDE = ("tests", "migrations", ".venv", "node_modules", ".git")


def test_no_module_is_longer_than_the_limit() -> None:
    sizes = {
        path.relative_to(ROOT).as_posix(): len(path.read_text(encoding="utf-8").splitlines())
        for path in ROOT.rglob("*.py")
        if not set(path.relative_to(ROOT).parts) & set(OUTSIDE)
    }
    assert len(sizes) > 100  # the whole tree was read
    assert {path: n for path, n in sizes.items() if n > LIMIT} == {}

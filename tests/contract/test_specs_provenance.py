"""The providers' specifications carried in tests/contract/specs/ are the files its README
names: each one's sha256 matches the table, and each has its licence beside it."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

SPECS = Path(__file__).resolve().parent / "specs"
ROW = re.compile(r"^\| `(?P<file>[^`]+)` \|.*\| `(?P<sha>[0-9a-f]{64})` \| MIT, `(?P<licence>[^`]+)` \|$")


def _rows() -> list[re.Match[str]]:
    lines = (SPECS / "README.md").read_text(encoding="utf-8").splitlines()
    return [m for m in map(ROW.match, lines) if m is not None]


def test_every_spec_file_is_listed_with_the_sha256_it_has() -> None:
    rows = _rows()
    listed = {m["file"] for m in rows}
    carried = {p.name for p in SPECS.iterdir() if p.suffix in (".json", ".yml")}
    assert listed == carried
    for m in rows:
        assert hashlib.sha256((SPECS / m["file"]).read_bytes()).hexdigest() == m["sha"], m["file"]


def test_every_spec_has_its_mit_licence_beside_it() -> None:
    for m in _rows():
        licence = (SPECS / m["licence"]).read_text(encoding="utf-8")
        assert "MIT License" in licence and "Permission is hereby granted" in licence, m["licence"]

"""The dependency lock: every package pip installs is pinned with hashes, the lock agrees
with the pins it was compiled from, and everything the product imports directly is pinned."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("app", "infra", "services", "scheduler", "web_widget", "telephony", "ivr_flows", "sms", "console", "events")
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)(?:\[[^\]]*\])?==([^\s;\\]+)")


def _name(raw: str) -> str:
    return re.sub(r"[-_.]+", "-", raw).lower()


def _pins(path: Path) -> dict[str, str]:
    pins = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line.strip())
        if match:
            pins[_name(match.group(1))] = match.group(2)
    return pins


def _locked(path: Path) -> dict[str, list[str]]:
    """Package -> its hashes, from a pip-compile --generate-hashes file."""
    locked: dict[str, list[str]] = {}
    current = None
    for line in path.read_text(encoding="utf-8").splitlines():
        match = PIN.match(line)
        if match:
            current = _name(match.group(1))
            locked[current] = []
        elif current and line.strip().startswith("--hash=sha256:"):
            locked[current].append(line.strip().split(":", 1)[1].rstrip(" \\"))
        elif line.strip() and not line.startswith((" ", "#")):
            raise AssertionError(f"{path.name}: a line that is not a locked package: {line!r}")
    return locked


def test_every_locked_package_has_a_version_and_hashes() -> None:
    for name in ("requirements.txt", "requirements-dev.txt"):
        locked = _locked(ROOT / name)
        assert len(locked) > 20
        for package, hashes in locked.items():
            assert hashes and all(re.fullmatch(r"[0-9a-f]{64}", h) for h in hashes), (name, package)
        assert "pip" in locked  # pip itself is locked too (--allow-unsafe)


def test_the_locks_hold_the_pinned_versions() -> None:
    runtime = _pins(ROOT / "requirements.txt")
    dev = _pins(ROOT / "requirements-dev.txt")
    for package, version in _pins(ROOT / "requirements.in").items():
        assert runtime.get(package) == version, f"{package}: run make lock"
    for package, version in _pins(ROOT / "requirements-dev.in").items():
        assert dev.get(package) == version, f"{package}: run make lock"
    for package, version in runtime.items():  # the dev lock installs the same runtime
        assert dev.get(package) == version, package


def _imported_top_level_modules() -> set[str]:
    names: set[str] = set()
    files = [p for folder in PRODUCT for p in (ROOT / folder).rglob("*.py")]
    files += [ROOT / "wsgi.py", ROOT / "gunicorn.conf.py"]
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names.add(node.module.split(".")[0])
    return names - set(sys.stdlib_module_names) - set(PRODUCT) - {"__future__"}


def test_everything_the_product_imports_is_pinned_directly() -> None:
    pinned = set(_pins(ROOT / "requirements.in"))
    distributions = packages_distributions()
    missing = {}
    for module in sorted(_imported_top_level_modules()):
        owners = {_name(d) for d in distributions.get(module, [])}
        assert owners, f"{module}: imported but not installed"
        if not owners & pinned:
            missing[module] = owners
    assert missing == {}, f"imported directly but not pinned in requirements.in: {missing}"

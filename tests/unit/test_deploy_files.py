"""The deployment files name real things: every setting they set is one the app reads,
every command they run exists, and the units are valid systemd. deploy/verify/run.sh
(compose.yaml in containers) and deploy/verify/nginx.sh (the nginx recipe, also run by
tests/integration/test_nginx_recipe.py) start them for real."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from app.cli import callbacks_cli
from telephony.registry import PROVIDERS

ROOT = Path(__file__).resolve().parents[2]
UNITS = sorted((ROOT / "deploy" / "systemd").glob("*.service"))
# Read by the entrypoint, gunicorn, the units or the containers themselves, not by the app.
PROCESS_LEVEL = {"WEB_WORKERS", "WEB_THREADS", "WEB_BIND", "PORT", "TZ", "CALLBACKS_HOST"}


def _settings_names() -> set[str]:
    """What infra/settings.py reads, each provider module's own settings, and <PROVIDER>_CPS."""
    sources = [ROOT / "infra" / "settings.py"]
    sources += [ROOT / (module.replace(".", "/") + ".py") for module in PROVIDERS.values()]
    names = {name for path in sources for name in re.findall(r'"([A-Z][A-Z0-9_]{2,})"', path.read_text("utf-8"))}
    names |= {f"{provider.upper()}_CPS" for provider in PROVIDERS}
    return names | {f"{name}_FILE" for name in names}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))


def _unit_environment(text: str) -> set[str]:
    names: set[str] = set()
    for line in re.findall(r"^Environment=(.*)$", text, re.M):
        names |= set(re.findall(r"(?:^|\s)([A-Z][A-Z0-9_]*)=", line))
    return names


def test_compose_runs_every_role_of_one_image_with_replicas_podman_and_docker_both_honour() -> None:
    services = _compose()["services"]
    assert set(services) == {"db", "redis", "migrate", "web", "worker", "proxy"}
    image = services["web"]["image"]
    assert {services[name]["image"] for name in ("migrate", "web", "worker")} == {image}
    assert [services[name]["command"] for name in ("migrate", "web", "worker")] == [["migrate"], ["web"], ["worker"]]
    for name in ("web", "worker"):
        assert services[name]["deploy"]["mode"] == "replicated"
        assert services[name]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # More than one web process counts rate limits in Redis, behind exactly one proxy.
    assert services["web"]["environment"]["RATE_LIMIT_STORAGE_URI"].startswith("redis://redis:")
    assert services["web"]["environment"]["TRUSTED_PROXIES"] == "1"
    assert services["worker"]["environment"]["WORKER_METRICS_HOST"] == "0.0.0.0"


def test_every_setting_the_deploy_files_set_is_one_the_app_reads() -> None:
    known = _settings_names() | PROCESS_LEVEL
    services = _compose()["services"]
    used = {name for service in ("web", "worker", "migrate") for name in services[service]["environment"]}
    example = (ROOT / "deploy" / "systemd" / "callbacks.env.example").read_text(encoding="utf-8")
    used |= set(re.findall(r"^([A-Z][A-Z0-9_]*)=", example, re.M))
    for unit in UNITS:
        used |= _unit_environment(unit.read_text(encoding="utf-8"))
    assert used, "no settings found: the parsing above is broken"
    assert used - known == set()


def test_the_units_and_the_entrypoint_run_commands_the_cli_has() -> None:
    commands = set(callbacks_cli.commands)
    texts = [unit.read_text(encoding="utf-8") for unit in UNITS]
    texts.append((ROOT / "deploy" / "container" / "entrypoint.sh").read_text(encoding="utf-8"))
    used = {name for text in texts for name in re.findall(r"flask --app wsgi callbacks ([a-z-]+)", text)}
    assert {"init-db", "worker"} <= used
    assert used <= commands
    for name in used:
        assert CliRunner().invoke(callbacks_cli, [name, "--help"]).exit_code == 0


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed")
def test_the_systemd_units_are_valid(tmp_path: Path) -> None:
    # Where the units expect the release (/opt/callbacks), this checkout: systemd-analyze
    # also checks that every command exists and is executable.
    if not (ROOT / ".venv" / "bin" / "gunicorn").exists():
        pytest.skip("no .venv in this checkout (make .venv/.installed-dev)")
    for unit in UNITS:
        text = unit.read_text(encoding="utf-8").replace("/opt/callbacks", str(ROOT))
        (tmp_path / unit.name).write_text(text, encoding="utf-8")
    result = subprocess.run(
        ["systemd-analyze", "verify", *sorted(str(p) for p in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "callbacks-" not in result.stderr, result.stderr

"""Settings are parsed strictly: a bad value stops start-up with a clear message."""

from __future__ import annotations

import runpy
from pathlib import Path

import pytest

from infra.settings import SettingsError, load_settings, parse_bool


def test_defaults_need_no_environment(tmp_path: Path) -> None:
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings.database_url == f"sqlite:///{tmp_path / 'callbacks.db'}"
    assert settings.telephony_provider == "simulator"
    assert settings.is_sqlite
    assert settings.booking_link_days == 7
    assert load_settings({"INSTANCE_PATH": str(tmp_path), "BOOKING_LINK_DAYS": "14"}).booking_link_days == 14


def test_the_instance_secret_is_made_once_and_shared(tmp_path: Path) -> None:
    first = load_settings({"INSTANCE_PATH": str(tmp_path)}).secret_key
    second = load_settings({"INSTANCE_PATH": str(tmp_path)}).secret_key
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_a_secret_may_come_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("s3cret\n")
    settings = load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY_FILE": str(tmp_path / "key")})
    assert settings.secret_key == "s3cret"
    with pytest.raises(SettingsError, match="not both"):
        load_settings({"SECRET_KEY": "a", "SECRET_KEY_FILE": str(tmp_path / "key")})


def test_postgres_urls_get_the_psycopg_driver(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
    assert load_settings({**env, "DATABASE_URL": "postgres://u@h/db"}).database_url == "postgresql+psycopg://u@h/db"
    with pytest.raises(SettingsError, match="DATABASE_URL"):
        load_settings({**env, "DATABASE_URL": "mysql://u@h/db"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("PUBLIC_BASE_URL", "example.com"),
        ("MAX_BODY_BYTES", "lots"),
        ("MAX_BODY_BYTES", "10"),
        ("WIDGET_ALLOWED_ORIGINS", "example.com"),
        ("LOG_LEVEL", "LOUD"),
        ("API_RATE_LIMIT", "lots"),
        ("TRUSTED_PROXIES", "-1"),
        ("BOOKING_LINK_DAYS", "0"),
        ("BOOKING_LINK_DAYS", "a week"),
        ("RATE_LIMIT_STORAGE_URI", "memcached://127.0.0.1:11211"),
        ("RATE_LIMIT_STORAGE_URI", "127.0.0.1:6379"),
        ("ALLOW_PER_PROCESS_RATE_LIMITS", "sometimes"),
        ("WORKER_METRICS_PORT", "0"),
        ("WORKER_METRICS_PORT", "metrics"),
    ],
)
def test_malformed_values_are_refused(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_settings({"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x", name: value})


def test_booleans_are_strict() -> None:
    assert parse_bool("X", "yes") is True
    assert parse_bool("X", "0") is False
    with pytest.raises(SettingsError):
        parse_bool("X", "maybe")


def test_operations_settings_are_parsed_strictly(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
    defaults = load_settings(env)
    assert defaults.worker_heartbeat_max_age_seconds == 30
    assert defaults.prometheus_multiproc_dir is None and defaults.metrics_bearer_token is None
    assert load_settings({**env, "WORKER_HEARTBEAT_MAX_AGE_SECONDS": "90"}).worker_heartbeat_max_age_seconds == 90
    for bad in ("5", "soon", "100000"):  # a heartbeat comes every 5 s: less than 10 would flap
        with pytest.raises(SettingsError, match="WORKER_HEARTBEAT_MAX_AGE_SECONDS"):
            load_settings({**env, "WORKER_HEARTBEAT_MAX_AGE_SECONDS": bad})
    folder = tmp_path / "prometheus"
    with pytest.raises(SettingsError, match="PROMETHEUS_MULTIPROC_DIR"):
        load_settings({**env, "PROMETHEUS_MULTIPROC_DIR": str(folder)})  # not made yet
    folder.mkdir()
    assert load_settings({**env, "PROMETHEUS_MULTIPROC_DIR": str(folder)}).prometheus_multiproc_dir == folder
    (tmp_path / "token").write_text("t0ken\n")
    token_file = {**env, "METRICS_BEARER_TOKEN_FILE": str(tmp_path / "token")}
    assert load_settings(token_file).metrics_bearer_token == "t0ken"


def test_retention_days_default_to_90_and_are_parsed_strictly(tmp_path: Path) -> None:
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}).retention_days == 90
    assert load_settings({"INSTANCE_PATH": str(tmp_path), "RETENTION_DAYS": "30"}).retention_days == 30
    for bad in ("0", "90 days", "4000"):
        with pytest.raises(SettingsError, match="RETENTION_DAYS"):
            load_settings({"INSTANCE_PATH": str(tmp_path), "RETENTION_DAYS": bad})


def test_scale_out_settings(tmp_path: Path) -> None:
    env = {"INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x"}
    defaults = load_settings(env)
    assert defaults.rate_limit_storage_uri == "memory://" and not defaults.rate_limits_shared
    assert defaults.worker_metrics_port is None and defaults.worker_metrics_host == "127.0.0.1"
    shared = load_settings({**env, "RATE_LIMIT_STORAGE_URI": "redis://redis:6379/0"})
    assert shared.rate_limits_shared
    worker = load_settings({**env, "WORKER_METRICS_PORT": "9100", "WORKER_METRICS_HOST": "0.0.0.0"})
    assert (worker.worker_metrics_host, worker.worker_metrics_port) == ("0.0.0.0", 9100)
    assert load_settings({**env, "ALLOW_PER_PROCESS_RATE_LIMITS": "yes"}).allow_per_process_rate_limits


def test_demo_mode_is_explicit_and_refused_on_https_unless_forced(tmp_path: Path) -> None:
    base = {"INSTANCE_PATH": str(tmp_path)}
    assert not load_settings(base).demo_mode  # the simulator provider alone opens no demo page
    assert load_settings({**base, "DEMO_MODE": "true"}).demo_mode
    https = {**base, "PUBLIC_BASE_URL": "https://callbacks.example.com", "METRICS_BEARER_TOKEN": "t"}
    with pytest.raises(SettingsError, match=r"DEMO_MODE.*https"):
        load_settings({**https, "DEMO_MODE": "true"})
    assert load_settings({**https, "DEMO_MODE": "true", "ALLOW_DEMO_MODE_ON_HTTPS": "true"}).demo_mode
    twilio = {**base, "TELEPHONY_PROVIDER": "twilio", "TWILIO_ACCOUNT_SID": "AC" + "a" * 32, "TWILIO_AUTH_TOKEN": "x"}
    assert not load_settings(twilio).demo_mode
    with pytest.raises(SettingsError, match="TELEPHONY_PROVIDER=simulator"):
        load_settings({**twilio, "DEMO_MODE": "true"})


def test_metrics_need_a_token_on_https_unless_opened_on_purpose(tmp_path: Path) -> None:
    https = {"INSTANCE_PATH": str(tmp_path), "PUBLIC_BASE_URL": "https://callbacks.example.com"}
    with pytest.raises(SettingsError, match="METRICS_BEARER_TOKEN"):
        load_settings(https)
    assert load_settings({**https, "METRICS_BEARER_TOKEN": "scrape-me"}).metrics_bearer_token == "scrape-me"
    (tmp_path / "token").write_text("from-a-file\n")
    from_file = load_settings({**https, "METRICS_BEARER_TOKEN_FILE": str(tmp_path / "token")})
    assert from_file.metrics_bearer_token == "from-a-file"
    assert load_settings({**https, "METRICS_PUBLIC": "true"}).metrics_public
    assert load_settings({"INSTANCE_PATH": str(tmp_path)}).metrics_bearer_token is None  # http: a developer's machine


def test_the_sqlite_lock_wait_ends_before_gunicorn_kills_the_request(tmp_path: Path) -> None:
    """A request waiting for SQLite's write lock must give up (503 database_unavailable)
    before gunicorn's worker timeout kills it without an answer."""
    config = runpy.run_path(str(Path(__file__).resolve().parents[2] / "gunicorn.conf.py"))
    settings = load_settings({"INSTANCE_PATH": str(tmp_path)})
    assert settings.sqlite_busy_timeout_ms < config["timeout"] * 1000 / 2

"""Settings: one typed object built once from the environment, strictly parsed.

Nothing else in the project reads ``os.environ``. A value that does not parse is an
error at start-up, not a surprise at 3 a.m. Any secret may also be given as
``NAME_FILE`` (a path whose contents are the value), as container secrets are.
"""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from limits import parse_many

LOG_FORMATS = ("text", "json")
PROJECT_ROOT = Path(__file__).resolve().parent.parent


class SettingsError(ValueError):
    """A setting is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    database_url: str
    secret_key: str
    telephony_provider: str = "simulator"
    public_base_url: str = "http://127.0.0.1:5000"
    # The demo's own pages: the phone simulator (/simulator) and the stand-in CRM
    # (/simulator/crm), open to loopback and signed-in console users only. make run turns it
    # on; it is refused on an https PUBLIC_BASE_URL unless ALLOW_DEMO_MODE_ON_HTTPS is set.
    demo_mode: bool = False
    widget_allowed_origins: tuple[str, ...] = ()
    max_body_bytes: int = 64 * 1024
    db_pool_size: int = 10
    # Below gunicorn's timeout (30 s): a request waiting for the lock answers 503 before it is killed.
    sqlite_busy_timeout_ms: int = 10_000
    log_level: str = "INFO"
    log_format: str = "text"  # text: readable lines; json: one JSON object a line (infra/logs.py)
    # How long a worker takes, after SIGTERM, to finish its dials and stop before it exits anyway.
    worker_shutdown_seconds: int = 20
    instance_path: Path = field(default_factory=lambda: PROJECT_ROOT / "instance")
    caller_id: str = "+441632960000"  # the default number callbacks and texts come from
    company_name: str = "our team"  # what the callback greeting calls us
    # A provider's pace, from <NAME>_CPS (SIMULATOR_CPS, TWILIO_CPS…): calls per second
    # across every worker. A provider not named here goes at its adapter's own pace.
    calls_per_second: dict[str, float] = field(default_factory=dict)
    dial_lease_seconds: int = 60
    dial_concurrency: int = 8  # provider API requests a worker keeps in flight at once
    booking_link_days: int = 7  # how long a texted booking or reschedule link works
    # Days after which a finished callback's personal data is anonymised (a queue may say
    # otherwise: retention_days in its document); texts with no callback age the same way.
    retention_days: int = 90
    # The public API's limit per client IP (Flask-Limiter notation), and where the counts
    # live: memory:// counts in one web process (make run: one process with threads); a
    # shared store (redis://…) counts across every process and machine. With memory://,
    # gunicorn refuses more than one worker process unless per-process counts are allowed
    # explicitly (check_web_processes).
    api_rate_limit: str = "5/second"
    rate_limit_storage_uri: str = "memory://"
    allow_per_process_rate_limits: bool = False
    # How many reverse proxies in front of the app set X-Forwarded-For, -Proto and -Host
    # (0: trust none, and take the client's address and the scheme from the connection).
    trusted_proxies: int = 0
    # CRM event deliveries (events/): attempts in all, the wait between them, the receiver's
    # time to answer, POSTs in flight per subscription and in all, how long the log is kept.
    event_max_attempts: int = 4
    event_retry_seconds: int = 300
    event_timeout_seconds: float = 10.0
    event_concurrency: int = 4
    event_sender_threads: int = 16
    event_retention_days: int = 30
    # Hosts and networks events may go to besides public addresses (on-network CRMs, the
    # demo's stand-in CRM on loopback): names, addresses and CIDR networks (events/address_rules.py).
    event_targets_allowed: tuple[str, ...] = ()
    # /readyz: the newest worker heartbeat must be younger than this (docs/operations.md).
    worker_heartbeat_max_age_seconds: int = 30
    # Live agent figures (PUT /api/v1/queues/{key}/agents) older than this count as unknown:
    # the queue's static staffing is used instead.
    agent_figures_max_age_seconds: int = 120
    # How often the worker reads the live agent figures of queues naming a Twilio TaskRouter
    # task queue (services/taskrouter_figures.py): once per cluster per period.
    taskrouter_poll_seconds: int = 15
    # Where every process (gunicorn's and the worker) keeps its Prometheus samples, so that
    # /metrics on any web process adds them all up. None: each process counts on its own.
    prometheus_multiproc_dir: Path | None = None
    # When set, /metrics answers only requests carrying "Authorization: Bearer <token>".
    metrics_bearer_token: str | None = None
    # /metrics without a token on an https PUBLIC_BASE_URL, on purpose (METRICS_PUBLIC).
    metrics_public: bool = False
    # A worker serves its own /metrics on this port (None: it does not), for machines that
    # run workers and no web process (docs/operations.md, "Scraping N web and M workers").
    worker_metrics_port: int | None = None
    worker_metrics_host: str = "127.0.0.1"
    # The environment these were read from: each provider module reads its own settings
    # (credentials, quirks) from it (telephony/provider_setup.py). Never shown.
    environment: Mapping[str, str] = field(default_factory=dict, repr=False, compare=False)

    @property
    def rate_limits_shared(self) -> bool:
        """The rate limits' counts live in a store every process shares."""
        return not self.rate_limit_storage_uri.startswith("memory://")

    @property
    def agent_figures_max_age(self) -> timedelta:
        return timedelta(seconds=self.agent_figures_max_age_seconds)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def with_overrides(self, **changes: Any) -> Settings:
        return replace(self, **changes)


# The stores whose client library we ship (redis, pinned): memory:// counts in one process.
RATE_LIMIT_STORES = ("memory://", "redis://", "rediss://", "redis+unix://")


def check_web_processes(settings: Settings, processes: int) -> None:
    """Refuse N > 1 web processes that would each count the rate limits on their own (an
    address would get N times API_RATE_LIMIT), unless that was allowed on purpose."""
    if processes > 1 and not settings.rate_limits_shared and not settings.allow_per_process_rate_limits:
        raise SettingsError(
            f"{processes} web processes with RATE_LIMIT_STORAGE_URI=memory:// would each count the rate "
            "limits on their own: set RATE_LIMIT_STORAGE_URI=redis://… (a store they share, "
            "docs/deployment.md), run one process (with threads), or set ALLOW_PER_PROCESS_RATE_LIMITS=true"
        )


def parse_bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in ("1", "true", "yes", "on"):
        return True
    if value in ("0", "false", "no", "off"):
        return False
    raise SettingsError(f"{name}={raw!r} is not a boolean (use true/false, 1/0, yes/no, on/off)")


def parse_int(name: str, raw: str, minimum: int, maximum: int) -> int:
    try:
        value = int(raw.strip(), 10)
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a whole number") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={value} is outside {minimum}..{maximum}")
    return value


def parse_float(name: str, raw: str, minimum: float, maximum: float) -> float:
    try:
        value = float(raw.strip())
    except ValueError:
        raise SettingsError(f"{name}={raw!r} is not a number") from None
    if not minimum <= value <= maximum:
        raise SettingsError(f"{name}={value} is outside {minimum}..{maximum}")
    return value


PACE_SETTING = re.compile(r"^[A-Z][A-Z0-9]*_CPS$")  # <PROVIDER>_CPS
TARGET_NAME = re.compile(r"^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?)*$")


def _parse_event_targets(raw: str) -> tuple[str, ...]:
    """EVENT_TARGETS_ALLOWED: comma-separated host names, addresses and CIDR networks."""
    entries = tuple(e.strip().lower().strip("[]").rstrip(".") for e in raw.split(",") if e.strip())
    for entry in entries:
        try:
            if "/" in entry:
                ipaddress.ip_network(entry)  # strict: 10.1.2.3/24 (host bits set) is a typo
            elif not TARGET_NAME.match(entry) or entry.replace(".", "").isdigit():
                ipaddress.ip_address(entry)  # 999.1.1.1 is a typo, not a host name
        except ValueError as exc:
            raise SettingsError(
                f"EVENT_TARGETS_ALLOWED entry {entry!r} is not a host name, an address or a network "
                f"such as 10.1.2.0/24 ({exc})"
            ) from None
    return entries


def read_setting(env: Mapping[str, str], name: str) -> str | None:
    """The value of NAME, or the contents of the file named by NAME_FILE."""
    if name in env and f"{name}_FILE" in env:
        raise SettingsError(f"set {name} or {name}_FILE, not both")
    if name in env:
        return env[name]
    path = env.get(f"{name}_FILE")
    if path is None:
        return None
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"{name}_FILE={path!r} cannot be read: {exc.strerror}") from None


def _instance_secret(instance_path: Path) -> str:
    """A per-installation secret kept in instance/secret_key, made on first use.

    Web and worker processes must share one key (signed links made by one are
    checked by the other), so a random per-process key would not do.
    """
    path = instance_path / "secret_key"
    try:
        return path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        pass
    instance_path.mkdir(parents=True, exist_ok=True)
    key = secrets.token_urlsafe(48)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process made it first: use theirs
        return path.read_text(encoding="utf-8").strip()
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(key)
    return key


def _normalise_database_url(url: str) -> str:
    # psycopg 3 is the driver we ship; accept the URLs people paste from their hosts.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    if not (url.startswith("sqlite") or url.startswith("postgresql+psycopg://")):
        raise SettingsError(f"DATABASE_URL must be sqlite:/// or postgresql://, got {url.split(':')[0]}:")
    return url


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if env is None else env
    instance_path = Path(env.get("INSTANCE_PATH", str(PROJECT_ROOT / "instance")))

    database_url = read_setting(env, "DATABASE_URL") or f"sqlite:///{instance_path / 'callbacks.db'}"
    provider = env.get("TELEPHONY_PROVIDER", "simulator").strip().lower()  # checked by telephony/registry.py

    public_base_url = env.get("PUBLIC_BASE_URL", "http://127.0.0.1:5000").strip().rstrip("/")
    if not public_base_url.startswith(("http://", "https://")):
        raise SettingsError("PUBLIC_BASE_URL must start with http:// or https://")

    demo_mode = parse_bool("DEMO_MODE", env.get("DEMO_MODE", "false"))
    if (
        demo_mode
        and public_base_url.startswith("https://")
        and not parse_bool("ALLOW_DEMO_MODE_ON_HTTPS", env.get("ALLOW_DEMO_MODE_ON_HTTPS", "false"))
    ):
        raise SettingsError(
            "DEMO_MODE=true opens the phone simulator, which acts on real callbacks, and PUBLIC_BASE_URL is "
            "https (a real deployment): unset DEMO_MODE, or set ALLOW_DEMO_MODE_ON_HTTPS=true for a public demo"
        )

    origins = tuple(o.strip().rstrip("/") for o in env.get("WIDGET_ALLOWED_ORIGINS", "").split(",") if o.strip())
    for origin in origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            raise SettingsError(f"WIDGET_ALLOWED_ORIGINS entry {origin!r} must be an origin like https://example.com")

    log_level = env.get("LOG_LEVEL", "INFO").strip().upper()
    if log_level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise SettingsError(f"LOG_LEVEL={log_level!r} must be DEBUG, INFO, WARNING or ERROR")

    log_format = env.get("LOG_FORMAT", "text").strip().lower()
    if log_format not in LOG_FORMATS:
        raise SettingsError(f"LOG_FORMAT={log_format!r} must be text or json")

    caller_id = env.get("CALLER_ID", "+441632960000").strip()
    if not caller_id.startswith("+") or not caller_id[1:].isdigit():
        raise SettingsError(f"CALLER_ID={caller_id!r} must be an E.164 number such as +441632960000")
    cps = {
        name[: -len("_CPS")].lower(): parse_float(name, value, 0.1, 1000)
        for name, value in env.items()
        if PACE_SETTING.match(name)
    }
    api_rate_limit = env.get("API_RATE_LIMIT", "5/second").strip()
    try:
        parse_many(api_rate_limit)
    except ValueError:
        raise SettingsError(
            f"API_RATE_LIMIT={api_rate_limit!r} must be a limit such as 5/second or 100/minute"
        ) from None
    storage = env.get("RATE_LIMIT_STORAGE_URI", "memory://").strip()
    if not storage.startswith(RATE_LIMIT_STORES):
        raise SettingsError(
            f"RATE_LIMIT_STORAGE_URI={storage.split('://')[0]}://… must be memory:// or redis:// (rediss://, redis+unix://)"
        )
    metrics_port_raw = env.get("WORKER_METRICS_PORT", "").strip()
    multiproc = env.get("PROMETHEUS_MULTIPROC_DIR", "").strip()
    if multiproc and not Path(multiproc).is_dir():
        raise SettingsError(f"PROMETHEUS_MULTIPROC_DIR={multiproc!r} is not a directory (create it, empty, at start)")
    settings = Settings(
        database_url=_normalise_database_url(database_url.strip()),
        secret_key=read_setting(env, "SECRET_KEY") or _instance_secret(instance_path),
        telephony_provider=provider,
        public_base_url=public_base_url,
        demo_mode=demo_mode,
        widget_allowed_origins=origins,
        max_body_bytes=parse_int("MAX_BODY_BYTES", env.get("MAX_BODY_BYTES", "65536"), 1024, 10 * 1024 * 1024),
        db_pool_size=parse_int("DB_POOL_SIZE", env.get("DB_POOL_SIZE", "10"), 1, 200),
        sqlite_busy_timeout_ms=parse_int(
            "SQLITE_BUSY_TIMEOUT_MS", env.get("SQLITE_BUSY_TIMEOUT_MS", "10000"), 0, 600_000
        ),
        log_level=log_level,
        log_format=log_format,
        worker_shutdown_seconds=parse_int("WORKER_SHUTDOWN_SECONDS", env.get("WORKER_SHUTDOWN_SECONDS", "20"), 1, 3600),
        instance_path=instance_path,
        caller_id=caller_id,
        company_name=env.get("COMPANY_NAME", "our team").strip() or "our team",
        calls_per_second=cps,
        dial_lease_seconds=parse_int("DIAL_LEASE_SECONDS", env.get("DIAL_LEASE_SECONDS", "60"), 2, 3600),
        dial_concurrency=parse_int("DIAL_CONCURRENCY", env.get("DIAL_CONCURRENCY", "8"), 1, 64),
        api_rate_limit=api_rate_limit,
        rate_limit_storage_uri=storage,
        allow_per_process_rate_limits=parse_bool(
            "ALLOW_PER_PROCESS_RATE_LIMITS", env.get("ALLOW_PER_PROCESS_RATE_LIMITS", "false")
        ),
        trusted_proxies=parse_int("TRUSTED_PROXIES", env.get("TRUSTED_PROXIES", "0"), 0, 10),
        booking_link_days=parse_int("BOOKING_LINK_DAYS", env.get("BOOKING_LINK_DAYS", "7"), 1, 90),
        event_max_attempts=parse_int("EVENT_MAX_ATTEMPTS", env.get("EVENT_MAX_ATTEMPTS", "4"), 1, 50),
        event_retry_seconds=parse_int("EVENT_RETRY_SECONDS", env.get("EVENT_RETRY_SECONDS", "300"), 1, 86_400),
        event_timeout_seconds=parse_float("EVENT_TIMEOUT_SECONDS", env.get("EVENT_TIMEOUT_SECONDS", "10"), 0.1, 120),
        event_concurrency=parse_int("EVENT_CONCURRENCY", env.get("EVENT_CONCURRENCY", "4"), 1, 64),
        event_sender_threads=parse_int("EVENT_SENDER_THREADS", env.get("EVENT_SENDER_THREADS", "16"), 1, 256),
        event_retention_days=parse_int("EVENT_RETENTION_DAYS", env.get("EVENT_RETENTION_DAYS", "30"), 1, 3650),
        event_targets_allowed=_parse_event_targets(env.get("EVENT_TARGETS_ALLOWED", "")),
        worker_heartbeat_max_age_seconds=parse_int(
            "WORKER_HEARTBEAT_MAX_AGE_SECONDS", env.get("WORKER_HEARTBEAT_MAX_AGE_SECONDS", "30"), 10, 3600
        ),
        agent_figures_max_age_seconds=parse_int(
            "AGENT_FIGURES_MAX_AGE_SECONDS", env.get("AGENT_FIGURES_MAX_AGE_SECONDS", "120"), 10, 86_400
        ),
        taskrouter_poll_seconds=parse_int("TASKROUTER_POLL_SECONDS", env.get("TASKROUTER_POLL_SECONDS", "15"), 5, 3600),
        prometheus_multiproc_dir=Path(multiproc) if multiproc else None,
        metrics_bearer_token=read_setting(env, "METRICS_BEARER_TOKEN") or None,
        metrics_public=parse_bool("METRICS_PUBLIC", env.get("METRICS_PUBLIC", "false")),
        worker_metrics_port=parse_int("WORKER_METRICS_PORT", metrics_port_raw, 1, 65535) if metrics_port_raw else None,
        worker_metrics_host=env.get("WORKER_METRICS_HOST", "127.0.0.1").strip() or "127.0.0.1",
        retention_days=parse_int("RETENTION_DAYS", env.get("RETENTION_DAYS", "90"), 1, 3650),
        environment=dict(env),
    )
    if settings.public_base_url.startswith("https://") and not (
        settings.metrics_bearer_token or settings.metrics_public
    ):
        raise SettingsError(
            "PUBLIC_BASE_URL is https and /metrics would answer anyone: set METRICS_BEARER_TOKEN (or "
            "METRICS_BEARER_TOKEN_FILE), or METRICS_PUBLIC=true when only your network reaches it"
        )
    if settings.demo_mode and settings.telephony_provider != "simulator":
        raise SettingsError(
            "DEMO_MODE=true runs on the phone simulator: set TELEPHONY_PROVIDER=simulator or unset DEMO_MODE"
        )
    return settings

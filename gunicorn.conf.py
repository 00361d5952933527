"""gunicorn's settings for ``gunicorn wsgi:app`` (read from the working directory).

Logging: gunicorn's access log is off; the app writes one structured, masked line per
request itself (``app.access``, infra/logs.py). gunicorn's own lines (workers booting,
signals, timeouts) go through the app's handler too, so that every line of a web process
has one format (LOG_FORMAT) and phone numbers are masked in all of them.

Shutdown: on SIGTERM gunicorn stops accepting connections and gives the requests in
flight ``graceful_timeout`` seconds to finish before it kills its workers (docs/operations.md).
Flags given on the command line or in GUNICORN_CMD_ARGS override what is set here.
"""

from __future__ import annotations

import sys
from typing import Any

from dotenv import load_dotenv
from gunicorn.glogging import Logger

load_dotenv()  # as wsgi.py does: a .env file in development

# Requests in flight get this long after SIGTERM; keep it below the supervisor's own
# grace period (Kubernetes: terminationGracePeriodSeconds, 30 s by default).
graceful_timeout = 20
# A request still running after this long gets its worker killed (and replaced).
timeout = 30
accesslog = None
# Above the app's own URL limit (app/security_headers.py MAX_URL_BYTES = 4096), so that a
# long URL gets the app's JSON 414 rather than gunicorn's plain-text 400.
limit_request_line = 8190


class AppLogger(Logger):
    """gunicorn's error log, written through the app's logging set-up (infra/logs.py)."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        from infra.logs import configure
        from infra.settings import load_settings

        configure(load_settings())
        self.error_log.handlers = []
        self.error_log.propagate = True
        self.access_log.handlers = []
        self.access_log.propagate = False


logger_class = AppLogger


def post_worker_init(worker: Any) -> None:
    """On SIGTERM, end the wallboard's open event streams at once (their browsers reconnect
    to a process still serving) before gunicorn's own handler lets the requests finish:
    otherwise every open wallboard would hold the shutdown for ``graceful_timeout``."""
    import signal
    import threading

    from services.wallboard_feed import stop_all

    previous = signal.getsignal(signal.SIGTERM)

    def stop(signum: int, frame: Any) -> None:
        threading.Thread(target=stop_all, name="wallboard-stop", daemon=True).start()  # no lock in a handler
        if callable(previous):
            previous(signum, frame)

    signal.signal(signal.SIGTERM, stop)


def on_starting(server: Any) -> None:
    """Refuse several worker processes that would each keep their own rate-limit counts
    (RATE_LIMIT_STORAGE_URI=memory://): an address would get N times the limit."""
    from infra.settings import SettingsError, check_web_processes, load_settings

    try:
        check_web_processes(load_settings(), server.cfg.workers)
    except SettingsError as error:
        server.log.error("refusing to start: %s", error)
        sys.exit(1)

"""A worker's own /metrics (WORKER_METRICS_PORT), for machines that run workers and no web
process: the dialer's, the texts' and the CRM sender's counters live in the worker, and
with no web process beside it sharing PROMETHEUS_MULTIPROC_DIR nothing else can show them.

It serves the counters only, not the figures read from the database (callbacks by state,
due and undialed): those are the whole cluster's, scraped from the web processes, and
serving them from every worker too would count them M times in a sum. It takes the same
bearer token as the web's /metrics (METRICS_BEARER_TOKEN). A thread of the worker serves
it, so a worker that is alive answers; it stops with the worker.

``/healthz`` beside it is the worker's liveness for a container healthcheck or a
supervisor (no token: it says nothing but ok): 200 while the worker's heartbeat was
written within WORKER_HEARTBEAT_MAX_AGE_SECONDS (its scheduler runs and the database
answers), 503 otherwise.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import make_wsgi_app

from infra.clock import Clock
from infra.db import Database
from infra.metrics import UNAUTHORIZED, build_registry, token_accepted
from infra.settings import Settings

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class _ThreadingServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True  # a slow scraper never holds the worker's exit


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        """Scrapes are not logged: one every 15 s per scraper would drown the worker's log."""


def metrics_wsgi_app(settings: Settings, db: Database, clock: Clock, alive: Callable[[], bool]) -> WsgiApp:
    inner = make_wsgi_app(build_registry(settings, db, clock, database_gauges=False))

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == "/healthz":
            ok = alive()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [json.dumps({"status": "ok" if ok else "no recent heartbeat"}).encode()]
        if path != "/metrics":
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"the worker serves /metrics and /healthz only\n"]
        if not token_accepted(settings, environ.get("HTTP_AUTHORIZATION")):
            start_response("401 Unauthorized", [("Content-Type", "application/json")])
            return [json.dumps(UNAUTHORIZED).encode()]
        return inner(environ, start_response)  # type: ignore[no-any-return]

    return app


class WorkerMetricsServer:
    """Serves ``metrics_wsgi_app`` on WORKER_METRICS_HOST:WORKER_METRICS_PORT in a thread."""

    def __init__(self, settings: Settings, db: Database, clock: Clock, alive: Callable[[], bool]) -> None:
        assert settings.worker_metrics_port is not None
        self._server = make_server(
            settings.worker_metrics_host,
            settings.worker_metrics_port,
            metrics_wsgi_app(settings, db, clock, alive),
            server_class=_ThreadingServer,
            handler_class=_QuietHandler,
        )
        self._thread = threading.Thread(target=self._server.serve_forever, name="worker-metrics", daemon=True)

    @property
    def address(self) -> tuple[str, int]:
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    def start(self) -> None:
        self._thread.start()
        log.info("worker metrics at http://%s:%d/metrics", *self.address)

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

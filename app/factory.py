"""The application factory: every blueprint, registered on one app. No app object is built
at import time (see wsgi.py)."""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from app.cli import callbacks_cli
from app.errors import register_error_handlers
from app.health import health
from app.metrics_page import metrics
from app.protection import init_protection
from app.security_headers import init_security_headers
from app.simulator_page import simulator
from app.voice_webhooks import webhooks
from console.demo_access import guard
from console.pages import console, csrf
from console.sessions import ConsoleSessions
from events.api import events_api
from events.demo_receiver import demo_crm
from infra import logs
from infra.clock import Clock, SystemClock
from infra.db import Database
from infra.settings import Settings, load_settings
from services.availability_cache import SlotLists
from sms.webhooks import sms_webhooks
from telephony.registry import Providers
from web_widget.api import api
from web_widget.booking_page import booking_page
from web_widget.cors import init_cors
from web_widget.pages import widget_pages
from web_widget.short_links import short_links


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
        # The console's session cookie: not readable by scripts, not sent on cross-site
        # requests, only over HTTPS when the service is served over HTTPS.
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.public_base_url.startswith("https://"),
        PERMANENT_SESSION_LIFETIME=timedelta(hours=12),
        # CSRF tokens are checked by the console on its own POSTs (console/blueprint.py), not
        # app-wide: the JSON API and the providers' webhooks carry none.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=8 * 3600,
    )
    app.session_interface = ConsoleSessions()  # wallboards' sessions are long-lived
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep fields in the documented order
    if settings.trusted_proxies:
        # Behind that many reverse proxies: the client's address, the scheme and the host as
        # the proxies saw them (X-Forwarded-For, -Proto, -Host; docs/deployment.md). Not
        # X-Forwarded-Port or -Prefix: the recipes do not set them, so a client could.
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    logs.configure(settings)
    logs.init_request_logging(app)
    init_security_headers(app)

    db = Database(settings)
    app.extensions["settings"] = settings
    app.extensions["db"] = db
    app.extensions["clock"] = clock or SystemClock()
    app.extensions["slot_lists"] = SlotLists()  # this process's slot lists (services/availability_cache.py)

    app.extensions["providers"] = Providers(settings, db, app.extensions["clock"])
    app.register_blueprint(health)
    app.register_blueprint(metrics)
    app.register_blueprint(api)
    app.register_blueprint(events_api)
    app.register_blueprint(widget_pages)
    app.register_blueprint(short_links)
    app.register_blueprint(booking_page)
    app.register_blueprint(console)
    init_cors(app)
    csrf.init_app(app)
    # Console sign-ins are throttled per email and per address in the database
    # (services/login_throttle.py), shared by every process: no Flask-Limiter limit there.
    init_protection(app, settings, api, events_api, booking_page)
    app.register_blueprint(webhooks)
    app.register_blueprint(sms_webhooks)
    if settings.demo_mode:  # the demo's own pages, for this machine and console users only
        app.register_blueprint(simulator)
        app.register_blueprint(demo_crm)
        guard(app, (simulator, demo_crm))
    register_error_handlers(app)
    app.cli.add_command(callbacks_cli)

    @app.get("/")
    def index() -> dict[str, object]:
        links: dict[str, object] = {"service": "callback scheduler", "api": "/api/v1/openapi.json"}
        if settings.demo_mode:
            links.update(demo_slots="/api/v1/queues/support/slots", simulator="/simulator", widget_demo="/widget-demo")
        return links

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app

"""The application factory. No app object is built at import time (see wsgi.py)."""

from __future__ import annotations

import logging

from flask import Flask

from app.clock import Clock, SystemClock
from app.db import Database
from app.settings import Settings, load_settings


def create_app(settings: Settings | None = None, clock: Clock | None = None) -> Flask:
    settings = settings or load_settings()
    app = Flask(__name__, instance_path=str(settings.instance_path), instance_relative_config=True)
    app.config.update(
        SECRET_KEY=settings.secret_key,
        MAX_CONTENT_LENGTH=settings.max_body_bytes,
    )
    app.json.sort_keys = False  # type: ignore[attr-defined]  # keep fields in the documented order
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic.runtime.plugins").setLevel(logging.WARNING)

    db = Database(settings)
    app.extensions["settings"] = settings
    app.extensions["db"] = db
    app.extensions["clock"] = clock or SystemClock()

    from app.cli import callbacks_cli
    from app.providers import Providers
    from sms.webhooks import sms_webhooks
    from telephony.webhooks import webhooks
    from web_widget.api import api
    from web_widget.cors import init_cors
    from web_widget.errors import register_error_handlers
    from web_widget.pages import widget_pages

    app.extensions["providers"] = Providers(settings, db, app.extensions["clock"])
    app.register_blueprint(api)
    app.register_blueprint(widget_pages)
    init_cors(app)
    app.register_blueprint(webhooks)
    app.register_blueprint(sms_webhooks)
    if settings.telephony_provider == "simulator":
        from telephony.simulator_page import simulator

        app.register_blueprint(simulator)
    register_error_handlers(app)
    app.cli.add_command(callbacks_cli)

    @app.get("/")
    def index() -> dict[str, object]:
        return {
            "service": "callback scheduler",
            "api": "/api/v1/openapi.json",
            "demo_slots": "/api/v1/queues/support/slots",
            "simulator": "/simulator",
            "widget_demo": "/widget-demo",
        }

    @app.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    return app
